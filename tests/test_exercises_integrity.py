"""Every coding exercise's check refuses the package's own answer and cannot be gamed, hung or escaped.

For each registered exercise: the chapter's solution passes; a submission that calls the package's implementation
(each of the exercise's ``forbidden`` objects and the checker's exported references) by name, under another name,
through its module or through a helper of its own fails with a message naming what it called; a submission that
reads ``expected`` from the checker's stack frames finds nothing, and one that patches the comparison helpers
(inside the function or at the notebook's top level) still fails. Then the ways out: an endless loop, exit(),
KeyboardInterrupt, os._exit, an exception, a flood of prints, a wrong type and an input changed in place each
get a precise message, never a traceback.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
import torch

from attnmem import exercises
from attnmem.exercise_checks import sandbox
from attnmem.exercises import EXERCISES, check

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import assignments as kit  # noqa: E402  (tools/ is not a package)

SOLUTIONS = {e.label: e for c in kit.chapters_with_exercises(rubrics=False) for e in c.exercises if e.coding}
LABELS = sorted(EXERCISES)


def honest(label: str) -> types.FunctionType:
    """The chapter's solution, defined as the student notebook's answer cell defines it."""
    exercise = SOLUTIONS[label]
    code = kit.CHECK_CALL.sub("", kit.solution_cell(exercise))
    namespace: dict = {}
    exec(compile(code, f"<answer {label}>", "exec"), namespace)
    return namespace[exercise.function]


def targets(label: str) -> list[object]:
    """The package's answers to ``label``: its forbidden objects and the references its checker exports."""
    entry = EXERCISES[label]
    module = sys.modules[entry.run.__module__]
    used = set(entry.run.__code__.co_names)
    references = [
        value
        for name, value in vars(module).items()
        if name in used and isinstance(value, types.FunctionType) and value.__module__ == module.__name__
        and ("reference" in name or name == "scalar_steps")
    ]
    return [*entry.forbidden, *references]


def _path(target: object) -> tuple[str, str]:
    """(module, dotted path inside it) of what a student calls: a function, a method, a class (or its apply)."""
    path = target.__qualname__
    if isinstance(target, type) and "__init__" not in vars(target) and "forward" in vars(target):
        path += ".apply"  # a torch.autograd.Function
    return target.__module__, path


def cheats(label: str, target: object) -> dict[str, types.FunctionType]:
    """Submissions that hand the work to ``target`` by each route a student might take."""
    module, path = _path(target)
    top, _, rest = path.partition(".")
    rest = f".{rest}" if rest else ""
    sources = {
        "by name": f"from {module} import {top}\ndef cheat(*args):\n    return {top}{rest}(*args)\n",
        "alias": f"from {module} import {top} as mine\ndef cheat(*args):\n    return mine{rest}(*args)\n",
        "module": f"import {module}\ndef cheat(*args):\n    return {module}.{path}(*args)\n",
        "helper": (
            f"import {module} as helpers\ndef compute(*args):\n    return helpers.{path}(*args)\n"
            f"def cheat(*args):\n    return compute(*args)\n"
        ),
    }
    made = {}
    for route, source in sources.items():
        namespace: dict = {}
        exec(compile(source, f"<cheat {label} {route}>", "exec"), namespace)
        made[route] = namespace["cheat"]
    return made


CASES = [(label, target) for label in LABELS for target in targets(label)]


def test_every_exercise_but_the_ones_without_a_package_answer_has_one_to_refuse():
    without = sorted(label for label in LABELS if not targets(label))
    assert without == ["ex-03-entropy"], without
    assert all(EXERCISES[label].forbidden or targets(label) for label in LABELS if label not in without)


@pytest.mark.parametrize("label", LABELS)
def test_the_chapter_solution_passes(label):
    if label not in SOLUTIONS:
        pytest.skip(f"{label} has no answer cell in a chapter of the book yet")
    result = check(label, honest(label))
    assert result.passed, result.message


@pytest.mark.parametrize(
    "label, target", CASES, ids=[f"{label}-{target.__qualname__}" for label, target in CASES]
)
def test_calling_the_package_answer_is_refused_by_every_route(label, target):
    name = f"{target.__module__}.{target.__qualname__}"
    for route, cheat in cheats(label, target).items():
        result = check(label, cheat)
        assert result.status == "failed", f"{route}: {result}"
        assert f"this calls `{name}" in result.message, f"{route}: {result.message}"
        assert "the book's own answer to this exercise: write it yourself" in result.message


def test_a_reloaded_copy_of_the_module_is_recognised_by_its_source():
    def cheat(weights, s):
        import importlib.util

        import attnmem.ntm

        spec = importlib.util.spec_from_file_location("copy_of_ntm", attnmem.ntm.__file__)
        copy = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(copy)
        return copy.shift(weights, s)

    result = check("ex-06-roll", cheat)
    assert result.status == "failed" and "this calls `attnmem.ntm.shift`" in result.message, result.message


def test_the_package_other_building_blocks_stay_allowed():
    def with_masked_softmax(scores, p, D):
        from attnmem import attention

        positions = torch.arange(scores.shape[-1], dtype=scores.dtype)
        distance = positions - p.unsqueeze(-1)
        weights = attention.masked_softmax(scores, distance.abs() <= D)
        return weights * torch.exp(-(distance**2) / (2 * (D / 2) ** 2))

    result = check("ex-04-local", with_masked_softmax)
    assert result.passed, result.message


@pytest.mark.parametrize("label", LABELS)
def test_reading_expected_from_the_checker_frames_finds_nothing(label):
    def cheat(*args):
        frame = sys._getframe(1)
        while frame is not None:
            for name, value in frame.f_locals.items():
                if name.startswith("expected"):
                    return value
            frame = frame.f_back
        raise LookupError("no expected value in any frame")

    result = check(label, cheat)
    assert result.status == "failed" and "no expected value in any frame" in result.message, result.message


def _patch_comparisons() -> dict[tuple[object, str], object]:
    """Make every comparison helper and torch's comparisons always agree; return what was replaced."""
    replaced = {}
    modules = [m for n, m in sys.modules.items() if n == "attnmem.exercises" or n.startswith("attnmem.exercise_checks")]
    for module in modules:
        for name in ("expect_close", "expect_tensor", "expect_distribution", "expect_gradient", "expect_finite"):
            if hasattr(module, name):
                replaced[module, name] = getattr(module, name)
                setattr(module, name, lambda got, *args, **kwargs: got)
    for name in ("isclose", "allclose", "equal"):
        replaced[torch, name] = getattr(torch, name)
    torch.isclose = lambda a, b, **kwargs: torch.ones_like(a, dtype=torch.bool)
    torch.allclose = torch.equal = lambda *args, **kwargs: True
    return replaced


def _wrong(*args):
    return torch.zeros(3)


@pytest.mark.parametrize("label", LABELS)
def test_patching_the_comparison_helpers_does_not_pass(label):
    def patches_then_answers(*args):
        _patch_comparisons()
        return _wrong(*args)

    result = check(label, patches_then_answers)
    assert result.status == "failed", result.message
    replaced = _patch_comparisons()  # as a notebook's top-level cell would, before check runs
    try:
        result = check(label, _wrong)
        assert result.status == "failed", result.message
        assert exercises.expect_close is not replaced[exercises, "expect_close"], "the notebook's patch is kept"
    finally:
        for (owner, name), value in replaced.items():
            setattr(owner, name, value)


@pytest.mark.parametrize("label", LABELS)
def test_an_endless_loop_is_stopped_with_a_clear_message(label):
    def loops(*args):
        while True:
            pass

    result = check(label, loops, time_limit=0.5)
    assert result.status == "failed", result.message
    assert "has run for 0.5 s without returning" in result.message and "loop" in result.message


def _exits(*args):
    exit()


def _sys_exit(*args):
    sys.exit(3)


def _interrupts(*args):
    raise KeyboardInterrupt


def _ends_process(*args):
    import os

    os._exit(1)


def _raises(*args):
    raise ValueError("a reader's bug")


def _prints(*args):
    for i in range(5_000):  # about 50,000 characters, far past what a result shows
        print("line", i)
    raise ValueError("after printing")


def _wrong_type(*args):
    return "a string"


def _mutates(*args):
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if not tensors:
        raise ValueError("no input to change in place")  # the exercise takes sizes only
    first = tensors[0]
    with torch.no_grad():
        if first.dtype == torch.bool:
            first.logical_not_()
        else:
            first.add_(1)
    return first.clone()


ESCAPES = {
    _exits: "called exit()",
    _sys_exit: "called exit() (SystemExit 3)",
    _interrupts: "raised KeyboardInterrupt",
    _ends_process: "ended the Python process it ran in",
    _raises: "raised ValueError: a reader's bug",
    _prints: "printed:\nline 0\nline 1",
    _wrong_type: "str",
    _mutates: "in place",
}


@pytest.mark.parametrize("label", LABELS)
def test_exits_errors_prints_wrong_types_and_mutations_get_precise_feedback(label):
    messages = {}
    for submission, fragment in ESCAPES.items():
        result = check(label, submission)  # nothing escapes: each returns a result
        assert result.status == "failed", f"{submission.__name__}: {result}"
        accepted = (fragment, "no input to change in place") if submission is _mutates else (fragment,)
        assert any(f in result.message for f in accepted), f"{submission.__name__}: {result.message}"
        assert "Traceback" not in result.message and 'File "' not in result.message
        messages[submission] = result.message
    assert re.search(r"… and [\d,]+ more characters", messages[_prints])
