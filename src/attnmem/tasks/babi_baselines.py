"""Two memoryless baselines for the bAbI tasks: how much of a task the question, or the question and the last
sentence, give away without reading the story.

Weston et al., "Towards AI-complete question answering" (2015), design each task so that its answer needs the
story's supporting facts; a task that a rule reading only the question solves tests nothing about memory. Both rules
are fitted on a training set and scored on a test set (the error is the share of test questions answered wrong):

- ``question_only``: the most frequent training answer for each exact question text (word order kept, so
  "Does the box fit in the chest?" and "Does the chest fit in the box?" differ); for a question text never seen
  in training, the most frequent answer of the whole training set.
- ``last_sentence``: the most frequent training answer for each (question, last statement) pair; for a pair never
  seen in training, the last word of the last statement that is a training answer (``kitchen`` in *Mary went to the
  kitchen.*), and failing that the question-only answer.
"""
from __future__ import annotations

from collections import Counter
from typing import Hashable, Iterable, Sequence

from attnmem.tasks.babi import Sample, answer_word, generate_split, samples, task_number, tokenize

__all__ = ["question_only", "last_sentence", "baseline_errors"]


def _most_frequent(pairs: Iterable[tuple[Hashable, str]]) -> dict[Hashable, str]:
    """key -> its most frequent answer; a tie goes to the answer seen first, so the result is deterministic."""
    counts: dict[Hashable, Counter[str]] = {}
    for key, answer in pairs:
        counts.setdefault(key, Counter())[answer] += 1
    return {key: answers.most_common(1)[0][0] for key, answers in counts.items()}


def _last(sample: Sample) -> str:
    return sample.context[-1] if sample.context else ""


def _error(guesses: Sequence[str], test: Sequence[Sample]) -> float:
    return sum(guess != answer_word(s.answer) for guess, s in zip(guesses, test)) / len(test)


def _check(train: Sequence[Sample], test: Sequence[Sample]) -> None:
    for name, data in (("train", train), ("test", test)):
        if not data or not all(isinstance(s, Sample) for s in data):
            raise ValueError(f"{name} must be a non-empty list of babi.Sample (babi.samples(stories)); got "
                             f"{type(data).__name__} of {len(data) if hasattr(data, '__len__') else '?'} items")


def _question_guesses(train: Sequence[Sample], test: Sequence[Sample]) -> list[str]:
    _check(train, test)
    overall = Counter(answer_word(s.answer) for s in train).most_common(1)[0][0]
    by_question = _most_frequent((s.question, answer_word(s.answer)) for s in train)
    return [by_question.get(s.question, overall) for s in test]


def question_only(train: Sequence[Sample], test: Sequence[Sample]) -> float:
    """Test error of answering each question with the training set's most frequent answer to the same question."""
    return _error(_question_guesses(train, test), test)


def last_sentence(train: Sequence[Sample], test: Sequence[Sample]) -> float:
    """Test error of answering from the question and the story's last statement only (the module's rule)."""
    by_pair = _most_frequent(((s.question, _last(s)), answer_word(s.answer)) for s in train)
    answers = {answer_word(s.answer) for s in train}
    fallback = _question_guesses(train, test)
    guesses = []
    for sample, otherwise in zip(test, fallback):
        seen = by_pair.get((sample.question, _last(sample)))
        named = [word for word in tokenize(_last(sample)) if word in answers]
        guesses.append(seen or (named[-1] if named else otherwise))
    return _error(guesses, test)


def baseline_errors(task: int | str, size: str = "1k", seed: int = 0) -> tuple[float, float]:
    """(question-only, last-sentence) test error on the generator's ``size`` split of ``task``."""
    split = generate_split(task_number(task), size, seed)
    train, test = samples(split.train), samples(split.test)
    return question_only(train, test), last_sentence(train, test)
