"""What the tests of every chapter's exercise checkers share: a right answer passes every check and a stub reads as
"not written"; a wrong one fails with a message that names what was wrong."""

from __future__ import annotations

from collections.abc import Callable

from attnmem.exercises import EXERCISES, CheckResult, check


def failed(result: CheckResult, *fragments: str) -> None:
    """``result`` is a failure whose message contains every one of ``fragments``."""
    assert result.status == "failed" and not result.passed and not result, result.message
    for fragment in fragments:
        assert fragment in result.message, f"{fragment!r} is not in the message:\n{result.message}"


def passes_and_stubs_are_not_written(label: str, answer: Callable) -> None:
    """``answer`` passes every check of ``label``; a stub with ``...`` as its body, or one that raises
    ``NotImplementedError``, is "not written" rather than wrong; the registry entry is complete."""
    result = check(label, answer)
    assert result.passed and result.status == "passed", result.message
    assert f"passed all {len(EXERCISES[label].checks)} checks" in result.message

    def stub(*args): ...

    def raises(*args):
        raise NotImplementedError

    for unwritten in (stub, raises):
        result = check(label, unwritten)
        assert result.status == "not written" and "is not written yet" in result.message, result.message
    entry = EXERCISES[label]
    assert (
        entry.chapter == label.split("-")[1] and entry.function.startswith("my_") and len(entry.checks) >= 5
    )
