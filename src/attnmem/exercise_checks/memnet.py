"""Checkers for chapter 5, end-to-end memory networks (Sukhbaatar, Szlam, Weston & Fergus 2015).

- ``ex-05-position``: the position-encoding weights l_kj = (1 - j/J) - (k/d)(1 - 2j/J) of Section 4.1 for a
  batch of padded sentences, compared with ``attnmem.memnet.position_encoding``.
- ``ex-05-hop``: one memory hop (Eqs. 1-2 and the query update of Section 2.2), p = softmax(u^T m_i) over the
  real sentences only and u + o, compared with ``attnmem.attention.masked_softmax`` and the weighted read that
  ``attnmem.memnet.MemN2N.forward`` does at every hop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from attnmem.attention import masked_softmax
from attnmem.exercises import (
    Mismatch,
    call,
    describe,
    exercise,
    expect_close,
    expect_distribution,
    expect_finite,
    expect_gradient,
    expect_tensor,
    projection,
)
from attnmem.memnet import MemN2N, position_encoding, softmax_with_empty_memory

__all__ = ["hop_reference"]


# ---- ex-05-position --------------------------------------------------------------------------------------


def _position_variant(
    lengths: Tensor,
    max_length: int,
    dim: int,
    *,
    j_from: int = 1,
    k_from: int = 1,
    own_length: bool = True,
    masked: bool = True,
    sign: float = -1.0,
) -> Tensor:
    """Position weights as a slip computes them (0-based counters, one J for all, no mask, a wrong sign)."""
    j = torch.arange(j_from, j_from + max_length, dtype=torch.float32).unsqueeze(1)
    k = torch.arange(k_from, k_from + dim, dtype=torch.float32)
    counts = lengths.clamp(min=1) if own_length else torch.full_like(lengths, max_length)
    big_j = counts.float()[..., None, None]
    weights = (1 - j / big_j) + sign * (k / dim) * (1 - 2 * j / big_j)
    if not masked:
        return weights
    inside = torch.arange(1, max_length + 1).view(max_length, 1) <= lengths[..., None, None]
    return torch.where(inside, weights, 0.0)


_TRANSPOSED = "rows should be word positions j and columns embedding coordinates k; yours look transposed."
_ONE_MATRIX = (
    "that is one matrix for all sentences; each sentence has its own length, so the result has one "
    "(max_length, dim) matrix per entry of lengths, with lengths' shape in front."
)


@exercise(
    "ex-05-position",
    function="my_pe",
    title="Position encoding for padded sentences",
    checks=(
        "one sentence (lengths a 0-d tensor): the (J, d) matrix of Section 4.1",
        "a batch of sentences of different lengths padded to a longer max_length",
        "a (stories, slots) grid of lengths with empty slots of length 0, which get all-zero weights",
        "the smallest case: one word, one coordinate",
        "embedding sizes from 1 to 20",
        "positions past each sentence's end get weight 0",
        "the inputs are left unchanged",
    ),
    forbidden=(position_encoding,),
)
def _check_position(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(2015)
    cases = [  # lengths, max_length, dim
        (torch.tensor(5), 5, 8),
        (torch.tensor([3, 7, 1]), 7, 4),
        (torch.tensor([2, 6]), 9, 6),
        (torch.randint(0, 7, (2, 4), generator=generator).index_fill_(1, torch.tensor([3]), 0), 6, 20),
        (torch.tensor([1]), 1, 1),
    ]
    for lengths, max_length, dim in cases:
        inputs = {"lengths": lengths, "max_length": max_length, "dim": dim}
        got = call(fn, **inputs)
        if bool((lengths == 0).any()):
            expect_finite(
                got,
                "a slot of length 0 (an empty memory) should get all-zero weights; dividing by "
                "J = 0 gives infinity, and infinity times 0 is NaN. Divide by J clamped to at least 1, "
                "or choose the zeros with torch.where instead of multiplying by a mask.",
                inputs,
                "your weights hold",
            )
        expected = position_encoding(lengths, max_length, dim)
        batch = tuple(lengths.shape)
        expect_close(
            got,
            expected,
            "your weights",
            inputs,
            shape_hints={(*batch, dim, max_length): _TRANSPOSED, (max_length, dim): _ONE_MATRIX},
            slips={
                "count the word positions j from 1, not from 0 (torch.arange(1, J + 1)).": _position_variant(
                    lengths, max_length, dim, j_from=0
                ),
                "count the embedding coordinates k from 1 to d, not from 0.": _position_variant(
                    lengths, max_length, dim, k_from=0
                ),
                "both counters start at 1 in Section 4.1: j = 1..J and k = 1..d.": _position_variant(
                    lengths, max_length, dim, j_from=0, k_from=0
                ),
                "J is each sentence's own word count (its entry of lengths), not the padded max_length.": (
                    _position_variant(lengths, max_length, dim, own_length=False)
                ),
                "words past a sentence's end are padding: give them weight 0.": _position_variant(
                    lengths, max_length, dim, masked=False
                ),
                "the second term, (k/d)(1 - 2j/J), is subtracted from 1 - j/J, not added.": _position_variant(
                    lengths, max_length, dim, sign=1.0
                ),
            },
        )


# ---- ex-05-hop -------------------------------------------------------------------------------------------


def hop_reference(u: Tensor, m: Tensor, c: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """One hop of ``MemN2N.forward`` (adjacent tying): the next query u + o and the attention p."""
    p = masked_softmax(torch.einsum("bmd,bd->bm", m, u), mask)
    return u + torch.einsum("bm,bmd->bd", p, c), p


def _hop_parts(got: Any, inputs: dict[str, Any]) -> tuple[Any, Any]:
    """The reader's (next query, attention); explain a result that is not such a pair."""
    if isinstance(got, Tensor):
        raise Mismatch(
            f"your function returned one tensor of shape {tuple(got.shape)}; return two things, "
            f"`return u_next, p`: the next query u + o of shape {tuple(inputs['u'].shape)} and the attention "
            f"p of shape {tuple(inputs['mask'].shape)}."
        )
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        kind = f"a {type(got).__name__}" + (
            f" of length {len(got)}" if isinstance(got, (tuple, list)) else ""
        )
        raise Mismatch(
            f"your function returned {kind}; return a pair `u_next, p` (the next query, the attention)."
        )
    return got[0], got[1]


_EMPTY_ROW = (
    "here a question has no sentence at all in memory (its mask row is all False): a softmax over "
    "scores that are all -inf is 0 / 0 = NaN. That question should read nothing: p all zero and "
    "o = 0. Fill the masked scores with a large negative number instead of -inf and multiply the "
    "weights by the mask afterwards, or use chapter 1's attnmem.attention.masked_softmax."
)
_OVERFLOW = (
    "these scores are large (up to thousands), and exp of them overflows to infinity: torch.softmax "
    "subtracts the largest score before exponentiating, so it stays finite."
)
_EMPTY_SLOT = (
    "empty slots must get exactly zero weight, so that the real sentences share all of it: before the "
    "softmax, set the scores of the empty slots to a very large negative number (multiplying them by 0 is "
    "not enough: a score of 0 still gets weight)."
)
_PER_COORDINATE = (
    "that is one weight per coordinate; the score u^T m_i sums over the embedding coordinates, one number "
    "per (question, slot)."
)
_EVERY_STORY = (
    "that scores every question against every story; each question attends over its own story only (a "
    "product batched over the questions: torch.einsum or torch.bmm)."
)
_PER_SLOT = (
    "that is one vector per slot; the read o sums the output memories weighted by p over the slots, one "
    "vector per question."
)


@exercise(
    "ex-05-hop",
    function="my_hop",
    title="One memory hop",
    checks=(
        "random batches of questions whose stories have different lengths (trailing empty slots)",
        "empty slots between sentences, and slots whose memories would score highest if they were not masked",
        "a memory of a single sentence",
        "a question with no sentence in memory reads nothing (p all zero, u unchanged) and gives no NaN",
        "large scores that overflow a naive exp",
        "p is zero on empty slots and sums to one over each question's sentences",
        "gradients reach u, m and c and stay finite when a memory is empty",
        "the inputs are left unchanged",
    ),
    forbidden=(softmax_with_empty_memory, MemN2N),
)
def _check_hop(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(2016)
    holes = torch.tensor(
        [
            [True, False, True, True, False],
            [False, True, True, False, True],
            [True, True, True, True, True],
            [False, False, False, False, False],
        ]
    )
    cases = [  # batch, slots, dim, input scale, mask, what is special
        (3, 6, 5, 1.0, torch.arange(6) < torch.tensor([[6], [3], [1]]), ""),
        (4, 5, 4, 1.0, holes, "empty"),
        (2, 1, 4, 1.0, torch.ones(2, 1, dtype=torch.bool), ""),
        (2, 7, 6, 30.0, torch.arange(7) < torch.tensor([[7], [4]]), "large"),
    ]
    for batch, slots, dim, scale, mask, special in cases:
        u = scale * torch.randn(batch, dim, generator=generator)
        m = scale * torch.randn(batch, slots, dim, generator=generator)
        c = torch.randn(batch, slots, dim, generator=generator)
        if special == "empty":  # masked slots that would win the softmax if the mask were ignored
            m = torch.where(mask.unsqueeze(-1), m, 5 * u.unsqueeze(1))
        inputs = {"u": u, "m": m, "c": c, "mask": mask}
        u_next, p = _hop_parts(call(fn, **inputs), inputs)
        if special:
            hint = _EMPTY_ROW if special == "empty" else _OVERFLOW
            expect_finite(p, hint, inputs, "your attention weights hold")
            expect_finite(u_next, hint, inputs, "the entries of your next query hold")
        expected_u, expected_p = hop_reference(u, m, c, mask)
        p = expect_tensor(
            p,
            (batch, slots),
            "your attention weights",
            inputs,
            hints={(batch, slots, dim): _PER_COORDINATE, (batch, batch, slots): _EVERY_STORY},
        )
        if (p[~mask] != 0).any():
            where = tuple(int(i) for i in (~mask & (p != 0)).nonzero()[0])
            hint = _EMPTY_SLOT if bool(mask[where[0]].any()) else _EMPTY_ROW
            raise Mismatch(
                f"your attention gives weight {p[where].item():.6g} to slot {where[1]} of question "
                f"{where[0]}, which is empty (its mask entry is False), for {describe(inputs)}."
                f"\n  Hint: {hint}"
            )
        try:
            expect_distribution(p[mask.any(-1)], "your attention weights", inputs)
        except Mismatch as reason:
            raise Mismatch(
                f"{reason}\n  Hint: take the softmax over the slots (the last dimension), after "
                f"masking; zeroing the empty slots after the softmax leaves weights that sum to less "
                f"than one."
            ) from None
        expect_close(
            p,
            expected_p,
            "your attention weights",
            inputs,
            slips={
                "the score of slot i is the dot product of the query u with the input memory m_i (not with "
                "c_i, which is what is read).": masked_softmax(torch.einsum("bmd,bd->bm", c, u), mask),
            },
        )
        o = torch.einsum("bm,bmd->bd", expected_p, c)
        expect_close(
            u_next,
            expected_u,
            "the entries of your next query",
            inputs,
            shape_hints={(batch, slots, dim): _PER_SLOT},
            slips={
                "that is the read o alone; the next query adds it to the query: u + o (Section 2.2).": o,
                "that is the query unchanged; add the read o = sum_i p_i c_i to it.": u,
                "the read weights the output memories c_i, not the input memories m_i: o = sum_i p_i c_i.": (
                    u + torch.einsum("bm,bmd->bd", expected_p, m)
                ),
            },
        )
    for mask in (
        torch.ones(3, 4, dtype=torch.bool),
        torch.tensor([[True, True, True, False], [False, False, False, False], [True, True, False, False]]),
    ):
        leaves = {
            "u": torch.randn(3, 4, generator=generator).requires_grad_(),
            "m": torch.randn(3, 4, 4, generator=generator).requires_grad_(),
            "c": torch.randn(3, 4, 4, generator=generator).requires_grad_(),
        }
        inputs = {**leaves, "mask": mask}
        u_next, p = _hop_parts(call(fn, **inputs), inputs)
        output = (u_next * projection(u_next.shape, 0)).sum() + (p * projection(p.shape, 1)).sum()
        if bool(mask.all()):
            expect_gradient(output, "your next query and attention", leaves)
            continue
        output.backward()
        for name, leaf in leaves.items():
            if leaf.grad is not None and not torch.isfinite(leaf.grad).all():
                raise Mismatch(
                    f"the gradient with respect to {name} holds NaN or infinity when one question has "
                    f"an empty memory.\n  Hint: look for a step that "
                    f"divides by a count or a norm that is 0 for an empty memory, or takes the square "
                    f"root of 0: its slope there is infinite."
                )
