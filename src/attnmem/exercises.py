"""Checkers for the book's coding exercises: clear, kind feedback that never reveals the solution.

Every coding exercise in a chapter (an ``{exercise}`` directive labelled ``ex-NN-name``) is followed by a cell
in which the reader writes a function and runs ``check("ex-NN-name", my_function)``. The checker calls the
function on random and edge inputs, compares the result with the package's reference and returns a
:class:`CheckResult` that says what differs: a wrong shape, the first index where a value differs (with both
values), a broken invariant, an exception raised by the reader's code (and the line it came from), an input
changed in place. It shows values, never the reference's code. ``check(...).passed`` is what the course's
autograder tests, so a reader sees exactly what a grader will see.

Adding a checker for a new exercise is one decorated function in this module (or in
``attnmem/exercise_checks/<topic>.py``)::

    @exercise("ex-NN-name", function="my_name", title="...", checks=("what is tested, in words", ...),
              forbidden=(attention.additive_scores,))   # the package's own answer, wherever it lives
    def _check_name(fn):
        inputs = {"query": ..., "keys": ...}
        got = call(fn, **inputs)            # runs the reader's function; explains exceptions and stubs
        expect_close(got, reference(...), "your scores", inputs)   # shape, then values, then hints

The helpers raise :class:`Mismatch` with a message for the reader; a checker may raise its own.

Integrity (see :mod:`attnmem.exercise_checks.sandbox`): ``check`` runs the reader's function in a worker process
forked before the checker computes anything, so the expected values are never where the submission runs, and
nothing it patches reaches the checker. There the ``forbidden`` objects and every checker function trip when
called, by any route, and the check fails with "this calls `attnmem.ntm.shift`, the book's own answer ...". A
submission that runs longer than the time limit, exits, prints a lot or changes its inputs gets a precise
message. Helpers the notebook rebound (``expect_close``, ``torch.isclose``, ...) are put back during a check.
"""

from __future__ import annotations

import html
import importlib
import math
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable, Literal

import torch
from torch import Tensor

from attnmem import attention, ntm
from attnmem.exercise_checks import sandbox
from attnmem.exercise_checks.sandbox import Problem, Submission
from attnmem.tasks import algorithmic
from attnmem.training import ntm as ntm_training

__all__ = [
    "CheckResult",
    "Exercise",
    "EXERCISES",
    "Mismatch",
    "NotWritten",
    "exercise",
    "check",
    "Submission",
    "check_additive_scores",
    "check_laplace_scores",
    "call",
    "describe",
    "expect_tensor",
    "expect_close",
    "expect_distribution",
    "expect_gradient",
]

Status = Literal["passed", "failed", "not written"]
CheckFunction = Callable[[Callable[..., Any]], None]


class Mismatch(Exception):
    """The reader's answer differs from the reference; the message is written for the reader."""


class NotWritten(Exception):
    """The reader's function is still the stub: it returned ``None`` or raised ``NotImplementedError``."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one ``check``: ``passed`` and a message for the reader; prints nicely in notebooks."""

    label: str
    function: str
    status: Status
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark = {"passed": "✓", "failed": "✗", "not written": "…"}[self.status]
        return f"{mark} {self.label}: {self.message}"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        colour = {"passed": "#2e7d32", "failed": "#c62828", "not written": "#546e7a"}[self.status]
        heading = {"passed": "Well done", "failed": "Not quite yet", "not written": "Waiting for your code"}
        body = html.escape(self.message).replace("\n", "<br>")
        return (
            f'<div class="attnmem-check" style="border-left:4px solid {colour};padding:0.4em 0.8em;'
            f'margin:0.3em 0"><strong style="color:{colour}">{heading[self.status]}</strong> '
            f"<code>{html.escape(self.label)}</code><br>{body}</div>"
        )


@dataclass(frozen=True)
class Exercise:
    """A registered coding exercise: its label, the function the reader writes, and its checker."""

    label: str
    function: str
    title: str
    checks: tuple[str, ...]  # what the checker tests, in words (the instructor page lists them)
    run: CheckFunction  # raises Mismatch or NotWritten while the answer is not right yet
    points: int = 1
    forbidden: tuple[Any, ...] = ()  # the package's own answer: functions, methods or classes

    @property
    def chapter(self) -> str:
        return self.label.split("-")[1]


#: label -> Exercise, for every coding exercise in the book (the assignment builder reads it).
EXERCISES: dict[str, Exercise] = {}


def exercise(
    label: str,
    *,
    function: str,
    title: str,
    checks: tuple[str, ...],
    points: int = 1,
    forbidden: tuple[Any, ...] = (),
) -> Callable[[CheckFunction], CheckFunction]:
    """Register the decorated checker under ``label`` (``ex-NN-name``, as in the chapter's ``{exercise}``).

    ``forbidden`` holds the package's objects that answer the exercise (a function, a method, a class): a
    submission that calls one of them, by any route, fails with a message that names it.
    """
    parts = label.split("-")
    if len(parts) < 3 or parts[0] != "ex" or not parts[1].isdigit():
        raise ValueError(f"exercise labels look like 'ex-01-additive' (ex, chapter, name); got {label!r}")

    def register(run: CheckFunction) -> CheckFunction:
        if label in EXERCISES:
            raise ValueError(f"exercise {label!r} is registered twice")
        EXERCISES[label] = Exercise(label, function, title, checks, run, points, tuple(forbidden))
        return run

    return register


_PRISTINE = sandbox.Pristine()


def check(label: str, fn: Callable[..., Any], *, time_limit: float = sandbox.TIME_LIMIT_S) -> CheckResult:
    """Check the reader's function for exercise ``label``; the result explains any difference kindly.

    The function runs in a worker process (see the module docstring); ``time_limit`` is the number of seconds
    it may run, all calls together.
    """
    if label not in EXERCISES:
        known = ", ".join(sorted(EXERCISES)) or "none"
        raise KeyError(f"no checker for exercise {label!r}; the exercises with checkers are: {known}")
    entry = EXERCISES[label]
    if not callable(fn) or isinstance(fn, type):
        raise TypeError(
            f"check needs your function itself, as in check({label!r}, {entry.function}); "
            f"got a {type(fn).__name__}"
        )
    name = getattr(fn, "__name__", entry.function)
    reapply = _PRISTINE.restore()
    submission = Submission(fn, entry.forbidden, time_limit)
    try:
        submission.start()
        entry.run(submission)
    except NotWritten as reason:
        return CheckResult(label, name, "not written", f"{name} is not written yet: {reason}")
    except Mismatch as reason:
        return _failed(label, name, f"{reason}\nFix it and run the cell again: you are close.", submission)
    except Problem as problem:
        if problem.kind == "not written":
            return CheckResult(label, name, "not written", f"{name} is not written yet: {problem}")
        return _failed(label, name, str(problem), submission)
    except Exception as error:  # the checker tripped over an unexpected result: say what it got, not where
        returned = submission.last_type or "nothing usable"
        return _failed(
            label,
            name,
            f"the checker could not use what {name} returned ({returned}): {type(error).__name__}: {error}.\n"
            f"  Check the type and the shape that the exercise asks for.",
            submission,
        )
    finally:
        submission.close()
        reapply()
    checks = "; ".join(entry.checks)
    message = f"{name} passed all {len(entry.checks)} checks: {checks}."
    return CheckResult(label, name, "passed", _with_printed(message, submission))


def _with_printed(message: str, submission: Submission) -> str:
    if not submission.printed:
        return message
    return f"{message}\n(Your function printed while it was checked; the first call's output:\n{submission.printed[0]})"


def _failed(label: str, name: str, message: str, submission: Submission) -> CheckResult:
    return CheckResult(label, name, "failed", _with_printed(message, submission))


# ---- the kit every checker uses ---------------------------------------------------------------------------


def describe(inputs: dict[str, Any]) -> str:
    """``query (2, 3, 5), bandwidth 0.7``: the inputs of a case, tensors by their shape."""
    parts = []
    for name, value in inputs.items():
        if isinstance(value, Tensor) and value.dim() > 0:
            parts.append(f"{name} {tuple(value.shape)}")
        elif isinstance(value, (Tensor, float, int)):
            parts.append(f"{name} {float(value.detach() if isinstance(value, Tensor) else value):.4g}")
        else:
            parts.append(f"{name} {value!r}")
    return ", ".join(parts)


def call(fn: Callable[..., Any], **inputs: Any) -> Any:
    """Call the reader's function with ``inputs`` (in order, positionally); explain exceptions and stubs.

    Inside ``check``, ``fn`` is the :class:`Submission`: the call runs in the worker, which also notices an
    input changed in place. A plain function (a checker's own helper) is called here.
    """
    if isinstance(fn, Submission):
        try:
            result = fn.run(inputs, describe(inputs))
        except Problem as problem:
            if problem.kind == "not written":
                raise NotWritten(str(problem)) from None
            if problem.kind in ("raised", "mutated"):  # a slip in the code: the reader is close
                raise Mismatch(str(problem)) from None
            raise  # a forbidden call, a time-out, an exit: said as it is, in check
    else:
        result = fn(*inputs.values())
    if result is None:
        raise NotWritten(
            "it returned None. Replace the `...` in its body with your code (and `return` the result), "
            "then run the cell again."
        )
    return result


def _first(where: Tensor) -> tuple[int, ...]:
    return tuple(int(i) for i in where.nonzero()[0])


def expect_tensor(
    got: Any,
    shape: tuple[int, ...],
    what: str,
    inputs: dict[str, Any],
    hints: dict[tuple[int, ...], str] | None = None,
) -> Tensor:
    """``got`` must be a finite floating point tensor of ``shape``; ``hints`` explain known wrong shapes."""
    if not isinstance(got, Tensor):
        raise Mismatch(f"{what} should be a torch.Tensor, but your function returned a {type(got).__name__}.")
    if not got.is_floating_point():
        raise Mismatch(f"{what} should hold floating point numbers, but have dtype {got.dtype}.")
    if tuple(got.shape) != tuple(shape):
        hint = (hints or {}).get(tuple(got.shape), "")
        raise Mismatch(
            f"{what} have shape {tuple(got.shape)}, but should have shape {tuple(shape)} "
            f"for {describe(inputs)}."
            + (f"\n  Hint: {hint}" if hint else "")
        )
    if not torch.isfinite(got).all():
        index = _first(~torch.isfinite(got))
        raise Mismatch(
            f"{what} hold {got[index].item()} at index {index} for {describe(inputs)}; "
            f"every entry should be a finite number."
        )
    return got


def expect_close(
    got: Any,
    expected: Tensor,
    what: str,
    inputs: dict[str, Any],
    *,
    shape_hints: dict[tuple[int, ...], str] | None = None,
    slips: dict[str, Tensor] | None = None,
    rtol: float = 1e-4,
    atol: float = 1e-5,
) -> Tensor:
    """``got`` must match ``expected`` in shape and value; report the first differing index and both values.

    ``slips`` maps an explanation to the output that a known mistake gives: when the reader's output matches
    one, its explanation is added as a hint.
    """
    got = expect_tensor(got, tuple(expected.shape), what, inputs, shape_hints)
    ours, theirs = got.detach().to(expected.dtype), expected.detach()
    differ = ~torch.isclose(ours, theirs, rtol=rtol, atol=atol)
    if not differ.any():
        return got
    index = _first(differ)
    message = (
        f"{what} differ from the reference at {int(differ.sum())} of {differ.numel()} entries for "
        f"{describe(inputs)}.\n  The first is at index {index}: yours is {ours[index].item():.6g}, "
        f"it should be {theirs[index].item():.6g}."
    )
    for hint, slip in (slips or {}).items():
        if slip.shape == ours.shape and torch.allclose(ours, slip.to(ours.dtype), rtol=rtol, atol=atol):
            message += f"\n  Hint: {hint}"
            break
    raise Mismatch(message)


def expect_distribution(weights: Tensor, what: str, inputs: dict[str, Any], dim: int = -1) -> None:
    """Every slice along ``dim`` must be non-negative and sum to one (attention or addressing weights)."""
    if (weights < 0).any():
        index = _first(weights < 0)
        raise Mismatch(
            f"{what} must be non-negative, but the entry at {index} is {weights[index].item():.6g} for "
            f"{describe(inputs)}."
        )
    totals = weights.sum(dim)
    off = ~torch.isclose(totals, torch.ones_like(totals), atol=1e-4)
    if off.any():
        index = _first(off)
        raise Mismatch(
            f"{what} must sum to 1 along dimension {dim}, but the slice at {index} sums to "
            f"{totals[index].item():.6g} for {describe(inputs)}."
        )


def projection(shape: torch.Size, seed: int) -> Tensor:
    """Fixed random weights for a test loss whose gradient is not zero by symmetry (a softmax sums to one)."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def expect_finite(got: Any, hint: str, inputs: dict[str, Any], what: str = "your result holds") -> None:
    """Explain NaN or infinity in a floating point result with ``hint`` (the cause the case tests)."""
    if isinstance(got, Tensor) and got.is_floating_point() and not torch.isfinite(got).all():
        index = _first(~torch.isfinite(got))
        raise Mismatch(f"{what} {got[index].item()} at index {index} for {describe(inputs)}.\n  Hint: {hint}")


def expect_gradient(output: Tensor, what: str, leaves: dict[str, Tensor]) -> None:
    """Backpropagate from ``output``; every leaf that should learn needs a finite, non-zero gradient."""
    if not output.requires_grad:
        raise Mismatch(
            f"no gradient flows back through {what}: did you use .detach(), .item(), .numpy(), "
            f"torch.no_grad() or build a new tensor with torch.tensor(...)? Attention is trained by "
            f"gradient descent, so every step must stay inside torch."
        )
    for leaf in leaves.values():
        leaf.grad = None
    output.sum().backward()
    for name, leaf in leaves.items():
        if leaf.grad is None or not torch.isfinite(leaf.grad).all() or not bool(leaf.grad.abs().sum() > 0):
            state = "no gradient" if leaf.grad is None else "a zero or non-finite gradient"
            raise Mismatch(
                f"{name} gets {state} through {what}; it must take part in the computation, "
                f"so that it can be learned."
            )


# ---- chapter 1: attention as a soft lookup --------------------------------------------------------------


@exercise(
    "ex-01-additive",
    function="my_additive",
    title="Write the additive score",
    checks=(
        "random batched inputs whose query and key sizes differ",
        "inputs without a batch dimension",
        "batch dimensions that broadcast",
        "one query and one key",
        "large inputs that saturate the tanh",
        "gradients reach the query, the keys and all three parameters",
        "the inputs are left unchanged",
    ),
    forbidden=(attention.additive_scores, attention.AdditiveScore),
)
def _check_additive(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(2015)
    cases = [  # query shape, keys shape, hidden size, input scale
        ((2, 3, 5), (2, 7, 4), 8, 1.0),
        ((3, 5), (7, 4), 6, 1.0),
        ((2, 1, 3, 5), (4, 6, 5), 8, 1.0),
        ((1, 1, 3), (1, 1, 2), 4, 1.0),
        ((2, 4, 5), (2, 6, 4), 8, 30.0),
    ]
    for query_shape, key_shape, hidden, scale in cases:
        inputs = {
            "query": scale * torch.randn(*query_shape, generator=generator),
            "keys": scale * torch.randn(*key_shape, generator=generator),
            "w_query": torch.randn(query_shape[-1], hidden, generator=generator),
            "w_key": torch.randn(key_shape[-1], hidden, generator=generator),
            "v": torch.randn(hidden, generator=generator),
        }
        q, k, w_query, w_key, v = inputs.values()
        expected = attention.additive_scores(q, k, w_query, w_key, v)
        *batch, queries, positions = expected.shape
        expect_close(
            call(fn, **inputs),
            expected,
            "your scores",
            inputs,
            shape_hints={
                (
                    *batch,
                    positions,
                    queries,
                ): "rows should be queries and columns positions; yours look transposed.",
                (
                    *batch,
                    queries,
                    positions,
                    hidden,
                ): "that is one number per hidden unit; the last step combines "
                "them with v into one score per (query, position) pair.",
            },
            slips={
                "your scores match the ones without the tanh: the hidden layer needs its non-linearity.": (
                    (q @ w_query).unsqueeze(-2) + (k @ w_key).unsqueeze(-3)
                )
                @ v,
            },
        )
    leaves = {name: value.clone().requires_grad_() for name, value in inputs.items()}
    expect_gradient(call(fn, **leaves), "your scores", leaves)


def _laplace_reference(query: Tensor, keys: Tensor, bandwidth: Tensor | float) -> Tensor:
    return -(query - keys.transpose(-1, -2)).abs() / bandwidth


@exercise(
    "ex-01-laplace",
    function="my_laplace_scores",
    title="Another kernel",
    checks=(
        "random column vectors of queries and keys with several bandwidths",
        "one query and one key at the same place",
        "scores are never positive, and 0 where a key equals the query",
        "a tiny bandwidth and far-apart points stay finite",
        "the softmax of the scores, in attnmem.attention.attend, gives weights that sum to one",
        "a learnable bandwidth tensor gets a gradient, so fit can train it",
        "the inputs are left unchanged",
    ),
)
def _check_laplace(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(1964)
    for n_query, n_key, width in [(6, 9, 0.7), (4, 4, 2.0), (1, 1, 0.3), (5, 8, 1e-3)]:
        query = 5 * torch.rand(n_query, 1, generator=generator)
        keys = query.clone() if n_key == 1 else 5 * torch.rand(n_key, 1, generator=generator)
        inputs = {"query": query, "keys": keys, "bandwidth": width}
        expected = _laplace_reference(query, keys, width)
        transposed = {(n_key, n_query): "rows should be queries and columns keys; yours look transposed."}
        got = expect_tensor(call(fn, **inputs), tuple(expected.shape), "your scores", inputs, transposed)
        if (got > 0).any():
            index = _first(got > 0)
            raise Mismatch(
                f"your scores should never be positive, but the one at {index} is "
                f"{got[index].item():.6g} for {describe(inputs)}.\n  Hint: a key further from the query "
                f"must score lower, and a key exactly at the query scores 0, the largest score there is."
            )
        distance = query - keys.T
        expect_close(
            got,
            expected,
            "your scores",
            inputs,
            slips={
                "the Laplace kernel uses the distance |q - k| itself, not its square.": -(distance**2)
                / width,
                "the bandwidth divides the distance (a wider kernel lets far points score higher); it does "
                "not multiply it.": -distance.abs() * width,
            },
        )
    query, keys = torch.tensor([[1.0], [2.5]]), torch.tensor([[0.0], [1.0], [4.0]])
    inputs = {"query": query, "keys": keys, "bandwidth": 0.5}

    def score(q: Tensor, k: Tensor) -> Tensor:
        return call(fn, query=q, keys=k, bandwidth=0.5)

    weights = attention.attend(query, keys, keys, score=score).weights
    expect_distribution(weights, "the attention weights made from your scores", inputs)
    log_bandwidth = torch.tensor(math.log(0.8), requires_grad=True)
    scores = call(fn, query=query, keys=keys, bandwidth=log_bandwidth.exp())
    expect_gradient(scores, "your scores", {"the bandwidth": log_bandwidth})


def check_additive_scores(fn: Callable[..., Any]) -> CheckResult:
    """Check ``my_additive(query, keys, w_query, w_key, v)`` (exercise ``ex-01-additive``)."""
    return check("ex-01-additive", fn)


def check_laplace_scores(fn: Callable[..., Any]) -> CheckResult:
    """Check ``my_laplace_scores(query, keys, bandwidth)`` (exercise ``ex-01-laplace``)."""
    return check("ex-01-laplace", fn)


# ---- chapters 6 and 7: neural Turing machines -----------------------------------------------------------


_ZERO_NORM = (
    "a norm is 0 here (a zero key, or an erased row). Add a small epsilon such as 1e-8 to each norm, or "
    "clamp the norms from below, so that the cosine is 0 / epsilon = 0 instead of 0 / 0."
)


@exercise(
    "ex-06-content",
    function="my_content_addressing",
    title="Content addressing, batched and safe",
    checks=(
        "random memories and keys, batched, with one and with several heads",
        "key strengths 0 (a uniform weighting), 1, 5 and 200",
        "a zero key, a zero row and an all-zero memory give finite weights (uniform for a zero key)",
        "the weights of every head sum to one over the locations",
        "gradients reach the memory, the key and beta, and stay finite at a zero key",
        "the inputs are left unchanged",
    ),
    forbidden=(ntm.content_addressing,),
)
def _check_content(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(2014)
    cases = [  # batch, heads, locations, width, key strength, what is special
        (2, 1, 8, 4, 5.0, ""),
        (3, 2, 6, 5, 1.0, ""),
        (1, 3, 5, 3, 0.0, ""),
        (2, 2, 7, 4, 200.0, ""),
        (2, 2, 6, 4, 5.0, "key"),
        (2, 1, 6, 4, 5.0, "row"),
        (1, 2, 5, 3, 5.0, "memory"),
    ]
    for batch, heads, locations, width, strength, zero in cases:
        memory = torch.randn(batch, locations, width, generator=generator)
        key = torch.randn(batch, heads, width, generator=generator)
        if zero == "key":
            key[0, 1] = 0.0
        elif zero == "row":
            memory[:, 2] = 0.0
        elif zero == "memory":
            memory.zero_()
        beta = torch.full((batch, heads), strength)
        beta[:, 0] = strength / 2  # the heads of one step have different strengths
        inputs = {"memory": memory, "key": key, "beta": beta}
        got = call(fn, **inputs)
        if zero:
            expect_finite(got, _ZERO_NORM, inputs)
        expected = ntm.content_addressing(memory, key, beta)
        got = expect_tensor(
            got,
            tuple(expected.shape),
            "your weights",
            inputs,
            hints={
                (batch, locations, heads): "the result should be (batch, heads, locations); "
                "yours looks transposed.",
                (batch, heads, locations, width): "that is one number per entry of a row; the cosine sums "
                "the products over the width into one similarity per (head, location).",
            },
        )
        try:
            expect_distribution(got, "your weights", inputs)
        except Mismatch as reason:
            raise Mismatch(
                f"{reason}\n  Hint: take the softmax over the locations, the last dimension."
            ) from None
        dot = torch.bmm(key, memory.transpose(1, 2))
        norms = (key.norm(dim=-1, keepdim=True) + 1e-8) * (memory.norm(dim=-1).unsqueeze(1) + 1e-8)
        expect_close(
            got,
            expected,
            "your weights",
            inputs,
            rtol=1e-3,
            slips={
                "your weights ignore beta: the key strength multiplies the cosine before the softmax.": (
                    torch.softmax(dot / norms, dim=-1)
                ),
                "your weights use the plain dot product; divide it by both norms to get the cosine.": (
                    torch.softmax(beta.unsqueeze(-1) * dot, dim=-1)
                ),
            },
        )
    memory, key = torch.randn(2, 6, 4, generator=generator), torch.randn(2, 2, 4, generator=generator)
    leaves = {
        "the memory": memory.requires_grad_(),
        "the key": key.requires_grad_(),
        "beta": torch.tensor([[2.0, 5.0], [1.0, 3.0]], requires_grad=True),
    }
    weights = call(fn, **dict(zip(("memory", "key", "beta"), leaves.values())))
    expect_gradient(weights * projection(weights.shape, 0), "your weights", leaves)
    leaves = {
        "the memory": torch.randn(1, 5, 4, generator=generator).requires_grad_(),
        "the key": torch.zeros(1, 1, 4, requires_grad=True),
        "beta": torch.tensor([[3.0]], requires_grad=True),
    }
    weights = call(fn, **dict(zip(("memory", "key", "beta"), leaves.values())))
    (weights * projection(weights.shape, 1)).sum().backward()
    for name, leaf in leaves.items():
        if leaf.grad is not None and not torch.isfinite(leaf.grad).all():
            raise Mismatch(
                f"with a zero key, the gradient of your weights with respect to {name} holds NaN or infinity."
                f"\n  Hint: a square root has an infinite slope at 0, so sqrt((key ** 2).sum()) breaks there;"
                f" torch.linalg.vector_norm (or .norm()) has a finite gradient at 0."
            )


def _circular(weights: Tensor, shift_weights: Tensor) -> Tensor:
    """A shift with zero padding instead of wrap-around: the slip that forgets the convolution is circular."""
    padded = torch.nn.functional.pad(weights, (1, 1))
    return (
        shift_weights[..., :1] * padded[..., 2:]
        + shift_weights[..., 1:2] * weights
        + (shift_weights[..., 2:] * padded[..., :-2])
    )


@exercise(
    "ex-06-roll",
    function="my_roll_shift",
    title="Shift with torch.roll",
    checks=(
        "random weightings and shift distributions, batched, with several heads",
        "one-hot shifts by -1, 0 and +1 move a focus by one location, wrapping around at both ends",
        "memories of one and two locations",
        "the result sums to one whenever the weighting and the shift distribution do",
        "gradients reach the weighting and the shift distribution",
        "the inputs are left unchanged",
    ),
    forbidden=(ntm.shift,),
)
def _check_roll_shift(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(1014)
    one_hot = torch.eye(3).view(3, 1, 3)  # three batch entries: all mass on -1, on 0, on +1
    focus = torch.zeros(3, 1, 6)
    focus[:, :, 5] = 1.0  # on the last location, so that +1 wraps around to location 0
    cases = [
        {
            "weights": torch.softmax(3 * torch.randn(2, 3, 7, generator=generator), -1),
            "s": torch.softmax(torch.randn(2, 3, 3, generator=generator), -1),
        },
        {"weights": focus, "s": one_hot},
        {"weights": focus.roll(1, -1), "s": one_hot},  # on location 0, so that -1 wraps around to the last
        {
            "weights": torch.softmax(torch.randn(4, 1, 2, generator=generator), -1),
            "s": torch.softmax(torch.randn(4, 1, 3, generator=generator), -1),
        },
        {"weights": torch.ones(2, 2, 1), "s": torch.softmax(torch.randn(2, 2, 3, generator=generator), -1)},
    ]
    for inputs in cases:
        weights, s = inputs["weights"], inputs["s"]
        expected = ntm.shift(weights, s)
        got = expect_close(
            call(fn, **inputs),
            expected,
            "your shifted weights",
            inputs,
            shape_hints={
                (*weights.shape[:2], 3): "the result has one weight per location, like the weighting."
            },
            slips={
                "your shifts go the wrong way: the last entry of s is the shift +1, which moves the weight "
                "at location j to location j + 1 (torch.roll(w, 1, dims=-1) does that).": ntm.shift(
                    weights, s.flip(-1)
                ),
                "the shift is circular: weight pushed past the last location wraps around to location 0, and "
                "past location 0 to the last one.": _circular(weights, s),
            },
        )
        expect_distribution(got, "your shifted weights", inputs)
    leaves = {
        "the weighting": torch.softmax(torch.randn(2, 2, 5, generator=generator), -1).requires_grad_(),
        "the shift distribution": torch.softmax(
            torch.randn(2, 2, 3, generator=generator), -1
        ).requires_grad_(),
    }
    shifted = call(fn, **dict(zip(("weights", "s"), leaves.values())))
    expect_gradient(shifted * projection(shifted.shape, 2), "your shifted weights", leaves)


# ---- chapter 7: neural Turing machines, learning algorithms ---------------------------------------------


@exercise(
    "ex-07-bit-errors",
    function="my_bit_errors",
    title="Count the wrong bits",
    checks=(
        "random logits on batches of the copy and repeat copy tasks",
        "perfect logits give 0 wrong bits and inverted ones every scored bit",
        "a sequence with no scored step gives 0",
        "a logit of exactly 0 (probability one half) predicts 0",
        "one count per sequence",
        "the inputs are left unchanged",
    ),
    forbidden=(algorithmic.bit_errors, ntm_training.evaluate_bit_errors),
)
def _check_bit_errors(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(2016)
    batches = [
        algorithmic.copy_task(5, 1, 6, seed=generator),
        algorithmic.copy_task(1, 4, 4, width=3, seed=generator),
        algorithmic.repeat_copy_task(3, 1, 3, 1, 3, width=4, seed=generator),
    ]
    for task in batches:
        signs = task.targets * 2 - 1
        for logits in (3 * torch.randn(task.targets.shape, generator=generator), 4 * signs, -4 * signs):
            _compare_bit_errors(fn, logits, task)
    task = algorithmic.copy_task(3, 2, 5, seed=generator)
    no_steps = task._replace(mask=task.mask.clone())
    no_steps.mask[1] = False
    _compare_bit_errors(fn, 3 * torch.randn(task.targets.shape, generator=generator), no_steps)
    ties = torch.where(torch.rand(task.targets.shape, generator=generator) < 0.5, 0.0, 2.0)
    _compare_bit_errors(fn, ties, task)


def _compare_bit_errors(fn: Callable[..., Any], logits: Tensor, task: algorithmic.AlgorithmicBatch) -> None:
    inputs = {"logits": logits, "targets": task.targets, "mask": task.mask}
    got = call(fn, **inputs)
    if isinstance(got, Tensor) and not got.is_floating_point() and not got.is_complex():
        got = got.float()  # a count may well be an int tensor; the bit-error curves average it as a float
    expected = algorithmic.bit_errors(logits, task)
    scored = task.mask.unsqueeze(-1)
    batch = expected.shape[0]
    steps, width = task.targets.shape[1:]

    def errors(predicted: Tensor, where: Tensor) -> Tensor:
        return ((predicted.float() != task.targets) & where).sum(dim=(1, 2)).float()

    expect_close(
        got,
        expected,
        "your bit errors",
        inputs,
        shape_hints={
            (): "that is one number for the whole batch; count the wrong bits of each sequence separately.",
            (batch, steps): "that is one count per step; add up the steps of each sequence too.",
            (batch, steps, width): "that is one entry per bit; add up the wrong bits of each sequence.",
            (batch, width): "that is one count per bit channel; add up the channels of each sequence too.",
        },
        slips={
            "only the steps where mask is True are scored: leave out the others.": errors(
                logits > 0, torch.ones_like(scored)
            ),
            "threshold the logits at 0, which is probability one half: a logit of 0.3 already predicts 1.": (
                errors(logits > 0.5, scored)
            ),
            "a logit of exactly 0 is probability one half, which counts as predicting 0: use `> 0`.": errors(
                logits >= 0, scored
            ),
            "count the wrong bits (a sum), not their fraction.": errors(logits > 0, scored)
            / (scored.sum(dim=(1, 2)) * width).clamp_min(1),
        },
    )


@exercise(
    "ex-07-write",
    function="my_write",
    title="Erase, then add",
    checks=(
        "random memories, weightings, erase and add vectors, batched",
        "a one-hot weighting with a full erase replaces that row by the add vector",
        "rows with weight 0 are left unchanged",
        "an erase vector of zeros only adds",
        "gradients reach the memory, the weighting, the erase and the add vectors",
        "the inputs are left unchanged",
    ),
    forbidden=(ntm.write_memory,),
)
def _check_write(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(2018)
    focus = torch.zeros(2, 5)
    focus[0, 1], focus[1, 4] = 1.0, 1.0
    spread = torch.softmax(2 * torch.randn(3, 6, generator=generator), -1)
    spread[:, 0] = 0.0  # location 0 gets no weight at all
    cases = [
        (torch.randn(3, 6, 4, generator=generator), spread, torch.rand(3, 4, generator=generator)),
        (torch.randn(2, 5, 3, generator=generator), focus, torch.ones(2, 3)),
        (
            torch.randn(1, 4, 5, generator=generator),
            torch.softmax(torch.randn(1, 4, generator=generator), -1),
            torch.zeros(1, 5),
        ),
    ]
    for memory, weights, erase in cases:
        add = torch.randn(memory.shape[0], memory.shape[2], generator=generator)
        inputs = {"memory": memory, "weights": weights, "erase": erase, "add": add}
        expected = ntm.write_memory(memory, weights[:, None], erase[:, None], add[:, None])
        column, erase_row, add_row = weights.unsqueeze(-1), erase.unsqueeze(-2), add.unsqueeze(-2)
        batch, locations, width = memory.shape
        expect_close(
            call(fn, **inputs),
            expected,
            "the entries of your new memory",
            inputs,
            shape_hints={
                (batch, width, locations): "the memory is (batch, locations, width); yours looks "
                "transposed: the weighting picks rows, erase and add act along each row."
            },
            slips={
                "you add first and then erase, so part of what was just written is wiped again: erase first, "
                "then add.": (memory + column * add_row) * (1 - column * erase_row),
                "the add vector goes to each row in proportion to its weight: multiply it by the weighting "
                "too.": memory * (1 - column * erase_row) + add_row,
                "the erase vector acts on each row in proportion to its weight: erase with 1 - w_i e, "
                "not 1 - e.": memory * (1 - erase_row) + column * add_row,
            },
        )
    leaves = {
        "the memory": torch.randn(2, 5, 3, generator=generator).requires_grad_(),
        "the weighting": torch.softmax(torch.randn(2, 5, generator=generator), -1).requires_grad_(),
        "the erase vector": torch.rand(2, 3, generator=generator).requires_grad_(),
        "the add vector": torch.randn(2, 3, generator=generator).requires_grad_(),
    }
    written = call(fn, **dict(zip(("memory", "weights", "erase", "add"), leaves.values())))
    expect_gradient(written * projection(written.shape, 3), "your new memory", leaves)


# ---- later chapters keep their checkers in attnmem/exercise_checks/<topic>.py; importing registers them ------
def _register_chapter_checks() -> None:
    from attnmem import exercise_checks

    for module in sorted(pkgutil.iter_modules(exercise_checks.__path__), key=lambda m: m.name):
        importlib.import_module(f"attnmem.exercise_checks.{module.name}")


_register_chapter_checks()
_PRISTINE.record()
