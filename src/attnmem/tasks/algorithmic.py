"""Algorithmic tasks for memory-augmented networks: every generator is deterministic under a seed.

The four tasks of Graves, Wayne & Danihelka (2014), "Neural Turing Machines", Section 4:

- ``copy``               read a sequence of random bit vectors, then write it back after a delimiter (4.1);
- ``repeat_copy``        read a sequence and a repeat count, write it that many times, then an end marker (4.2);
- ``associative_recall`` read items of three vectors each, then a query item; answer with the item after it (4.3);
- ``priority_sort``      read vectors with scalar priorities; write the highest-priority ones in order (4.5).

Every generator returns an ``AlgorithmicBatch`` (batch first): ``inputs`` (B, T, in_width), ``targets``
(B, T, out_width), ``mask`` (B, T) marking the steps whose output is scored, and ``lengths`` (B,) the task's
length parameter per sequence. Sequences of different lengths in one batch are padded at the end with zeros and
masked out. A model returns logits (B, T, out_width); ``sequence_loss`` is the masked binary cross-entropy and
``bit_errors`` counts wrong bits per sequence after thresholding at probability 0.5 (the paper's metric).

``seed`` is an ``int`` or a ``torch.Generator`` (``fit`` passes a generator), so the same seed gives the same data.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import Tensor
from torch.nn import functional as F

from attnmem.tasks import check_elements, check_positive, generator_from

__all__ = [
    "AlgorithmicBatch",
    "copy_task",
    "repeat_copy_task",
    "associative_recall_task",
    "priority_sort_task",
    "sequence_loss",
    "bit_errors",
    "TASKS",
    "task",
]

class AlgorithmicBatch(NamedTuple):
    """One batch of an algorithmic task, batch first."""

    inputs: Tensor  # (B, T, in_width) float 0/1 (priorities and repeat counts are real-valued channels)
    targets: Tensor  # (B, T, out_width) float 0/1
    mask: Tensor  # (B, T) bool: True where the output is scored
    lengths: Tensor  # (B,) long: the sequence length (items for recall, inputs for sort)


def _check_range(low_name: str, low: int, high_name: str, high: int) -> None:
    check_positive(**{low_name: low, high_name: high})
    if low > high:
        raise ValueError(f"{low_name} ({low}) must not exceed {high_name} ({high}); swap them or widen the range")


def _lengths(batch_size: int, low: int, high: int, generator: torch.Generator) -> Tensor:
    return torch.randint(low, high + 1, (batch_size,), generator=generator)


def _bits(shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    return torch.randint(0, 2, shape, generator=generator).float()


def copy_task(
    batch_size: int, min_len: int = 1, max_len: int = 20, width: int = 8, seed: int | torch.Generator = 0
) -> AlgorithmicBatch:
    """Copy (Graves et al. 2014, 4.1): ``L`` random ``width``-bit vectors, a delimiter, then ``L`` blank steps.

    Input channels: ``width`` bits + 1 delimiter channel. The target is the sequence itself, scored on the
    ``L`` steps after the delimiter. Lengths are uniform in ``[min_len, max_len]``; T = 2 * max(L) + 1.
    """
    check_positive(batch_size=batch_size, width=width)
    _check_range("min_len", min_len, "max_len", max_len)
    check_elements("this copy batch", batch_size * (2 * max_len + 1) * (2 * width + 2),
                   "use a smaller batch_size, max_len or width")
    generator = generator_from(seed)
    lengths = _lengths(batch_size, min_len, max_len, generator)
    longest = int(lengths.max())
    steps = 2 * longest + 1
    bits = _bits((batch_size, longest, width), generator)
    inputs = torch.zeros(batch_size, steps, width + 1)
    targets = torch.zeros(batch_size, steps, width)
    mask = torch.zeros(batch_size, steps, dtype=torch.bool)
    for b, length in enumerate(lengths.tolist()):
        inputs[b, :length, :width] = bits[b, :length]
        inputs[b, length, width] = 1.0
        targets[b, length + 1 : 2 * length + 1] = bits[b, :length]
        mask[b, length + 1 : 2 * length + 1] = True
    return AlgorithmicBatch(inputs, targets, mask, lengths)


def repeat_copy_task(
    batch_size: int,
    min_len: int = 1,
    max_len: int = 10,
    min_repeats: int = 1,
    max_repeats: int = 10,
    width: int = 8,
    seed: int | torch.Generator = 0,
) -> AlgorithmicBatch:
    """Repeat copy (Graves et al. 2014, 4.2): copy a sequence ``R`` times, then raise an end marker.

    Input channels: ``width`` bits, a delimiter channel, and a repeat channel that carries ``R`` at the delimiter
    step, normalised to mean 0 and variance 1 over the uniform range ``[min_repeats, max_repeats]`` as in the
    paper. Output channels: ``width`` bits + the end marker, which is 1 only on the last scored step.
    """
    check_positive(batch_size=batch_size, width=width)
    _check_range("min_len", min_len, "max_len", max_len)
    _check_range("min_repeats", min_repeats, "max_repeats", max_repeats)
    check_elements("this repeat-copy batch", batch_size * (max_len * (max_repeats + 1) + 2) * (2 * width + 4),
                   "use a smaller batch_size, max_len, max_repeats or width")
    generator = generator_from(seed)
    lengths = _lengths(batch_size, min_len, max_len, generator)
    repeats = _lengths(batch_size, min_repeats, max_repeats, generator)
    mean = (min_repeats + max_repeats) / 2
    variance = ((max_repeats - min_repeats + 1) ** 2 - 1) / 12  # of the discrete uniform; 0 for a single value
    std = variance**0.5 if variance > 0 else 1.0
    longest = int(lengths.max())
    steps = int((lengths * (repeats + 1)).max()) + 2
    bits = _bits((batch_size, longest, width), generator)
    inputs = torch.zeros(batch_size, steps, width + 2)
    targets = torch.zeros(batch_size, steps, width + 1)
    mask = torch.zeros(batch_size, steps, dtype=torch.bool)
    for b, (length, count) in enumerate(zip(lengths.tolist(), repeats.tolist())):
        inputs[b, :length, :width] = bits[b, :length]
        inputs[b, length, width] = 1.0
        inputs[b, length, width + 1] = (count - mean) / std
        start = length + 1
        targets[b, start : start + length * count, :width] = bits[b, :length].repeat(count, 1)
        targets[b, start + length * count, width] = 1.0
        mask[b, start : start + length * count + 1] = True
    return AlgorithmicBatch(inputs, targets, mask, lengths)


def associative_recall_task(
    batch_size: int,
    min_items: int = 2,
    max_items: int = 6,
    item_len: int = 3,
    width: int = 6,
    seed: int | torch.Generator = 0,
) -> AlgorithmicBatch:
    """Associative recall (Graves et al. 2014, 4.3): given a query item, answer with the item that followed it.

    Each item is ``item_len`` random ``width``-bit vectors, preceded by a step on the item-delimiter channel. After
    the items comes the query (one item other than the last) between two steps on the query-delimiter channel; the
    answer, the next item, is scored on the ``item_len`` steps after that. Input channels: ``width`` + 2.
    """
    check_positive(batch_size=batch_size, width=width, item_len=item_len)
    _check_range("min_items", min_items, "max_items", max_items)
    if min_items < 2:
        raise ValueError(f"min_items must be at least 2 (a query needs an item after it), got {min_items}")
    steps = max_items * (item_len + 1) + 2 * item_len + 2
    check_elements("this associative-recall batch", batch_size * (steps * (2 * width + 3) + max_items * item_len * width),
                   "use a smaller batch_size, max_items, item_len or width")
    generator = generator_from(seed)
    lengths = _lengths(batch_size, min_items, max_items, generator)
    most = int(lengths.max())
    block = item_len + 1
    steps = most * block + item_len + 2 + item_len
    items = _bits((batch_size, most, item_len, width), generator)
    queries = (torch.rand(batch_size, generator=generator) * (lengths - 1)).long()  # in [0, n_items - 2]
    inputs = torch.zeros(batch_size, steps, width + 2)
    targets = torch.zeros(batch_size, steps, width)
    mask = torch.zeros(batch_size, steps, dtype=torch.bool)
    for b, (count, query) in enumerate(zip(lengths.tolist(), queries.tolist())):
        for i in range(count):
            inputs[b, i * block, width] = 1.0
            inputs[b, i * block + 1 : (i + 1) * block, :width] = items[b, i]
        start = count * block
        inputs[b, start, width + 1] = 1.0
        inputs[b, start + 1 : start + 1 + item_len, :width] = items[b, query]
        inputs[b, start + 1 + item_len, width + 1] = 1.0
        answer = start + 2 + item_len
        targets[b, answer : answer + item_len] = items[b, query + 1]
        mask[b, answer : answer + item_len] = True
    return AlgorithmicBatch(inputs, targets, mask, lengths)


def priority_sort_task(
    batch_size: int, n_inputs: int = 20, n_outputs: int = 16, width: int = 8, seed: int | torch.Generator = 0
) -> AlgorithmicBatch:
    """Priority sort (Graves et al. 2014, 4.5): output the ``n_outputs`` highest-priority vectors, highest first.

    Each of the ``n_inputs`` vectors carries a priority drawn uniformly from [-1, 1] on its own input channel;
    a delimiter step follows, then the sorted vectors are scored. Input channels: ``width`` + 2.
    """
    check_positive(batch_size=batch_size, width=width)
    _check_range("n_outputs", n_outputs, "n_inputs", n_inputs)
    check_elements("this priority-sort batch", batch_size * (n_inputs + 1 + n_outputs) * (2 * width + 3),
                   "use a smaller batch_size, n_inputs or width")
    generator = generator_from(seed)
    bits = _bits((batch_size, n_inputs, width), generator)
    priority = torch.rand(batch_size, n_inputs, generator=generator) * 2 - 1
    order = priority.argsort(dim=1, descending=True)[:, :n_outputs]
    ranked = bits.gather(1, order.unsqueeze(-1).expand(-1, -1, width))
    steps = n_inputs + 1 + n_outputs
    inputs = torch.zeros(batch_size, steps, width + 2)
    inputs[:, :n_inputs, :width] = bits
    inputs[:, :n_inputs, width + 1] = priority
    inputs[:, n_inputs, width] = 1.0
    targets = torch.zeros(batch_size, steps, width)
    targets[:, n_inputs + 1 :] = ranked
    mask = torch.zeros(batch_size, steps, dtype=torch.bool)
    mask[:, n_inputs + 1 :] = True
    return AlgorithmicBatch(inputs, targets, mask, torch.full((batch_size,), n_inputs, dtype=torch.long))


def _check_outputs(logits: Tensor, batch: AlgorithmicBatch) -> None:
    if not isinstance(logits, Tensor) or logits.shape != batch.targets.shape:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(
            f"logits must have the targets' shape {tuple(batch.targets.shape)} (batch, steps, output width), "
            f"got {shape}; does the model's output size match the task's output width?"
        )


def sequence_loss(logits: Tensor, batch: AlgorithmicBatch) -> Tensor:
    """Binary cross-entropy on the scored steps, averaged over scored bits (the paper's training loss)."""
    _check_outputs(logits, batch)
    per_bit = F.binary_cross_entropy_with_logits(logits, batch.targets, reduction="none")
    weights = batch.mask.unsqueeze(-1).to(per_bit.dtype)
    return (per_bit * weights).sum() / (weights.sum() * per_bit.shape[-1]).clamp_min(1.0)


def bit_errors(logits: Tensor, batch: AlgorithmicBatch) -> Tensor:
    """Wrong bits per sequence (B,) on the scored steps, predicting 1 where the logit is positive."""
    _check_outputs(logits, batch)
    wrong = ((logits > 0).float() != batch.targets) & batch.mask.unsqueeze(-1)
    return wrong.sum(dim=(1, 2)).float()


#: task name -> generator. Each takes (batch_size, ..., seed=...) and returns an AlgorithmicBatch.
TASKS: dict[str, Callable[..., AlgorithmicBatch]] = {
    "copy": copy_task,
    "repeat_copy": repeat_copy_task,
    "associative_recall": associative_recall_task,
    "priority_sort": priority_sort_task,
}


def task(name: str) -> Callable[..., AlgorithmicBatch]:
    """The generator of the task ``name``; an unknown name is a ``ValueError`` that lists the known tasks."""
    if name not in TASKS:
        raise ValueError(f"unknown algorithmic task {name!r}; choose one of: {', '.join(sorted(TASKS))}")
    return TASKS[name]


# --- Parity and addition for adaptive computation time (chapter 8; Graves 2016, Sections 3.1 and 3.3) ---------


class ParityBatch(NamedTuple):
    """Parity vectors: one input step each, a target bit, and how many entries are non-zero."""

    inputs: Tensor  # (batch, 1, length) entries in {-1, 0, +1}
    targets: Tensor  # (batch, 1) 1.0 when the number of +1 entries is odd, else 0.0
    nonzeros: Tensor  # (batch,) how many entries are non-zero: the input's difficulty


def parity_targets(inputs: Tensor) -> Tensor:
    """The parity target of vectors with entries in {-1, 0, +1}: 1.0 if the count of +1 entries is odd."""
    return ((inputs == 1).sum(dim=-1) % 2).float()


def parity_batch(
    batch_size: int, length: int, seed: int | torch.Generator, max_nonzeros: int | None = None
) -> ParityBatch:
    """Graves (2016, Section 3.1): a random number (1..length) of entries set to +1 or -1, the rest 0.

    The positions and signs are uniform; the target is the parity of the number of +1 entries. Every vector is
    one input step, so a plain RNN must answer after a single update, while ACT may ponder first.
    ``max_nonzeros`` caps the number of non-zero entries (drawn from 1..max_nonzeros instead of 1..length): a
    curriculum of easier vectors of the same length; ``None`` is the paper's distribution.
    """
    check_positive(batch_size=batch_size, length=length)
    most = length if max_nonzeros is None else max_nonzeros
    if isinstance(most, bool) or not isinstance(most, int) or not 1 <= most <= length:
        raise ValueError(f"max_nonzeros must be an int in 1..length ({length}), got {max_nonzeros!r}")
    check_elements("this parity batch", 4 * batch_size * length, "use a smaller batch_size or length")
    generator = generator_from(seed)
    count = torch.randint(1, most + 1, (batch_size, 1), generator=generator)
    ranks = torch.rand(batch_size, length, generator=generator).argsort(dim=1).argsort(dim=1)
    signs = torch.randint(0, 2, (batch_size, length), generator=generator) * 2 - 1
    inputs = torch.where(ranks < count, signs, 0).float()
    return ParityBatch(inputs.unsqueeze(1), parity_targets(inputs).unsqueeze(1), count.squeeze(1))


def parity_from_string(text: str, length: int) -> ParityBatch:
    """One parity input typed by hand: ``+`` for +1, ``-`` for -1, ``0`` (or ``.``) for 0; spaces are ignored.

    A string shorter than ``length`` is padded with zeros: ``parity_from_string("+-+", 16)``.
    """
    symbols = {"+": 1.0, "-": -1.0, "0": 0.0, ".": 0.0}
    entries = [c for c in text if not c.isspace()]
    wrong = sorted({c for c in entries if c not in symbols})
    if wrong:
        raise ValueError(f"a parity input uses only '+', '-' and '0' (or '.'); {text!r} also has {wrong}")
    if len(entries) > length:
        raise ValueError(f"{text!r} has {len(entries)} entries but the model reads vectors of length {length}")
    if not any(c in "+-" for c in entries):
        raise ValueError(f"{text!r} has no '+' or '-' entry; parity inputs have at least one non-zero entry")
    values = torch.tensor([symbols[c] for c in entries] + [0.0] * (length - len(entries)))
    inputs = values.view(1, 1, length)
    return ParityBatch(inputs, parity_targets(values).view(1, 1), (values != 0).sum().view(1))


class AdditionBatch(NamedTuple):
    """Sequences of decimal numbers; the target at each step is the running sum, digit by digit."""

    inputs: Tensor  # (batch, steps, digits * 10) one-hot digits, least significant first; unused digits all zero
    targets: Tensor  # (batch, steps, digits + 1) class per sum digit: 0-9, or 10 = past the sum's last digit
    mask: Tensor  # (batch, steps) True where the sequence has a number (sequences have random lengths)


ADDITION_BLANK = 10  # the target class for sum digits beyond the most significant one


def addition_batch(
    batch_size: int, max_numbers: int = 5, digits: int = 5, seed: int | torch.Generator = 0
) -> AdditionBatch:
    """Graves (2016, Section 3.3): add a sequence of 1..max_numbers integers, each of 1..digits decimal digits.

    Every input step is one number, written as ``digits`` one-hot blocks of 10 (least significant first; the
    blocks past the number's own length are zero). The target at step t is the sum of the first t numbers,
    as ``digits + 1`` classes (a digit 0-9, or ``ADDITION_BLANK`` past the sum's most significant digit).
    """
    check_positive(batch_size=batch_size, max_numbers=max_numbers, digits=digits)
    if max_numbers > 10:
        raise ValueError(f"max_numbers must be at most 10, got {max_numbers}: the targets have digits + 1 places, "
                         f"and a sum of 11 or more numbers of {digits} digits can need more")
    check_elements("this addition batch", batch_size * max_numbers * (digits * 12 + 2),
                   "use a smaller batch_size, max_numbers or digits")
    generator = generator_from(seed)
    lengths = torch.randint(1, max_numbers + 1, (batch_size,), generator=generator)
    mask = torch.arange(max_numbers).unsqueeze(0) < lengths.unsqueeze(1)
    sizes = torch.randint(1, digits + 1, (batch_size, max_numbers), generator=generator)
    raw = torch.randint(0, 10, (batch_size, max_numbers, digits), generator=generator)
    used = torch.arange(digits).view(1, 1, digits) < sizes.unsqueeze(-1)
    raw = torch.where(used & mask.unsqueeze(-1), raw, 0)
    inputs = (F.one_hot(raw, 10) * used.unsqueeze(-1)).flatten(2).float() * mask.unsqueeze(-1)
    return AdditionBatch(inputs, _sum_digits(raw.cumsum(dim=1), digits + 1), mask)


def _sum_digits(place_sums: Tensor, width: int) -> Tensor:
    """Digits (least significant first) of running sums given place by place, ``ADDITION_BLANK`` past the leading
    digit. Carrying digit by digit keeps every width exact (an int64 holds whole numbers of only 18 digits)."""
    digits, carry = [], torch.zeros_like(place_sums[..., 0])
    for place in range(width):
        total = carry + (place_sums[..., place] if place < place_sums.shape[-1] else 0)
        digits.append(total % 10)
        carry = total // 10
    digit = torch.stack(digits, dim=-1)
    position = torch.arange(width)
    leading = torch.where(digit != 0, position, 0).amax(dim=-1, keepdim=True)  # 0 for a sum of zero: keep one 0
    return torch.where(position > leading, ADDITION_BLANK, digit)


__all__ += [
    "ParityBatch",
    "parity_targets",
    "parity_batch",
    "parity_from_string",
    "AdditionBatch",
    "ADDITION_BLANK",
    "addition_batch",
]
