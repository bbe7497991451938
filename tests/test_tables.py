"""Tests of the neural programmer's data: arithmetic expressions and questions about tables."""
from __future__ import annotations

import pytest
import torch

from attnmem.tasks import tables
from attnmem.tasks.tables import (
    ARITH_VOCAB,
    KINDS,
    TABLE_VOCAB,
    arithmetic_task,
    collate,
    evaluate_expression,
    parse_question,
    sample_questions,
    table_task,
)


def test_expression_precedence_by_hand() -> None:
    values = {"a": 2.0, "b": 3.0, "c": 4.0, "d": -1.0}
    assert evaluate_expression(["a", "+", "b", "*", "c"], values) == 14.0
    assert evaluate_expression(["a", "*", "b", "-", "c"], values) == 2.0
    assert evaluate_expression(["a", "-", "b", "-", "d"], values) == 0.0
    assert evaluate_expression(["d"], values) == -1.0


@pytest.mark.parametrize("tokens", [[], ["a", "+"], ["+", "a", "b"], ["a", "/", "b"], ["x"]])
def test_bad_expressions_are_explained(tokens: list[str]) -> None:
    with pytest.raises(ValueError, match="expression|token"):
        evaluate_expression(tokens, {"a": 1.0, "b": 2.0})


def test_arithmetic_task_shapes_answers_and_determinism() -> None:
    batch = arithmetic_task(32, seed=3, n_ops=2)
    assert batch.tokens.shape == (32, 5) and batch.values.shape == (32, 4) and batch.answer.shape == (32,)
    words = {i: w for w, i in ARITH_VOCAB.items()}
    for b in range(32):
        expression = [words[int(i)] for i in batch.tokens[b]]
        assert evaluate_expression(expression, dict(zip("abcd", batch.values[b].tolist()))) == pytest.approx(
            float(batch.answer[b]), abs=1e-5)
    again = arithmetic_task(32, seed=3, n_ops=2)
    assert torch.equal(batch.tokens, again.tokens) and torch.equal(batch.values, again.values)


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"n_ops": 0}, {"low": 1.0, "high": 1.0}, {"seed": -1}])
def test_arithmetic_task_rejects_bad_arguments(kwargs: dict) -> None:
    arguments = {"batch_size": 4, "seed": 0, **kwargs}
    with pytest.raises(ValueError):
        arithmetic_task(**arguments)


def test_questions_answers_match_their_tables() -> None:
    for q in sample_questions(300, seed=0):
        table = q.table
        a = q.slots[0]
        if q.kind == "sum":
            assert q.answer == table[:, a].sum()
        elif q.kind == "count_greater":
            assert q.answer == (table[:, a] > q.numbers[0]).sum()
        elif q.kind == "count_between":
            x, y = q.numbers
            assert q.answer == ((table[:, a] > x) & (table[:, a] < y)).sum()
        elif q.kind == "difference":
            assert q.answer == table[:, a].sum() - table[:, q.slots[1]].sum()
        elif q.kind == "lookup":
            row, col = q.lookup_cell
            b = q.slots[1]
            assert (table[:, b] > q.numbers[0]).sum() == 1 and table[row, b] > q.numbers[0]
            assert col == a and q.answer == table[row, a]
        assert q.text.count(" ") == len(q.words) - 1
        assert all(q.columns[s] in q.words for s in q.slots)


def test_every_kind_appears_and_data_is_deterministic() -> None:
    questions = sample_questions(200, seed=5)
    assert {q.kind for q in questions} == set(KINDS)
    again = sample_questions(200, seed=5)
    assert [q.text for q in questions] == [q.text for q in again]
    assert all(torch.equal(q.table, r.table) for q, r in zip(questions, again))


def test_test_tables_are_unseen() -> None:
    train = {tuple(q.table.flatten().tolist()) for q in sample_questions(300, seed=0, split="train")}
    test = {tuple(q.table.flatten().tolist()) for q in sample_questions(300, seed=0, split="test")}
    assert not train & test


def test_reference_programs_answer_every_kind() -> None:
    from attnmem.programmer import run_program

    for q in sample_questions(200, seed=1):
        result = run_program(tables.reference_program(q), q.table, q.numbers)
        if q.is_lookup:
            assert result.cells == (q.lookup_cell,)
        else:
            assert result.scalar == pytest.approx(q.answer)


def test_collate_places_numbers_at_their_tokens() -> None:
    questions = sample_questions(20, seed=2, kinds=["count_between", "sum"])
    batch = collate(questions)
    assert batch.tokens.shape[0] == 20 and batch.table.shape == (20, 8, 4)
    num = TABLE_VOCAB["<num>"]
    for b, q in enumerate(questions):
        k = len(q.numbers)
        assert batch.number_mask[b].sum() == k
        assert (batch.tokens[b, batch.number_positions[b, :k]] == num).all()
        assert batch.numbers[b, :k].tolist() == list(q.numbers)
    single = table_task(8, seed=0, kinds=["lookup"])
    assert single.is_lookup.all() and (single.lookup.sum((1, 2)) == 1).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"kinds": ["median"]}, "unknown question kinds"),
        ({"split": "valid"}, "split must be"),
        ({"n_cols": 1}, "n_cols"),
        ({"n_rows": 20, "max_value": 10}, "max_value"),
        ({"n": 0}, "n must be a positive int"),
    ],
)
def test_sample_questions_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    arguments = {"n": 4, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        sample_questions(**arguments)


def test_collate_rejects_empty_and_mixed_shapes() -> None:
    with pytest.raises(ValueError, match="at least one"):
        collate([])
    small = sample_questions(1, seed=0, n_rows=5)
    big = sample_questions(1, seed=0, n_rows=8)
    with pytest.raises(ValueError, match="one shape"):
        collate(small + big)


def test_parse_question_reads_numbers_and_explains_mistakes() -> None:
    table = torch.arange(12.0).reshape(4, 3)
    columns = ("price", "age", "score")
    q = parse_question("How many rows have price greater than 3 and lesser than 9?", table, columns)
    assert q.words.count("<num>") == 2 and q.numbers == (3.0, 9.0)
    assert collate([q]).number_mask.all()
    with pytest.raises(ValueError, match="empty"):
        parse_question("   ", table, columns)
    with pytest.raises(ValueError, match="unknown word 'average'"):
        parse_question("what is the average of price", table, columns)
    with pytest.raises(ValueError, match="no column 'weight'"):
        parse_question("what is the sum of weight", table, columns)
    with pytest.raises(ValueError, match="at most 2 numbers"):
        parse_question("price greater than 1 2 3", table, columns)
    with pytest.raises(ValueError, match="table must be"):
        parse_question("what is the sum of price", table[:, :2], columns)


def test_reference_program_of_free_question_is_an_error() -> None:
    q = parse_question("what is the sum of price", torch.ones(3, 2), ("price", "age"))
    with pytest.raises(ValueError, match="no reference program"):
        tables.reference_program(q)
