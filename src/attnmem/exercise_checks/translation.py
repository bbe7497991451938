"""Checkers for the coding exercises of chapters 2–4: translation with and without attention.

- ``ex-02-token-accuracy``: teacher-forced token accuracy over real target positions (``seq2seq.sequence_loss``).
- ``ex-02-reverse``: reversing each source sentence, <eos> and padding kept in place (Sutskever et al. 2014,
  Sec. 3.3; ``translation.make_batch(..., reverse_source=True)``).
- ``ex-03-step``: one step of Bahdanau et al.'s (2015) attention, Eqs. 5–6, with a padding mask
  (``BahdanauDecoder.step``).
- ``ex-03-entropy``: the entropy of each row of an alignment, the sharpness of attention.
- ``ex-03-location-terms``: the location terms U_f f_ij of Chorowski et al.'s (2015) location-aware attention, Eqs.
  8–9, from the previous and the cumulative weights (``seq2seq.LocationFeatures``).
- ``ex-04-position``: the centre p_t of Luong et al.'s (2015) local attention, Eq. 9, per sentence length.
- ``ex-04-local``: Luong et al.'s local attention weights, Eq. 10, around those centres.

Each compares the reader's function with the package on random and edge inputs; messages show values, not code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from attnmem import attention, seq2seq
from attnmem.exercises import (
    Mismatch,
    call,
    describe,
    exercise,
    expect_close,
    expect_distribution,
    expect_gradient,
    expect_tensor,
    projection,
)
from attnmem.tasks import translation
from attnmem.tasks.translation import Vocab

__all__: list[str] = []  # importing this module registers its checkers; it exports nothing


def _batch(n: int, shortest: int, longest: int, seed: int, reverse: bool = False) -> translation.Batch:
    """A padded batch of synthetic pairs, as chapters 2–4 train on."""
    pairs = translation.sample_pairs(n, shortest, longest, seed=seed)
    return translation.make_batch(pairs, translation.source_vocab(), translation.target_vocab(), reverse)


def _ids(got: Any, shape: tuple[int, ...], what: str, inputs: dict[str, Any]) -> Tensor:
    """``got`` must be an integer tensor of ``shape`` (token ids); returned as floats for ``expect_close``."""
    if not isinstance(got, Tensor):
        raise Mismatch(f"{what} should be a torch.Tensor, but your function returned a {type(got).__name__}.")
    if got.is_floating_point() or got.dtype == torch.bool:
        raise Mismatch(
            f"{what} should be token ids, a torch.long tensor like the input, but have dtype {got.dtype}."
        )
    if tuple(got.shape) != shape:
        raise Mismatch(
            f"{what} have shape {tuple(got.shape)}, but should have the shape of the input, {shape}, "
            f"for {describe(inputs)}."
        )
    return got.double()


# ---- chapter 2: the bottleneck --------------------------------------------------------------------------


class _Fixed(nn.Module):
    """A stand-in model whose teacher-forced logits are given, so the package's own metric can score them."""

    def __init__(self, logits: Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> seq2seq.Seq2SeqOutput:
        return seq2seq.Seq2SeqOutput(self.logits, None)


@exercise(
    "ex-02-token-accuracy",
    function="my_token_accuracy",
    title="Token accuracy with padding",
    checks=(
        "random logits on padded batches of synthetic sentences of mixed lengths",
        "perfect logits score 1 and logits that always pick <pad> score 0",
        "padded positions count neither as right nor as wrong",
        "a batch without any real position scores 0 instead of dividing by zero",
        "one number for the whole batch",
        "the inputs are left unchanged",
    ),
    forbidden=(seq2seq.sequence_loss,),
)
def _check_token_accuracy(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(2014)
    vocab = len(translation.target_vocab())
    cases = []
    for n, shortest, longest, seed in ((6, 3, 12, 1), (1, 5, 5, 2), (4, 3, 30, 3)):
        batch = _batch(n, shortest, longest, seed)
        noisy = torch.randn(*batch.tgt_out.shape, vocab, generator=generator)
        right = torch.nn.functional.one_hot(batch.tgt_out, vocab).float()
        cases.append((noisy + 2.5 * right, batch))  # most positions right, some wrong
        cases.append((noisy, batch))
    batch = cases[0][1]
    perfect = 5.0 * torch.nn.functional.one_hot(batch.tgt_out, vocab).float()
    always_pad = torch.zeros(*batch.tgt_out.shape, vocab)
    always_pad[..., Vocab.PAD] = 1.0
    cases += [(perfect, batch), (always_pad, batch)]
    empty = batch._replace(tgt_mask=torch.zeros_like(batch.tgt_mask))
    cases.append((torch.randn(*batch.tgt_out.shape, vocab, generator=generator), empty))
    for logits, batch in cases:
        inputs = {"logits": logits, "tgt_out": batch.tgt_out, "tgt_mask": batch.tgt_mask}
        got = call(fn, **inputs)
        if isinstance(got, (int, float)) and not isinstance(got, bool):
            got = torch.tensor(float(got))
        elif isinstance(got, Tensor) and got.dim() == 0 and not got.is_floating_point():
            got = got.double()
        _, facts = seq2seq.sequence_loss(_Fixed(logits), batch)
        expected = torch.tensor(facts["token_acc"], dtype=torch.float64)
        real = batch.tgt_mask.sum().clamp_min(1)
        hits = logits.argmax(-1) == batch.tgt_out
        if isinstance(got, Tensor) and got.is_floating_point() and not torch.isfinite(got).all():
            raise Mismatch(
                f"your accuracy is {float(got.reshape(-1)[0])} for a batch with "
                f"{int(batch.tgt_mask.sum())} real positions.\n  Hint: with no real position there is nothing "
                f"to count; divide by at least 1 (the package reports 0 then)."
            )
        batch_size, steps = batch.tgt_out.shape
        expect_close(
            got,
            expected,
            "your accuracy",
            inputs,
            shape_hints={
                (batch_size,): "that is one accuracy per sentence; the chapter's number is one for the whole "
                "batch: all right real positions over all real positions.",
                (batch_size, steps): "that is one entry per position; count the right ones and divide by the "
                "number of real positions.",
            },
            slips={
                "padded positions are not words: a model that predicts <pad> there is not right about anything. "
                "Count only the positions where tgt_mask is True.": hits.sum() / hits.numel(),
                "divide by the number of real positions (the True entries of tgt_mask), not by all "
                "positions.": (hits & batch.tgt_mask).sum() / hits.numel(),
                "that is the mean of per-sentence accuracies; the chapter pools the batch: all right real "
                "positions over all real positions.": (
                    (hits & batch.tgt_mask).sum(1) / batch.tgt_mask.sum(1).clamp_min(1)
                ).mean(),
                "count the right positions, not the wrong ones.": ((~hits) & batch.tgt_mask).sum() / real,
            },
            rtol=1e-5,
        )


@exercise(
    "ex-02-reverse",
    function="my_reverse_source",
    title="Reverse the source, keep the padding",
    checks=(
        "padded batches of synthetic sentences of mixed lengths",
        "the longest sentence of a batch, with no padding",
        "a sentence that is only <eos>, and a batch of one sentence",
        "<eos> stays after the last word and <pad> at the end",
        "the same ids as translation.make_batch(..., reverse_source=True)",
        "the inputs are left unchanged",
    ),
    forbidden=(translation.make_batch,),
)
def _check_reverse(fn: Callable[..., Any]) -> None:
    cases = [
        (_batch(n, lo, hi, seed), _batch(n, lo, hi, seed, reverse=True))
        for n, lo, hi, seed in ((5, 3, 12, 4), (1, 7, 7, 5), (8, 3, 30, 6))
    ]
    lone = torch.tensor([[9, 12, 5, Vocab.EOS], [Vocab.EOS, Vocab.PAD, Vocab.PAD, Vocab.PAD]])
    for src, lengths in [(b.src, b.src_lengths) for b, _ in cases] + [(lone, torch.tensor([4, 1]))]:
        expected = src.clone()
        for row, length in enumerate(lengths.tolist()):
            expected[row, : length - 1] = src[row, : length - 1].flip(0)
        inputs = {"src": src, "src_lengths": lengths}
        got = _ids(call(fn, **inputs), tuple(src.shape), "your ids", inputs)
        whole = src.clone()
        for row, length in enumerate(lengths.tolist()):
            whole[row, :length] = src[row, :length].flip(0)
        expect_close(
            got,
            expected.double(),
            "your ids",
            inputs,
            slips={
                "you reversed whole rows, padding included, so the padding now comes first. Reverse only the "
                "first src_lengths[i] - 1 ids of row i: the words.": src.flip(-1).double(),
                "<eos> moved to the front: it marks the end of the sentence and stays last. Reverse the words "
                "only, the first src_lengths[i] - 1 ids.": whole.double(),
                "nothing changed: the words of each sentence should come in reverse order.": src.double(),
            },
            rtol=0,
            atol=0,
        )
    for reference, reversed_batch in cases:  # the package's own reversed batches, built from the words
        inputs = {"src": reference.src, "src_lengths": reference.src_lengths}
        got = _ids(call(fn, **inputs), tuple(reference.src.shape), "your ids", inputs)
        expect_close(got, reversed_batch.src.double(), "your ids", inputs, rtol=0, atol=0)


# ---- chapter 3: Bahdanau attention ----------------------------------------------------------------------


def _pair(got: Any, name: str) -> tuple[Any, Any]:
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        kind = f"a {type(got).__name__}" + (f" of {len(got)} items" if isinstance(got, (tuple, list)) else "")
        raise Mismatch(f"{name} should return two tensors, (context, weights), but returned {kind}.")
    return got[0], got[1]


@exercise(
    "ex-03-step",
    function="my_bahdanau_attention",
    title="One step of additive attention",
    checks=(
        "random decoder states, annotations and parameters with padded sentences",
        "the weights of a real BahdanauDecoder step on a padded batch",
        "padded positions get exactly zero weight, and each row sums to one",
        "a sentence of one position, and a batch without padding",
        "gradients reach the state, the annotations and all three parameters",
        "the inputs are left unchanged",
    ),
    forbidden=(seq2seq.BahdanauDecoder.step, seq2seq.BahdanauDecoder.energies, attention.attend, attention.Attention),
)
def _check_step(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(2015)
    cases = []
    for batch, positions, d_state, d_memory, hidden, lengths in (
        (3, 7, 5, 6, 4, [7, 4, 2]),
        (2, 5, 8, 8, 8, [5, 5]),
        (1, 1, 3, 4, 2, [1]),
        (4, 9, 6, 10, 5, [9, 1, 6, 3]),
    ):
        mask = torch.arange(positions) < torch.tensor(lengths).unsqueeze(1)
        cases.append(
            {
                "state": torch.randn(batch, d_state, generator=generator),
                "annotations": torch.randn(batch, positions, d_memory, generator=generator)
                * mask.unsqueeze(-1),
                "mask": mask,
                "w_query": torch.randn(d_state, hidden, generator=generator),
                "w_key": torch.randn(d_memory, hidden, generator=generator),
                "v": torch.randn(hidden, generator=generator),
            }
        )
    with torch.random.fork_rng():  # a small real model (its first decoder step on a padded batch); the
        torch.manual_seed(3)  # reader's random state is left as it was
        model = seq2seq.build_model(
            {
                "src_vocab": len(translation.source_vocab()),
                "tgt_vocab": len(translation.target_vocab()),
                "embed": 6,
                "hidden": 5,
                "attention": "bahdanau",
            }
        )
    real = _batch(4, 3, 12, seed=7)
    with torch.no_grad():
        encoded = model.encode(real.src, real.src_lengths)
        state = model.decoder.start(encoded)
        step = model.decoder.step(real.tgt_in[:, 0], state, encoded)
        score = model.decoder.score
        cases.append(
            {
                "state": state[0],
                "annotations": encoded.outputs,
                "mask": encoded.mask,
                "w_query": score.w_query.detach(),
                "w_key": score.w_key.detach(),
                "v": score.v.detach(),
            }
        )
    for number, inputs in enumerate(cases):
        state, annotations, mask, w_query, w_key, v = inputs.values()
        batch, positions, d_memory = annotations.shape
        expected = attention.attend(
            state.unsqueeze(1),
            annotations,
            annotations,
            mask.unsqueeze(1),
            score=partial(attention.additive_scores, w_query=w_query, w_key=w_key, v=v),
        )
        weights_expected = expected.weights.squeeze(1)
        if number == len(cases) - 1:
            weights_expected = step.weights  # the decoder's own weights
        context, weights = _pair(call(fn, **inputs), "my_bahdanau_attention")
        weights = expect_tensor(
            weights,
            (batch, positions),
            "your weights",
            inputs,
            hints={
                (batch, 1, positions): "one query per sentence: drop the query dimension of size 1 "
                "(.squeeze(1)) so the weights are (batch, positions)."
            },
        )
        padded = (weights != 0) & ~mask
        if padded.any():
            index = tuple(int(i) for i in padded.nonzero()[0])
            raise Mismatch(
                f"your weights give the padded position {index} the weight {weights[index].item():.6g} for "
                f"{describe(inputs)}; a padded position is not a word and must get exactly 0.\n  Hint: mask "
                f"the scores before the softmax (attention.masked_softmax does it), so the real positions "
                f"share all the weight."
            )
        try:
            expect_distribution(weights, "your weights", inputs)
        except Mismatch as reason:
            raise Mismatch(
                f"{reason}\n  Hint: the softmax runs over the source positions, the last "
                f"dimension, after masking."
            ) from None
        expect_close(
            weights,
            weights_expected,
            "your weights",
            inputs,
            rtol=1e-4,
            slips={
                "your weights match a softmax of v · tanh(W s + U h) without the tanh: the hidden layer needs "
                "its non-linearity.": attention.masked_softmax(
                    ((state @ w_query).unsqueeze(1) + annotations @ w_key) @ v, mask
                ),
                "your weights ignore the decoder state: the query s_{i-1} @ w_query is added to every "
                "projected annotation inside the tanh.": attention.masked_softmax(
                    torch.tanh(annotations @ w_key) @ v, mask
                ),
            },
        )
        expect_close(
            context,
            weights_expected.unsqueeze(1).bmm(annotations).squeeze(1),
            "your context",
            inputs,
            shape_hints={
                (batch, 1, d_memory): "one context per sentence: drop the query dimension of size 1.",
                (
                    batch,
                    positions,
                    d_memory,
                ): "that is each annotation times its weight; the context is their "
                "sum over the positions, one vector per sentence.",
            },
        )
    inputs = cases[0]
    leaves = {
        "the state": inputs["state"],
        "the annotations": inputs["annotations"],
        "mask": inputs["mask"],
        "w_query": inputs["w_query"],
        "w_key": inputs["w_key"],
        "v": inputs["v"],
    }
    leaves = {k: (t if k == "mask" else t.clone().requires_grad_()) for k, t in leaves.items()}
    context, weights = _pair(call(fn, **dict(zip(inputs, leaves.values()))), "my_bahdanau_attention")
    expect_gradient(
        context * projection(context.shape, 5),
        "your context",
        {k: t for k, t in leaves.items() if k != "mask"},
    )


@exercise(
    "ex-03-entropy",
    function="my_row_entropy",
    title="Sharpness of attention",
    checks=(
        "random alignments (target x source), with and without a batch dimension",
        "one-hot rows have entropy exactly 0, with no NaN",
        "uniform rows over n positions have entropy log n (in nats)",
        "padded source positions (weight 0) add nothing",
        "one entropy per row",
        "the inputs are left unchanged",
    ),
)
def _check_entropy(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(2016)
    one_hot = torch.nn.functional.one_hot(torch.tensor([2, 0, 4, 4]), 5).float()
    uniform = torch.ones(3, 8) / 8
    padded_scores = 2 * torch.randn(2, 6, 9, generator=generator)
    mask = torch.arange(9) < torch.tensor([9, 5]).view(2, 1, 1)
    mixed = torch.cat([one_hot, torch.softmax(torch.randn(2, 5, generator=generator), -1)])
    cases = [
        torch.softmax(2 * torch.randn(6, 10, generator=generator), -1),
        one_hot,
        uniform,
        attention.masked_softmax(padded_scores, mask),
        mixed,
        torch.ones(1, 1),
    ]
    for alignment in cases:
        inputs = {"alignment": alignment}
        got = call(fn, **inputs)
        if isinstance(got, Tensor) and got.is_floating_point() and not torch.isfinite(got).all():
            index = tuple(int(i) for i in (~torch.isfinite(got)).nonzero()[0])
            raise Mismatch(
                f"your entropies hold {got[index].item()} at index {index} for {describe(inputs)}.\n  Hint: "
                f"a weight of 0 gives 0 · log 0, which is 0 by convention but NaN in floating point: clamp the "
                f"weights from below before the log (or use torch.special.xlogy / torch.special.entr)."
            )
        expected = torch.special.entr(alignment).sum(-1)
        negative = isinstance(got, Tensor) and got.is_floating_point() and got.shape == expected.shape
        if negative and (got < -1e-6).any():
            index = tuple(int(i) for i in (got < -1e-6).nonzero()[0])
            raise Mismatch(
                f"your entropy at {index} is {got[index].item():.6g} for {describe(inputs)}, but an entropy "
                f"is never negative.\n  Hint: H = -sum_j a_j log a_j; the minus sign makes it positive, "
                f"since every log of a weight is at most 0."
            )
        shape = tuple(expected.shape)
        expect_close(
            got,
            expected,
            "your entropies",
            inputs,
            shape_hints={
                tuple(shape[:-1]): "that is one number per sentence; return one entropy per row.",
                (): "that is one number for the whole alignment; return one entropy per row (per target word).",
                tuple(alignment.shape[:-2]) + (alignment.shape[-1],): "that is one number per source column; "
                "each row (one target word) is a distribution, so sum over the last dimension.",
            },
            slips={
                "your entropies are in bits: the chapter measures nats, with the natural log.": expected
                / math.log(2),
            },
        )


@exercise(
    "ex-03-location-terms",
    function="my_location_terms",
    title="The location terms",
    checks=(
        "random weights, filters and maps, with and without padding at the ends of the sentence",
        "filters of width 1, and filters wider than the sentence",
        "the terms of a real LocationFeatures module",
        "channel 0 is last step's weights, channel 1 the cumulative ones",
        "gradients reach both channels, the filters and the map",
        "the inputs are left unchanged",
    ),
    forbidden=(seq2seq.LocationFeatures,),
)
def _check_location_terms(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(2015)
    cases = []
    for batch, positions, filters, width, size in ((3, 7, 4, 5, 6), (2, 6, 3, 1, 4), (2, 3, 2, 9, 5), (1, 1, 2, 3, 3)):
        last = torch.softmax(3 * torch.randn(batch, positions, generator=generator), -1)
        cases.append({"last": last, "total": last + torch.rand(batch, positions, generator=generator),
                      "filters": torch.randn(filters, 2, width, generator=generator),
                      "project": torch.randn(filters, size, generator=generator)})
    with torch.random.fork_rng():  # a real module; the reader's random state is left as it was
        torch.manual_seed(4)
        module = seq2seq.LocationFeatures(attention_size=5, filters=3, width=7)
        nn.init.normal_(module.project)
    last = torch.softmax(torch.randn(2, 9, generator=generator), -1)
    total = last + torch.rand(2, 9, generator=generator)
    real = {"last": last, "total": total, "filters": module.conv.weight.detach(), "project": module.project.detach()}
    cases.append(real)

    def terms(first: Tensor, second: Tensor, kernel: Tensor, project: Tensor) -> Tensor:
        """The reference: both channels convolved with zero padding, then mapped (``LocationFeatures.forward``)."""
        features = torch.nn.functional.conv1d(torch.stack([first, second], 1), kernel, padding=kernel.shape[-1] // 2)
        return features.transpose(1, 2) @ project

    for inputs in cases:
        last, total, filters, project = inputs.values()
        batch, positions = last.shape
        pad = filters.shape[-1] // 2
        with torch.no_grad():
            expected = module(last, total) if inputs is real else terms(last, total, filters, project)
        slips = {"your terms match filters applied flipped (a true convolution). torch.nn.functional.conv1d, like "
                 "LocationFeatures, slides the filters without flipping them (a cross-correlation); since the "
                 "filters are learned, either would do, but here yours must not flip.": terms(
                     last, total, filters.flip(-1), project)}
        if filters.shape[-1] > 1:
            slips["your terms match the two channels swapped: channel 0 of the filters reads last step's weights, "
                  "channel 1 the cumulative ones (stack them in that order)."] = terms(total, last, filters, project)
        expect_close(
            call(fn, **inputs),
            expected,
            "your terms",
            inputs,
            rtol=1e-4,
            slips=slips,
            shape_hints={
                (batch, max(positions - 2 * pad, 0), project.shape[1]): "without padding the filters lose "
                "width // 2 positions at each end; pad the sentence with zeros (padding=width // 2), so every "
                "source position gets its terms.",
                (batch, filters.shape[0], positions): "those are the filters' outputs, one row per filter; "
                "move the filters last (.transpose(1, 2)) and map them with project.",
            },
        )
    leaves = {k: v.clone().requires_grad_() for k, v in cases[0].items()}
    got = call(fn, **leaves)
    expect_gradient(got * projection(got.shape, 6), "your terms", leaves)


# ---- chapter 4: Luong attention and its cost ------------------------------------------------------------


def _position_reference(states: Tensor, lengths: Tensor, w_p: Tensor, v_p: Tensor) -> Tensor:
    """Luong et al. (2015), Eq. 9: p_t = S * sigmoid(v_p . tanh(W_p h_t)), S the sentence's source length."""
    return lengths.unsqueeze(-1) * torch.sigmoid(torch.tanh(states @ w_p) @ v_p)


@exercise(
    "ex-04-position",
    function="my_local_position",
    title="Predict where to look",
    checks=(
        "random decoder states and parameters, batched, with sentences of different lengths",
        "one sentence of one word, and one target step",
        "large states that saturate the tanh",
        "every centre lies between 0 and its own sentence's length",
        "gradients reach the states, W_p and v_p",
        "the inputs are left unchanged",
    ),
)
def _check_position(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(2015)
    for batch, steps, size, hidden, lengths, scale in (
        (3, 5, 6, 4, [12, 4, 7], 1.0),
        (2, 1, 4, 3, [9, 9], 1.0),
        (1, 3, 5, 2, [1], 1.0),
        (4, 6, 8, 5, [30, 3, 17, 8], 20.0),
    ):
        inputs = {
            "states": scale * torch.randn(batch, steps, size, generator=generator),
            "lengths": torch.tensor(lengths),
            "w_p": torch.randn(size, hidden, generator=generator),
            "v_p": torch.randn(hidden, generator=generator),
        }
        states, length, w_p, v_p = inputs.values()
        expected = _position_reference(states, length, w_p, v_p)
        got = expect_tensor(
            call(fn, **inputs),
            tuple(expected.shape),
            "your centres",
            inputs,
            hints={
                (batch, steps, 1): "one centre per target step: drop the last dimension of size 1.",
                (steps, batch): "rows should be sentences and columns target steps; yours look transposed.",
            },
        )
        limit = length.unsqueeze(-1).to(got.dtype)
        wrong = (got < 0) | (got > limit)
        if wrong.any():
            index = tuple(int(i) for i in wrong.nonzero()[0])
            if bool((got >= 0).all()) and bool((got <= length.max()).all()):
                hint = (
                    "each sentence has its own length S: scale by lengths[b], not by the longest one, or "
                    "sentences shorter than the batch get centres past their last word."
                )
            else:
                hint = "the sigmoid squeezes any number into (0, 1); S times it is a position inside the sentence."
            raise Mismatch(
                f"your centre at {index} is {got[index].item():.6g}, outside [0, {int(length[index[0]])}], the "
                f"length of sentence {index[0]}, for {describe(inputs)}.\n  Hint: {hint}"
            )
        expect_close(
            got,
            expected,
            "your centres",
            inputs,
            slips={
                "your centres match the ones without the tanh: Eq. 9 is S sigmoid(v_p . tanh(W_p h_t)).": (
                    length.unsqueeze(-1) * torch.sigmoid((states @ w_p) @ v_p)
                ),
                "Luong et al. scale by S, the source length, not by S - 1.": (
                    (length.unsqueeze(-1) - 1) * torch.sigmoid(torch.tanh(states @ w_p) @ v_p)
                ),
            },
        )
    leaves = {
        "the states": torch.randn(2, 3, 4, generator=generator).requires_grad_(),
        "W_p": torch.randn(4, 5, generator=generator).requires_grad_(),
        "v_p": torch.randn(5, generator=generator).requires_grad_(),
    }
    centres = call(
        fn, states=leaves["the states"], lengths=torch.tensor([6, 11]), w_p=leaves["W_p"], v_p=leaves["v_p"]
    )
    expect_gradient(centres, "your centres", leaves)


def _local_reference(scores: Tensor, p: Tensor, half_width: float) -> Tensor:
    """Luong et al. (2015), Eq. 10: softmax inside [p - D, p + D], times a Gaussian of sd D / 2 around p."""
    distance = torch.arange(scores.shape[-1], dtype=scores.dtype) - p.unsqueeze(-1)
    weights = attention.masked_softmax(scores, distance.abs() <= half_width)
    return weights * torch.exp(-(distance**2) / (2 * (half_width / 2) ** 2))


@exercise(
    "ex-04-local",
    function="my_local_weights",
    title="Local attention",
    checks=(
        "random scores and real-valued centres, with and without a batch dimension",
        "windows that reach past the first and the last source position",
        "half-widths 0.5, 1, 3 and one wider than the sentence",
        "every weight outside [p_t - D, p_t + D] is exactly 0",
        "gradients reach the scores and the centres p",
        "the inputs are left unchanged",
    ),
)
def _check_local(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(2015)
    cases = [
        (torch.randn(4, 20, generator=generator), torch.tensor([2.0, 7.5, 11.2, 18.0]), 3),
        (torch.randn(2, 5, 12, generator=generator), 12 * torch.rand(2, 5, generator=generator), 2),
        (torch.randn(3, 9, generator=generator), torch.tensor([0.0, 8.0, 4.5]), 1),
        (torch.randn(3, 6, generator=generator), torch.tensor([2.5, 0.2, 5.0]), 0.5),
        (torch.randn(2, 6, generator=generator), torch.tensor([1.0, 3.0]), 10),
    ]
    for scores, p, half_width in cases:
        inputs = {"scores": scores, "p": p, "D": half_width}
        expected = _local_reference(scores, p, half_width)
        got = call(fn, **inputs)
        if isinstance(got, Tensor) and got.is_floating_point() and not torch.isfinite(got).all():
            index = tuple(int(i) for i in (~torch.isfinite(got)).nonzero()[0])
            raise Mismatch(
                f"your weights hold {got[index].item()} at index {index} for {describe(inputs)}.\n  Hint: "
                f"NaN comes from 0 / 0 or from a softmax over a row whose scores are all -inf; "
                f"attention.masked_softmax masks safely, and the Gaussian's sd D / 2 is positive for D > 0."
            )
        got = expect_tensor(got, tuple(expected.shape), "your weights", inputs)
        distance = torch.arange(scores.shape[-1], dtype=scores.dtype) - p.unsqueeze(-1)
        outside = (got != 0) & (distance.abs() > half_width)
        if outside.any():
            index = tuple(int(i) for i in outside.nonzero()[0])
            raise Mismatch(
                f"your weight at {index} is {got[index].item():.6g} for {describe(inputs)}, but that source "
                f"position is {distance[index].abs().item():.4g} away from its centre p, more than D = "
                f"{half_width}; outside the window every weight must be exactly 0.\n  Hint: mask the scores "
                f"outside [p_t - D, p_t + D] before the softmax."
            )
        gauss = torch.exp(-(distance**2) / (2 * (half_width / 2) ** 2))
        inside = distance.abs() <= half_width
        expect_close(
            got,
            expected,
            "your weights",
            inputs,
            slips={
                "the Gaussian's standard deviation is D / 2, not D (Luong et al., Eq. 10).": (
                    attention.masked_softmax(scores, inside) * torch.exp(-(distance**2) / (2 * half_width**2))
                ),
                "your weights are the windowed softmax alone: multiply them by the Gaussian "
                "exp(-(s - p_t)^2 / (2 (D/2)^2)) around p_t.": attention.masked_softmax(scores, inside),
                "the Gaussian multiplies the weights after the softmax; do not normalise again, so the "
                "weights no longer sum to one.": attention.masked_softmax(scores, inside)
                * gauss
                / (attention.masked_softmax(scores, inside) * gauss).sum(-1, keepdim=True),
            },
        )
    leaves = {
        "the scores": torch.randn(3, 10, generator=generator).requires_grad_(),
        "the centres p": torch.tensor([1.5, 4.2, 8.7]).requires_grad_(),
    }
    weights = call(fn, scores=leaves["the scores"], p=leaves["the centres p"], D=2)
    expect_gradient(weights * projection(weights.shape, 4), "your weights", leaves)
