"""Chapter 9's exercise checkers: right answers pass; each kind of wrong answer gets its own precise message."""

from __future__ import annotations

import pytest
import torch
from checker_testing import failed, passes_and_stubs_are_not_written
from torch.nn import functional as F

from attnmem import programmer
from attnmem.exercise_checks.programmer import greater_reference, scalar_steps
from attnmem.exercises import check
from attnmem.programmer import OPERATIONS
from attnmem.tasks.tables import table_task

SUM, COUNT, DIFFERENCE = (OPERATIONS.index(name) for name in ("sum", "count", "difference"))


def greater(table, numbers, columns, pointers):
    above = (table.unsqueeze(-1) > numbers[:, None, None, :]).float()
    return ((above * pointers[:, None, None, :]).sum(-1) * columns[:, None, :]).sum(-1)


def scalar_step(table, selector, scalar, scalar_before, operations, columns):
    total = (columns * (selector.unsqueeze(-1) * table).sum(1)).sum(-1)
    alpha = operations[:, [SUM, COUNT, DIFFERENCE]]
    new = alpha[:, 0] * total + alpha[:, 1] * selector.sum(-1) + alpha[:, 2] * (scalar_before - scalar)
    return new + (1 - alpha.sum(-1)) * scalar


ANSWERS = {"ex-09-greater": greater, "ex-09-scalar": scalar_step}


@pytest.mark.parametrize("label", ANSWERS)
def test_right_answers_pass_and_stubs_are_not_written(label):
    passes_and_stubs_are_not_written(label, ANSWERS[label])


def test_other_right_answers_pass_too():
    def greater_with_loops(table, numbers, columns, pointers):
        out = torch.zeros(table.shape[:2], dtype=torch.float64)
        for b in range(table.shape[0]):
            for i in range(table.shape[1]):
                for j in range(table.shape[2]):
                    for k in range(numbers.shape[1]):
                        if table[b, i, j] > numbers[b, k]:
                            out[b, i] += columns[b, j] * pointers[b, k]
        return out

    def greater_with_einsum(table, numbers, columns, pointers):
        above = (table[..., None] > numbers[:, None, None, :]).to(table.dtype)
        return torch.einsum("brcn,bc,bn->br", above, columns, pointers)

    def scalar_kept_dimension(table, selector, scalar, scalar_before, operations, columns):
        return scalar_step(table, selector, scalar, scalar_before, operations, columns).unsqueeze(-1)

    def scalar_by_names(table, selector, scalar, scalar_before, operations, columns):
        results = {
            "sum": torch.einsum("br,brc,bc->b", selector, table, columns),
            "count": selector.sum(-1),
            "difference": scalar_before - scalar,
        }
        new = scalar.clone()
        for name, value in results.items():
            alpha = operations[:, OPERATIONS.index(name)]
            new = new + alpha * (value - scalar)
        return new

    assert check("ex-09-greater", greater_with_einsum).passed
    assert check("ex-09-scalar", scalar_kept_dimension).passed, "a (B, 1) result is fine"
    assert check("ex-09-scalar", scalar_by_names).passed
    assert check("ex-09-greater", greater_with_loops).passed, "loops and float64 are fine"


def test_the_references_are_the_package_executor_and_the_discrete_interpreter():
    table = torch.tensor([[[1.0, 10.0], [5.0, 20.0], [9.0, 30.0]]])
    numbers = torch.tensor([[4.0, 25.0]])
    gamma, beta = torch.tensor([[0.8, 0.2]]), torch.tensor([[1.0, 0.0]])
    by_hand = 0.8 * torch.tensor([0.0, 1.0, 1.0]) + 0.2 * torch.tensor([1.0, 1.0, 1.0])
    torch.testing.assert_close(greater_reference(table, numbers, gamma, beta)[0], by_hand)
    # one-hot programs: every step's scalar is what the plain-Python interpreter computes
    task = table_task(3, seed=4, n_rows=6, n_cols=3)
    plan = [("greater", 1, 0), ("sum", 2, 0), ("count", 0, 0), ("difference", 0, 0)]
    ops = F.one_hot(torch.tensor([OPERATIONS.index(o) for o, _, _ in plan]), len(OPERATIONS)).float()
    cols = F.one_hot(torch.tensor([c for _, c, _ in plan]), 3).float()
    steps = scalar_steps(
        task.table,
        task.numbers,
        task.number_mask,
        ops.expand(3, -1, -1),
        cols.expand(3, -1, -1),
        F.one_hot(torch.zeros(3, 4, dtype=torch.long), task.numbers.shape[1]).float(),
    )
    for t, (inputs, expected) in enumerate(steps, 1):
        torch.testing.assert_close(scalar_step(*inputs.values()), expected)
        for b in range(3):
            numbers_b = task.numbers[b][task.number_mask[b]].tolist()
            result = programmer.run_program(plan[:t], task.table[b], numbers_b)
            assert result.scalar == pytest.approx(float(expected[b]), abs=1e-3)


def test_greater_slips_get_hints():
    def compare(relation):
        def selector(table, numbers, columns, pointers):
            cells, pivots = table.unsqueeze(-1), numbers[:, None, None, :]
            test = (cells >= pivots) if relation == ">=" else (cells < pivots)
            return ((test.float() * pointers[:, None, None, :]).sum(-1) * columns[:, None, :]).sum(-1)

        return selector

    def averaged(table, numbers, columns, pointers):
        above = (table.unsqueeze(-1) > numbers[:, None, None, :]).float()
        return (above * pointers[:, None, None, :]).sum(-1).mean(-1)

    def mixed_first(table, numbers, columns, pointers):
        return ((table * columns[:, None, :]).sum(-1) > (pointers * numbers).sum(-1, keepdim=True)).float()

    def argmax_number(table, numbers, columns, pointers):
        pivot = numbers.gather(1, pointers.argmax(-1, keepdim=True))
        return ((table > pivot.unsqueeze(-1)).float() * columns[:, None, :]).sum(-1)

    def normalised(table, numbers, columns, pointers):
        return greater(table, numbers, columns, pointers / pointers.sum(-1, keepdim=True))

    def no_number_case_skipped(table, numbers, columns, pointers):  # right except where there is no number
        safe = torch.where(pointers.sum(-1, keepdim=True) > 0, pointers, torch.ones_like(pointers))
        return greater(table, numbers, columns, safe / safe.sum(-1, keepdim=True))

    def in_place(table, numbers, columns, pointers):
        columns /= columns.sum(-1, keepdim=True)
        return greater(table, numbers, columns, pointers)

    failed(check("ex-09-greater", compare(">=")), "differ from the reference", "compare with `>`, not `>=`")
    failed(check("ex-09-greater", compare("<")), "M_ij > n_k, not M_ij < n_k")
    failed(check("ex-09-greater", averaged), "mixed with the column choice gamma_j, not averaged")
    failed(check("ex-09-greater", mixed_first), "comparing the mixed column with the mixed number")
    failed(check("ex-09-greater", argmax_number), "picking one number", "the pointer's argmax")
    failed(check("ex-09-greater", normalised), "hold nan", "do not divide by its sum")
    failed(check("ex-09-greater", no_number_case_skipped), "question 0 has no number")
    failed(
        check("ex-09-greater", lambda t, n, c, p: (t.unsqueeze(-1) > n[:, None, None, :]).float().sum(-1)),
        "shape (4, 8, 4), but should have shape (4, 8)",
        "mix the columns with their weights gamma_j",
    )
    failed(
        check("ex-09-greater", lambda t, n, c, p: (t.unsqueeze(-1) > n[:, None, None, :]).float().sum(-2)),
        "should have shape (4, 8)",
        "mix the numbers with the pointer beta_k",
    )
    failed(check("ex-09-greater", lambda *a: greater(*a) > 0.5), "floating point")
    failed(check("ex-09-greater", lambda *a: greater(*a).detach()), "no gradient flows back")
    failed(check("ex-09-greater", in_place), "changed its input `columns` in place")
    failed(check("ex-09-greater", lambda *a: greater(*a).tolist()), "should be a torch.Tensor")


def test_scalar_slips_get_hints():
    def variant(keep=True, reverse=False, selected=True, weighted=True, count="soft"):
        def step(table, selector, scalar, scalar_before, operations, columns):
            rows = selector if selected else torch.ones_like(selector)
            sums = (rows.unsqueeze(-1) * table).sum(1)
            total = (columns * sums).sum(-1) if weighted else sums.sum(-1)
            counted = {
                "soft": selector.sum(-1),
                "rows": torch.full_like(scalar, table.shape[1]),
                "hard": selector.round().sum(-1),
            }[count]
            difference = scalar - scalar_before if reverse else scalar_before - scalar
            alpha = operations[:, [SUM, COUNT, DIFFERENCE]]
            new = alpha[:, 0] * total + alpha[:, 1] * counted + alpha[:, 2] * difference
            return new + (1 - alpha.sum(-1)) * scalar if keep else new

        return step

    failed(check("ex-09-scalar", variant(keep=False)), "differ from the reference", "keeps the old value")
    failed(check("ex-09-scalar", variant(reverse=True)), "scalar_before minus scalar")
    failed(check("ex-09-scalar", variant(selected=False)), "weight each row by the selector")
    failed(check("ex-09-scalar", variant(weighted=False)), "instead of adding all columns")
    failed(check("ex-09-scalar", variant(count="rows")), "not the number of rows")
    failed(check("ex-09-scalar", variant(count="hard")), "a row half in play counts one half")

    def per_column(table, selector, scalar, scalar_before, operations, columns):
        return (selector.unsqueeze(-1) * table).sum(1)

    def per_operation(table, selector, scalar, scalar_before, operations, columns):
        return operations * scalar.unsqueeze(-1)

    failed(
        check("ex-09-scalar", per_column), "shape (4, 4), but should have shape (4,)", "one sum per column"
    )
    failed(check("ex-09-scalar", per_operation), "should have shape (4,)", "one number per operation")
    failed(check("ex-09-scalar", lambda *a: scalar_step(*a).sum()), "one number for the whole batch")
    failed(check("ex-09-scalar", lambda *a: scalar_step(*a).detach()), "no gradient flows back")

    def ignores_scalar_before(table, selector, scalar, scalar_before, operations, columns):
        return scalar_step(table, selector, scalar, scalar.detach(), operations, columns)

    failed(check("ex-09-scalar", ignores_scalar_before), "differ from the reference")

    def in_place(table, selector, scalar, scalar_before, operations, columns):
        selector.clamp_(0, 1)
        scalar.mul_(1.0)
        operations[:, -1] = 0.0
        return scalar_step(table, selector, scalar, scalar_before, operations, columns)

    failed(check("ex-09-scalar", in_place), "changed its input `operations` in place")


def test_messages_never_show_the_reference_code():
    wrong = {
        "ex-09-greater": [lambda *a: greater(*a) * 1.5, lambda *a: greater(*a).T, lambda *a: None],
        "ex-09-scalar": [lambda *a: scalar_step(*a) + 1.0, lambda *a: scalar_step(*a)[:1], lambda *a: None],
    }
    for label, answers in wrong.items():
        for fn in answers:
            message = check(label, fn).message
            for secret in (
                "execute_table",
                "one_hot(",
                "unsqueeze(",
                "[:, None",
                ".sum(-1)",
                "OPERATIONS.index",
            ):
                assert secret not in message, (label, message)
