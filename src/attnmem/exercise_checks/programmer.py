"""Checkers for chapter 9, the neural programmer (Neelakantan, Le & Sutskever 2016).

- ``ex-09-greater``: the soft ``greater`` row selector of the paper,
  ``s_i = sum_j gamma_j sum_k beta_k [M_ij > n_k]`` for a batch of tables, compared with one step of
  ``attnmem.programmer.execute_table`` whose operation is ``greater`` with probability one.
- ``ex-09-scalar``: one step of the scalar register: the soft ``sum``, ``count`` and ``difference`` mixed by the
  operation distribution, the rest of the probability keeping the old value; compared step by step with the
  scalars that ``execute_table`` computes while it runs random soft programs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from attnmem.exercises import (
    Mismatch,
    call,
    exercise,
    expect_close,
    expect_finite,
    expect_gradient,
    expect_tensor,
    projection,
)
from attnmem.programmer import OPERATIONS, TableProgrammer, execute_table
from attnmem.tasks.tables import table_task

__all__ = ["greater_reference", "scalar_steps"]

_SUM, _COUNT, _DIFFERENCE = (OPERATIONS.index(name) for name in ("sum", "count", "difference"))


def _soft(shape: tuple[int, ...], generator: torch.Generator, sharpness: float = 1.5) -> Tensor:
    """Random distributions over the last dimension, neither uniform nor one-hot."""
    return torch.softmax(sharpness * torch.randn(*shape, generator=generator), dim=-1)


# ---- ex-09-greater ----------------------------------------------------------------------------------------------


def greater_reference(table: Tensor, numbers: Tensor, columns: Tensor, pointers: Tensor) -> Tensor:
    """The row selector (B, R) after one step of ``execute_table`` whose operation is ``greater`` for sure."""
    batch = table.shape[0]
    operation = F.one_hot(torch.full((batch, 1), OPERATIONS.index("greater")), len(OPERATIONS)).float()
    every_number = torch.ones(numbers.shape, dtype=torch.bool)
    selectors, _, _ = execute_table(
        table, numbers, every_number, operation, columns[:, None], pointers[:, None]
    )
    return selectors[:, 0]


def _compared(
    table: Tensor,
    numbers: Tensor,
    columns: Tensor,
    pointers: Tensor,
    relation: str = ">",
    column_weights: bool = True,
) -> Tensor:
    """A selector as a known slip computes it: another comparison, or the columns averaged instead of weighted."""
    cells, pivots = table[..., None], numbers[:, None, None, :]
    test = {">": cells > pivots, ">=": cells >= pivots, "<": cells < pivots}[relation].float()
    per_cell = (test * pointers[:, None, None, :]).sum(-1)  # (B, R, C)
    if column_weights:
        return (per_cell * columns[:, None, :]).sum(-1)
    return per_cell.mean(-1)


def _greater_cases(generator: torch.Generator) -> list[dict[str, Tensor]]:
    """Tables of the chapter's task with soft and one-hot choices, ties, a question without numbers, tiny tables."""
    cases = []
    task = table_task(4, generator, n_rows=8, n_cols=4)
    pointers = _soft(tuple(task.numbers.shape), generator) * task.number_mask
    pointers = pointers / pointers.sum(-1, keepdim=True).clamp_min(1e-12)
    pointers[0] = 0.0  # the first question has no number: nothing to compare with
    cases.append(
        {
            "table": task.table,
            "numbers": task.numbers,
            "columns": _soft((4, 4), generator),
            "pointers": pointers,
        }
    )
    # one-hot choices whose pivots are cells of the chosen column, so that ties decide rows
    table = torch.randint(0, 10, (3, 6, 3), generator=generator).float()
    column = torch.tensor([0, 2, 1])
    pivots = table[torch.arange(3), torch.tensor([1, 4, 0]), column]
    numbers = torch.stack([pivots, torch.full((3,), 100.0)], dim=1)
    cases.append(
        {
            "table": table,
            "numbers": numbers,
            "columns": F.one_hot(column, 3).float(),
            "pointers": F.one_hot(torch.zeros(3, dtype=torch.long), 2).float(),
        }
    )
    # soft choices over signed, fractional values
    cases.append(
        {
            "table": torch.randn(2, 5, 3, generator=generator),
            "numbers": torch.randn(2, 3, generator=generator),
            "columns": _soft((2, 3), generator),
            "pointers": _soft((2, 3), generator),
        }
    )
    # the smallest table: one row, one column, one number
    cases.append(
        {
            "table": torch.tensor([[[3.0]], [[-1.0]]]),
            "numbers": torch.tensor([[2.0], [2.0]]),
            "columns": torch.ones(2, 1),
            "pointers": torch.ones(2, 1),
        }
    )
    return cases


@exercise(
    "ex-09-greater",
    function="my_greater",
    title="The soft greater operation",
    checks=(
        "tables of the chapter's task with soft column and number choices, batched",
        "one-hot choices whose number equals a cell (a tie is not greater)",
        "a question without numbers (its pointer is all zero) selects no row",
        "signed, fractional values and a table of one row and one column",
        "one weight per row, as the package's executor gives",
        "gradients reach the column and the number choices",
        "the inputs are left unchanged",
    ),
    forbidden=(execute_table, TableProgrammer),
)
def _check_greater(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(2016)
    for inputs in _greater_cases(generator):
        table, numbers, columns, pointers = inputs.values()
        batch, rows, cols = table.shape
        got = call(fn, **inputs)
        no_number = pointers.sum(-1) == 0
        expect_finite(
            got,
            "a question without numbers has a pointer of zeros: do not divide by its sum; weighting "
            "each comparison by beta_k already gives 0 for every row.",
            inputs,
            "your row weights hold",
        )
        got = expect_tensor(
            got,
            (batch, rows),
            "your row weights",
            inputs,
            hints={
                (
                    batch,
                    rows,
                    cols,
                ): "that is one number per cell; mix the columns with their weights gamma_j "
                "into one weight per row.",
                (
                    batch,
                    rows,
                    numbers.shape[1],
                ): "that is one number per (row, question number); mix the numbers "
                "with the pointer beta_k into one weight per row.",
                (batch, cols): "that is one number per column; the selector has one weight per row.",
                (rows, cols): "that is one table only; keep the batch dimension in front.",
            },
        )
        slips = {
            "a cell equal to the number is not greater: compare with `>`, not `>=`.": _compared(
                *inputs.values(), relation=">="
            ),
            "`greater` keeps the rows whose cell is larger than the number: M_ij > n_k, not M_ij < n_k.": (
                _compared(*inputs.values(), relation="<")
            ),
            "the columns are mixed with the column choice gamma_j, not averaged.": _compared(
                *inputs.values(), column_weights=False
            ),
            "compare every cell with every number and then mix the 0/1 results; comparing the mixed column "
            "with the mixed number is not differentiable in the choices and gives another answer.": (
                (table * columns[:, None, :]).sum(-1) > (pointers * numbers).sum(-1, keepdim=True)
            ).float(),
            "weight the comparison with each number by the pointer beta_k; picking one number (the first, "
            "or the pointer's argmax) ignores the pointer's weights and selects rows even for a question "
            "without numbers.": _compared(table, numbers[:, :1], columns, torch.ones(batch, 1)),
        }
        ours = got.detach().float()
        if (
            no_number.any()
            and (ours[no_number] != 0).any()
            and not any(torch.allclose(ours, slip, atol=1e-5) for slip in slips.values())
        ):
            b = int(no_number.nonzero()[0])
            raise Mismatch(
                f"question {b} has no number (its pointer is all zero), so `greater` has nothing to compare "
                f"with and selects no row, but your row weights for it are {[round(v, 4) for v in ours[b].tolist()]}.\n  Hint: weight "
                f"each comparison [M_ij > n_k] by the pointer beta_k instead of picking a number."
            )
        expect_close(got, greater_reference(*inputs.values()), "your row weights", inputs, slips=slips)
    task = table_task(2, generator, n_rows=6, n_cols=3)
    leaves = {
        "the column choice": _soft((2, 3), generator).requires_grad_(),
        "the pointer": torch.tensor([[0.7, 0.3], [0.4, 0.6]], requires_grad=True),
    }
    numbers = task.table[:, 1:3, 0]  # two pivots taken from the table, so that rows differ in the comparison
    selector = call(
        fn,
        table=task.table,
        numbers=numbers,
        columns=leaves["the column choice"],
        pointers=leaves["the pointer"],
    )
    if not isinstance(selector, Tensor):
        raise Mismatch(
            f"your function should return a torch.Tensor, but returned a {type(selector).__name__}."
        )
    expect_gradient(selector * projection(selector.shape, 9), "your row weights", leaves)


# ---- ex-09-scalar -----------------------------------------------------------------------------------------------


def scalar_steps(
    table: Tensor, numbers: Tensor, number_mask: Tensor, operations: Tensor, columns: Tensor, pointers: Tensor
) -> list[tuple[dict[str, Tensor], Tensor]]:
    """Run a soft program with ``execute_table``; return each step's inputs to the scalar update and its result.

    The inputs of step ``t`` are the table, the selector after step ``t - 1`` (all ones before the first step), the
    scalars after steps ``t - 1`` and ``t - 2`` (0 before the program starts) and the step's operation and column
    distributions; the result is the scalar register after step ``t``.
    """
    selectors, scalars, _ = execute_table(table, numbers, number_mask, operations, columns, pointers)
    batch, steps = scalars.shape
    selectors = torch.cat([torch.ones(batch, 1, table.shape[1]), selectors], dim=1)
    history = torch.cat([torch.zeros(batch, 2), scalars], dim=1)
    return [
        (
            {
                "table": table,
                "selector": selectors[:, t],
                "scalar": history[:, t + 1],
                "scalar_before": history[:, t],
                "operations": operations[:, t],
                "columns": columns[:, t],
            },
            scalars[:, t],
        )
        for t in range(steps)
    ]


def _scalar_variant(
    table: Tensor,
    selector: Tensor,
    scalar: Tensor,
    scalar_before: Tensor,
    operations: Tensor,
    columns: Tensor,
    *,
    keep: bool = True,
    reverse: bool = False,
    sum_selected: bool = True,
    sum_weighted: bool = True,
    count: str = "soft",
) -> Tensor:
    """The scalar update as a known slip computes it (each keyword undoes one part of the right update)."""
    rows = selector[:, :, None] if sum_selected else torch.ones_like(selector)[:, :, None]
    column_sums = (rows * table).sum(1)
    total = (columns * column_sums).sum(-1) if sum_weighted else column_sums.sum(-1)
    counted = {
        "soft": selector.sum(-1),
        "rows": torch.full_like(scalar, table.shape[1]),
        "hard": (selector > 0.5).float().sum(-1),
    }[count]
    difference = scalar - scalar_before if reverse else scalar_before - scalar
    alpha = operations[:, [_SUM, _COUNT, _DIFFERENCE]]
    mixed = alpha[:, 0] * total + alpha[:, 1] * counted + alpha[:, 2] * difference
    return mixed + (1 - alpha.sum(-1)) * scalar if keep else mixed


def _programs(generator: torch.Generator) -> list[tuple[Tensor, ...]]:
    """Soft and one-hot programs on tables: (table, numbers, number_mask, operations, columns, pointers)."""
    programs = []
    task = table_task(4, generator, n_rows=8, n_cols=4)
    steps = 4
    programs.append(
        (
            task.table,
            task.numbers,
            task.number_mask,
            _soft((4, steps, len(OPERATIONS)), generator),
            _soft((4, steps, 4), generator),
            _soft((4, steps, 2), generator),
        )
    )
    # one-hot programs: each step does one thing; the pivot 100 selects no row before the last sum and count
    plans = [
        ["greater", "sum", "count", "difference"],
        ["reset", "count", "sum", "difference"],
        ["sum", "count", "difference", "print"],
        ["greater", "and", "sum", "count"],
    ]
    operations = F.one_hot(
        torch.tensor([[OPERATIONS.index(o) for o in plan] for plan in plans]), len(OPERATIONS)
    ).float()
    columns = F.one_hot(torch.randint(0, 4, (4, steps), generator=generator), 4).float()
    numbers = torch.tensor([[25.0, 100.0]] * 4)
    pointers = F.one_hot(torch.tensor([[0] * steps, [0] * steps, [0] * steps, [1] * steps]), 2).float()
    programs.append((task.table, numbers, torch.ones(4, 2, dtype=torch.bool), operations, columns, pointers))
    # a table of one row and one column, with signed values
    programs.append(
        (
            torch.tensor([[[-2.5]], [[4.0]]]),
            torch.tensor([[0.0], [1.0]]),
            torch.ones(2, 1, dtype=torch.bool),
            _soft((2, 3, len(OPERATIONS)), generator),
            torch.ones(2, 3, 1),
            torch.ones(2, 3, 1),
        )
    )
    return programs


@exercise(
    "ex-09-scalar",
    function="my_scalar_step",
    title="One step of the scalar register",
    checks=(
        "every step of random soft programs on tables of the chapter's task, batched",
        "one-hot programs: sum, count and difference exactly, and a selector or print step keeps the scalar",
        "soft selectors (a row half in play counts one half) and an all-zero selector",
        "a table of one row and one column with signed values",
        "one scalar per example",
        "gradients reach the table, the selector, both scalars, the operation and the column choices",
        "the inputs are left unchanged",
    ),
    forbidden=(execute_table, TableProgrammer),
)
def _check_scalar(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(2015)
    for program in _programs(generator):
        for step, (inputs, expected) in enumerate(scalar_steps(*program), 1):
            batch, rows, cols = inputs["table"].shape
            where = {"step": step, **inputs}
            got = call(fn, **inputs)
            if isinstance(got, Tensor) and got.dim() == 2 and got.shape == (batch, 1):
                got = got[:, 0]  # a kept dimension is fine
            expect_close(
                got,
                expected,
                "your new scalars",
                where,
                shape_hints={
                    (): "that is one number for the whole batch; each example has its own scalar register.",
                    (batch, cols): "that is one sum per column; mix the columns with their weights gamma_j.",
                    (batch, rows): "that is one number per row; sum and count add up over the rows.",
                    (
                        batch,
                        len(OPERATIONS),
                    ): "that is one number per operation; mix the results of sum, count "
                    "and difference with their probabilities into one scalar per example.",
                    (batch, 3): "that is one result per scalar operation; mix them with their probabilities.",
                },
                slips={
                    "the operations that do not write the scalar (greater, and, print, ...) leave it as it was: "
                    "their probability mass keeps the old value, so add (1 - alpha_sum - alpha_count - "
                    "alpha_difference) * scalar.": _scalar_variant(*inputs.values(), keep=False),
                    "difference is a_{t-2} - a_{t-1}: scalar_before minus scalar, not the other way round.": (
                        _scalar_variant(*inputs.values(), reverse=True)
                    ),
                    "sum adds the cells of the selected rows only: weight each row by the selector s_i.": (
                        _scalar_variant(*inputs.values(), sum_selected=False)
                    ),
                    "sum mixes the column totals with the column choice gamma_j instead of adding all columns.": (
                        _scalar_variant(*inputs.values(), sum_weighted=False)
                    ),
                    "count adds up the soft selector itself (a row half in play counts one half): not the "
                    "rows rounded to 0 or 1, which has no gradient, and not the number of rows of the "
                    "table.": _scalar_variant(*inputs.values(), count="hard"),
                    "count is the sum of the selector, not the number of rows of the table.": _scalar_variant(
                        *inputs.values(), count="rows"
                    ),
                },
                rtol=1e-4,
                atol=1e-4,
            )
    program = _programs(generator)[0]
    inputs, _ = scalar_steps(*program)[2]
    leaves = {name: value.clone().requires_grad_() for name, value in inputs.items()}
    named = dict(
        zip(
            (
                "the table",
                "the selector",
                "scalar",
                "scalar_before",
                "the operation choice",
                "the column choice",
            ),
            leaves.values(),
        )
    )
    got = call(fn, **leaves)
    if not isinstance(got, Tensor):
        raise Mismatch(f"your function should return a torch.Tensor, but returned a {type(got).__name__}.")
    expect_gradient(got * projection(got.shape, 3), "your new scalars", named)
