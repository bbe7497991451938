"""Checkers for chapter 8, adaptive computation time (Graves 2016, Section 2).

- ``ex-08-halting``: the halting distribution p^n for a batch of halting-unit rows, without a
  Python loop and differentiable; compared with ``attnmem.act.halting_distribution``.
- ``ex-08-ponder``: the ponder cost rho = N + R from a batch of halting-unit rows; compared in value
  and in gradient (which flows through the remainder R only) with a reference built on the same function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from attnmem.act import AdaptiveRNN, halting_distribution, ponder_cost
from attnmem.exercises import Mismatch, call, exercise, expect_close, expect_distribution, expect_gradient, projection

__all__ = ["ponder_reference"]


def ponder_reference(units: Tensor, epsilon: float) -> Tensor:
    """rho = N + R per row of halting units (B, n): N counts the steps taken, R is the last step's probability."""
    p = halting_distribution(units, epsilon)
    last = _last_step(p.detach())
    return (last + 1).to(units.dtype) + p.gather(-1, last.unsqueeze(-1)).squeeze(-1)


def _last_step(p: Tensor) -> Tensor:
    """The index N - 1 of the last step that has probability (a remainder is never zero)."""
    taken = p > 0
    index = torch.arange(p.shape[-1], device=p.device).expand_as(p)
    return torch.where(taken, index, torch.zeros_like(index)).amax(dim=-1)


def _cases(generator: torch.Generator) -> list[dict[str, Any]]:
    """Random sigmoid outputs, a first step that halts at once, rows that never reach the threshold, an exact
    tie with the threshold (dyadic numbers, so no rounding), a larger epsilon and a single allowed step."""
    return [
        {"units": torch.sigmoid(torch.randn(6, 8, generator=generator) - 1.0), "epsilon": 0.01},
        {"units": torch.tensor([[0.995, 0.3, 0.2], [0.2, 0.995, 0.1]]), "epsilon": 0.01},
        {"units": torch.full((3, 5), 0.05), "epsilon": 0.01},
        {"units": torch.tensor([[0.5, 0.25, 0.5, 0.5], [0.25, 0.25, 0.125, 0.5]]), "epsilon": 0.25},
        {"units": torch.sigmoid(torch.randn(4, 6, generator=generator)), "epsilon": 0.3},
        {"units": torch.tensor([[0.1], [0.9]]), "epsilon": 0.01},
    ]


def _halting_slips(units: Tensor, epsilon: float) -> dict[str, Tensor]:
    """Rows as known mistakes compute them."""
    p = halting_distribution(units, epsilon)
    last = _last_step(p)
    own = p.scatter(-1, last.unsqueeze(-1), units.gather(-1, last.unsqueeze(-1)))
    return {
        "the last step gets the remainder R = 1 - (sum of the earlier h), not its own h; with its own h the "
        "probabilities do not sum to one.": own,
        "halt at the first step where the running sum of h reaches 1 - epsilon (>=), not 1 (epsilon lets one "
        "confident step halt).": halting_distribution(units, 1e-9),
        "the network halts when the running sum is at least 1 - epsilon (>=); a strict > misses exact ties.": (
            halting_distribution(units - 1e-7, epsilon)
        ),
    }


@exercise(
    "ex-08-halting",
    function="my_halting_batch",
    title="The halting distribution, batched",
    checks=(
        "random halting units of several rows",
        "a first step that halts at once (h > 1 - epsilon)",
        "rows that never reach the threshold: the last allowed step takes the remainder",
        "a running sum exactly equal to 1 - epsilon halts there",
        "another epsilon, and a single allowed step",
        "every row is a distribution (non-negative, sums to one)",
        "gradients reach the halting units",
        "the inputs are left unchanged",
    ),
    forbidden=(halting_distribution, AdaptiveRNN),
)
def _check_halting(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(2016)
    for inputs in _cases(generator):
        units, epsilon = inputs["units"].clone().requires_grad_(True), inputs["epsilon"]
        inputs = {"units": units, "epsilon": epsilon}
        got = call(fn, **inputs)
        expected = halting_distribution(units.detach(), epsilon)
        expect_close(got, expected, "your halting probabilities", inputs, slips=_halting_slips(units.detach(), epsilon))
        expect_distribution(got.detach(), "your halting probabilities", inputs)
        if units.shape[-1] > 1:  # with a single allowed step p = 1 whatever h is: nothing to differentiate
            expect_gradient(got * projection(got.shape, 8), "your halting probabilities", {"units": units})


@exercise(
    "ex-08-ponder",
    function="my_ponder_cost",
    title="The ponder cost and its gradient",
    checks=(
        "random halting units of several rows",
        "a first step that halts at once: rho = 1 + R",
        "rows that never reach the threshold: N is the number of allowed steps",
        "a running sum exactly equal to 1 - epsilon, another epsilon, a single allowed step",
        "the gradient reaches the halting units of the steps before N through R, and no other",
        "the inputs are left unchanged",
    ),
    forbidden=(halting_distribution, ponder_cost, AdaptiveRNN),
)
def _check_ponder(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(2017)
    for inputs in _cases(generator):
        units, epsilon = inputs["units"].clone().requires_grad_(True), inputs["epsilon"]
        inputs = {"units": units, "epsilon": epsilon}
        got = call(fn, **inputs)
        expected = ponder_reference(units.detach(), epsilon)
        p = halting_distribution(units.detach(), epsilon)
        last = _last_step(p)
        expect_close(
            got,
            expected,
            "your ponder costs",
            inputs,
            slips={
                "rho = N + R: add the remainder R to the step count N, not the last step's own h.": (
                    (last + 1).float() + units.detach().gather(-1, last.unsqueeze(-1)).squeeze(-1)
                ),
                "rho = N + R: the step count alone leaves no gradient for the halting unit.": (last + 1).float(),
                "N counts the steps taken, the last one included (N = index of the last step + 1).": (
                    last.float() + p.gather(-1, last.unsqueeze(-1)).squeeze(-1)
                ),
            },
        )
        if (last > 0).any():
            _expect_remainder_gradient(got, units, last)


def _expect_remainder_gradient(got: Tensor, units: Tensor, last: Tensor) -> None:
    """d rho / d h^n is -1 for the steps before N (through R = 1 - sum of their h) and 0 for the others."""
    expect_gradient(got, "your ponder costs", {"units": units})
    index = torch.arange(units.shape[-1]).expand_as(units)
    expected = torch.where(index < last.unsqueeze(-1), -1.0, 0.0)
    grad = units.grad
    if grad is None or not torch.allclose(grad, expected, atol=1e-5):
        wrong = ~torch.isclose(grad, expected, atol=1e-5) if grad is not None else torch.ones_like(units, dtype=torch.bool)
        row, step = (int(i) for i in wrong.nonzero()[0])
        raise Mismatch(
            f"the gradient of your ponder cost with respect to h (row {row}, step {step + 1}) is "
            f"{float(grad[row, step]) if grad is not None else None}, but it should be {float(expected[row, step]):g}: "
            f"N is a count and has no gradient, so the cost depends on h only through R = 1 - sum_(n<N) h^n. "
            f"Each h before step N gets -1, the others 0."
        )
