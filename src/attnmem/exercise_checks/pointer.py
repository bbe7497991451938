"""Checkers for chapter 11, pointer networks (Vinyals, Fortunato & Jaitly 2015).

- ``ex-11-pointer-mask``: the pointer distribution over the positions still available — softmax of the scores u_j
  over the real points not chosen yet, exactly zero elsewhere, with no NaN when one position is left; compared with
  ``attnmem.attention.masked_softmax``.
- ``ex-11-coverage``: the area coverage of a predicted hull (the paper's measure), compared with
  ``attnmem.tasks.geometry.hull_coverage``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from attnmem.attention import masked_softmax
from attnmem.exercises import (
    Mismatch,
    call,
    exercise,
    expect_close,
    expect_distribution,
    expect_finite,
    expect_gradient,
    projection,
)
from attnmem.pointer import pointer_distribution
from attnmem.tasks import geometry

__all__ = ["pointer_mask_reference"]


def pointer_mask_reference(scores: Tensor, lengths: Tensor, chosen: Tensor) -> Tensor:
    """The distribution over the real (``position < length``), not yet chosen positions."""
    real = torch.arange(scores.shape[-1]) < lengths.unsqueeze(-1)
    return masked_softmax(scores, real & ~chosen)


def _mask_cases(generator: torch.Generator) -> list[dict[str, Any]]:
    """Random scores with padding and earlier choices; one position left; large scores; no padding; one point."""
    chosen = torch.rand(4, 7, generator=generator) < 0.3
    chosen[:, 0] = False
    left_one = torch.ones(2, 5, dtype=torch.bool)
    left_one[0, 3] = left_one[1, 0] = False
    return [
        {"scores": torch.randn(4, 7, generator=generator), "lengths": torch.tensor([7, 5, 3, 6]), "chosen": chosen},
        {"scores": torch.randn(2, 5, generator=generator), "lengths": torch.tensor([5, 5]), "chosen": left_one},
        {"scores": 1e4 * torch.randn(3, 6, generator=generator), "lengths": torch.tensor([6, 4, 2]),
         "chosen": torch.tensor([[True, False, False, True, False, False]] * 3)},
        {"scores": torch.randn(2, 4, generator=generator), "lengths": torch.tensor([4, 4]),
         "chosen": torch.zeros(2, 4, dtype=torch.bool)},
        {"scores": torch.randn(1, 1, generator=generator), "lengths": torch.tensor([1]),
         "chosen": torch.zeros(1, 1, dtype=torch.bool)},
    ]


def _mask_slips(scores: Tensor, lengths: Tensor, chosen: Tensor) -> dict[str, Tensor]:
    real = torch.arange(scores.shape[-1]) < lengths.unsqueeze(-1)
    available = real & ~chosen
    return {
        "mask *before* the softmax (give masked scores -inf); zeroing probabilities after it leaves a total below "
        "one.": scores.softmax(-1) * available,
        "padding positions (position >= length) are not points: they must get zero probability too.": (
            masked_softmax(scores, ~chosen)
        ),
        "positions already chosen must get zero probability: that is the mask.": masked_softmax(scores, real),
    }


@exercise(
    "ex-11-pointer-mask",
    function="my_pointer_mask",
    title="The pointer distribution with the mask",
    checks=(
        "random scores with padding and positions chosen before",
        "every position but one masked: that one gets probability 1, and nothing is NaN",
        "scores in the thousands (no overflow)",
        "nothing chosen yet, and a single point",
        "every row is a distribution and masked positions get exactly 0",
        "gradients reach the scores",
        "the inputs are left unchanged",
    ),
    forbidden=(masked_softmax, pointer_distribution),
)
def _check_pointer_mask(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(2015)
    for case in _mask_cases(generator):
        scores = case["scores"].clone().requires_grad_(True)
        inputs = {"scores": scores, "lengths": case["lengths"], "chosen": case["chosen"]}
        got = call(fn, **inputs)
        expect_finite(got, "a masked score of -inf must not reach an exp or a division by zero; subtract the "
                      "largest *available* score before exp, or use masked_fill(..., float('-inf')) then softmax",
                      inputs, "your distribution holds")
        expected = pointer_mask_reference(scores.detach(), case["lengths"], case["chosen"])
        expect_close(got, expected, "your pointer probabilities", inputs,
                     slips=_mask_slips(scores.detach(), case["lengths"], case["chosen"]))
        expect_distribution(got.detach(), "your pointer probabilities", inputs)
        masked = expected == 0
        if bool((got.detach()[masked] != 0).any()):
            raise Mismatch("a masked position must get exactly 0, not a tiny number: fill its score with -inf "
                           f"before the softmax ({_describe_case(inputs)}).")
        if scores.shape[-1] > 1 and bool(((expected > 0).sum(-1) > 1).any()):
            expect_gradient(got * projection(got.shape, 11), "your pointer probabilities", {"scores": scores})


def _describe_case(inputs: dict[str, Any]) -> str:
    return f"scores {tuple(inputs['scores'].shape)}, lengths {inputs['lengths'].tolist()}"


def _coverage_cases(generator: np.random.Generator) -> list[dict[str, Any]]:
    """The true hull (closed and not), a hull missing a vertex, an interior point taken, a crossing polygon, a
    polygon of two points, and a square with a point on an edge."""
    points = generator.random((12, 2))
    hull = geometry.convex_hull(points)
    inside = next(i for i in range(12) if i not in hull)
    square = np.array([[0, 0], [0.5, 0], [1, 0], [1, 1], [0, 1], [0.4, 0.6]], dtype=float)
    points, square = torch.from_numpy(points), torch.from_numpy(square)
    return [
        {"points": points, "output": hull + hull[:1]},
        {"points": points, "output": hull},
        {"points": points, "output": hull[:2] + hull[3:] + hull[:1]},
        {"points": points, "output": hull[:2] + [inside] + hull[2:] + hull[:1]},
        {"points": points, "output": [hull[0], hull[2], hull[1], hull[3], hull[0]]},
        {"points": points, "output": hull[:2] + hull[:1]},
        {"points": square, "output": [0, 1, 2, 3, 4, 0]},
        {"points": square, "output": [0, 2, 5, 0]},
    ]


@exercise(
    "ex-11-coverage",
    function="my_coverage",
    title="Area coverage of a predicted hull",
    checks=(
        "the true hull, with and without the closing repeat of its first point",
        "a hull that misses a vertex, and one that takes an interior point",
        "a polygon whose edges cross covers nothing (0)",
        "a polygon of two points covers nothing (0)",
        "a point on an edge of the hull changes nothing",
        "the inputs are left unchanged",
    ),
    forbidden=(geometry.hull_coverage, geometry.polygon_area),
)
def _check_coverage(fn: Callable[..., Any]) -> None:
    for case in _coverage_cases(np.random.default_rng(2015)):
        got = call(fn, **case)
        expected = geometry.hull_coverage(case["points"].numpy(), case["output"])
        if isinstance(got, Tensor) and got.numel() == 1:
            got = float(got)
        if not isinstance(got, (float, int, np.floating)) or isinstance(got, bool):
            raise Mismatch(f"your coverage should be a Python float (use float(...)), but your function returned a "
                           f"{type(got).__name__} for the output {case['output']}.")
        if not np.isfinite(got) or abs(float(got) - expected) > 1e-6:
            hint = ""
            if expected == 0.0:
                hint = ("\n  Hint: a polygon that is not simple (crossing edges, or fewer than 3 points) covers "
                        "nothing; geometry.is_simple_polygon tells you.")
            elif float(got) == 0.0 and case["output"][-1] == case["output"][0]:
                hint = ("\n  Hint: the output ends by repeating its first point (the closing step); drop that repeat "
                        "before you look at the polygon, or it reads as a point visited twice.")
            elif case["output"][-1] != case["output"][0]:
                hint = "\n  Hint: an output need not repeat its first point at the end; only drop it when it does."
            elif abs(float(got) - 2 * expected) < 1e-6 or abs(float(got) - expected / 2) < 1e-6:
                hint = "\n  Hint: the shoelace formula has a factor 1/2: area = |sum(x_i y_(i+1) - x_(i+1) y_i)| / 2."
            raise Mismatch(f"for the output {case['output']} on {len(case['points'])} points your coverage is "
                           f"{float(got):.6g}, but it should be {expected:.6g}.{hint}")
