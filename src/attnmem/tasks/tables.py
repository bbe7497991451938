"""Data for the neural programmer (Neelakantan, Le & Sutskever 2016): arithmetic expressions and table questions.

Two tasks, both deterministic under a seed (an ``int`` or a ``torch.Generator``):

- ``arithmetic_task`` — the warm-up of the chapter: an expression such as ``a - b * c`` over named inputs whose
  values are random; the answer is the expression's value (usual precedence, left to right). The model sees the
  expression's *tokens* and the input values, never the order in which to compute.
- ``table_task`` — synthetic tables (``n_rows`` x ``n_cols`` integers, each column named from ``COLUMN_NAMES``) and
  questions from templates of the paper's kinds (its Section 4, "synthetic data"): single-column sums and counts
  with ``greater``/``lesser`` conditions, sums with a condition on another column, conjunctions with ``or``, the
  difference of two sums, and a lookup (``print``) of one cell. Every answer is computed from the table.

A question's numbers are written as ``<num>`` tokens; their values travel beside the tokens (``numbers``) so the
model can only reach them by pointing at their positions, as the paper does. ``split="test"`` draws tables from a
different seed stream than ``split="train"``, so test tables are unseen. ``reference_program`` gives, for each
generated question, one program in the model's operation set that answers it; models never see it — tests use it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import torch
from torch import Tensor

from attnmem.tasks import check_elements, check_examples, check_positive, generator_from

__all__ = [
    "COLUMN_NAMES",
    "KINDS",
    "SINGLE_COLUMN_KINDS",
    "KIND_GROUPS",
    "TEMPLATES",
    "random_table",
    "TABLE_VOCAB",
    "ARITH_OPS",
    "ARITH_VOCAB",
    "ArithmeticBatch",
    "arithmetic_task",
    "evaluate_expression",
    "Question",
    "TableBatch",
    "table_task",
    "sample_questions",
    "collate",
    "parse_question",
    "reference_program",
]

# ----------------------------------------------------------------------------------------------------------- arithmetic

#: The operators of the arithmetic warm-up, with their precedence (higher binds tighter).
ARITH_OPS: dict[str, int] = {"+": 1, "-": 1, "*": 2}
ARITH_VARIABLES = ("a", "b", "c", "d")
#: Token ids of the expression language; 0 is padding.
ARITH_VOCAB: dict[str, int] = {w: i for i, w in enumerate(["<pad>", *ARITH_VARIABLES, *ARITH_OPS])}


class ArithmeticBatch(NamedTuple):
    """A batch of expressions: ``tokens`` (B, L) ids of ``a op b op c``; ``values`` (B, V) the inputs a, b, c, d;
    ``answer`` (B,) the value of each expression."""

    tokens: Tensor
    values: Tensor
    answer: Tensor


def evaluate_expression(tokens: Sequence[str], values: dict[str, float]) -> float:
    """The value of an infix expression ``x op y op z ...`` with ``*`` before ``+``/``-``, left to right."""
    if len(tokens) % 2 == 0 or not tokens:
        raise ValueError(f"an expression alternates operand, operator, operand...; got {list(tokens)}")
    for i, token in enumerate(tokens):
        expected = values if i % 2 == 0 else ARITH_OPS
        if token not in expected:
            kind = "a variable" if i % 2 == 0 else "an operator"
            raise ValueError(f"token {i} of {' '.join(tokens)!r} is {token!r} but should be {kind} "
                             f"from {sorted(expected)}")
    terms: list[float] = [float(values[tokens[0]])]
    signs: list[float] = [1.0]
    for op, name in zip(tokens[1::2], tokens[2::2]):
        if op == "*":
            terms[-1] *= float(values[name])
        else:
            terms.append(float(values[name]))
            signs.append(1.0 if op == "+" else -1.0)
    return sum(s * t for s, t in zip(signs, terms))


def arithmetic_task(batch_size: int, seed: int | torch.Generator, n_ops: int = 2, low: float = -2.0,
                    high: float = 2.0) -> ArithmeticBatch:
    """Random expressions of ``n_ops`` operators over the variables a-d, with input values uniform in [low, high).

    Every variable is drawn independently (one may repeat), every operator uniformly from ``+ - *``.
    """
    check_positive(batch_size=batch_size, n_ops=n_ops)
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"need finite low < high for the input values, got low={low}, high={high}")
    check_elements("this arithmetic batch", batch_size * (4 * n_ops + 7), "use a smaller batch_size or n_ops")
    gen = generator_from(seed)
    n_vars, op_names = len(ARITH_VARIABLES), list(ARITH_OPS)
    values = low + (high - low) * torch.rand(batch_size, n_vars, generator=gen)
    variables = torch.randint(0, n_vars, (batch_size, n_ops + 1), generator=gen)
    operators = torch.randint(0, len(op_names), (batch_size, n_ops), generator=gen)
    tokens = torch.zeros(batch_size, 2 * n_ops + 1, dtype=torch.long)
    answers = torch.zeros(batch_size)
    for b in range(batch_size):
        words = [ARITH_VARIABLES[int(variables[b, 0])]]
        for k in range(n_ops):
            words += [op_names[int(operators[b, k])], ARITH_VARIABLES[int(variables[b, k + 1])]]
        tokens[b] = torch.tensor([ARITH_VOCAB[w] for w in words])
        answers[b] = evaluate_expression(words, dict(zip(ARITH_VARIABLES, values[b].tolist())))
    return ArithmeticBatch(tokens, values, answers)


# --------------------------------------------------------------------------------------------------------------- tables

#: Names a table's columns are drawn from.
COLUMN_NAMES = ("price", "weight", "height", "age", "score", "speed", "length", "rank", "year", "cost")

#: Question templates by kind: ``{A}`` and ``{B}`` are column names, ``<num>`` a number from the question.
TEMPLATES: dict[str, str] = {
    "sum": "what is the sum of {A}",
    "count_greater": "how many rows have {A} greater than <num>",
    "count_lesser": "how many rows have {A} lesser than <num>",
    "count_between": "how many rows have {A} greater than <num> and lesser than <num>",
    "sum_where": "what is the sum of {A} where {B} {cmp} than <num>",
    "count_or": "how many rows have {A} greater than <num> or {B} lesser than <num>",
    "difference": "what is the difference between the sum of {A} and the sum of {B}",
    "lookup": "print {A} where {B} greater than <num>",
}
KINDS: tuple[str, ...] = tuple(TEMPLATES)
#: The kinds answered by one operation on one column (a sum, or a count under one condition on that column).
SINGLE_COLUMN_KINDS: tuple[str, ...] = ("sum", "count_greater", "count_lesser")
#: The kinds grouped as the paper groups its synthetic questions, for reporting results.
KIND_GROUPS: dict[str, tuple[str, ...]] = {
    "single column": SINGLE_COLUMN_KINDS,
    "condition on another column": ("sum_where", "lookup"),
    "conjunction (and / or)": ("count_between", "count_or"),
    "difference": ("difference",),
}

_WORDS = sorted({w for t in TEMPLATES.values() for w in t.split() if not w.startswith("{")} | {"greater", "lesser"})
#: Token ids of the question language (template words, column names, ``<num>``); 0 is padding.
TABLE_VOCAB: dict[str, int] = {w: i for i, w in enumerate(["<pad>", *_WORDS, *COLUMN_NAMES])}
MAX_NUMBERS = 2


@dataclass(frozen=True)
class Question:
    """One question about one table, with its computed answer.

    ``table`` is (rows, cols) integers as floats; ``columns`` the column names; ``words`` the question with
    ``<num>`` where a number stands and ``numbers`` those numbers in order. ``answer`` is the scalar answer, or, for
    a lookup, the value of the cell ``lookup_cell = (row, col)``.
    """

    kind: str
    words: tuple[str, ...]
    numbers: tuple[float, ...]
    table: Tensor
    columns: tuple[str, ...]
    answer: float
    lookup_cell: tuple[int, int] | None = None
    slots: tuple[int, ...] = ()  # the column indices that {A}, {B} stand for
    comparison: str = ""  # "greater" or "lesser" for sum_where

    @property
    def text(self) -> str:
        numbers = iter(self.numbers)
        return " ".join(f"{next(numbers):g}" if w == "<num>" else w for w in self.words)

    @property
    def is_lookup(self) -> bool:
        return self.lookup_cell is not None


class TableBatch(NamedTuple):
    """Questions and tables, batch first, ready for ``attnmem.programmer.TableProgrammer``."""

    tokens: Tensor  # (B, L) long question word ids, 0 = padding
    numbers: Tensor  # (B, N) float the question's numbers (N = 2; unused slots 0)
    number_positions: Tensor  # (B, N) long where each number's <num> token is in ``tokens``
    number_mask: Tensor  # (B, N) bool True for a real number
    table: Tensor  # (B, R, C) float
    columns: Tensor  # (B, C) long word ids of the column names
    answer: Tensor  # (B,) float scalar answer (for a lookup: the cell's value)
    lookup: Tensor  # (B, R, C) float one-hot of the answer cell for lookup questions, zeros otherwise
    is_lookup: Tensor  # (B,) bool
    kind: Tensor  # (B,) long index into KINDS (-1 for a reader's free question)


def random_table(n_rows: int, n_cols: int, max_value: int = 50, generator: torch.Generator | None = None) -> Tensor:
    """A table whose columns hold distinct integers in [0, max_value) (so a maximum is unique), as floats."""
    if n_rows > max_value:
        raise ValueError(f"a column of {n_rows} distinct values needs max_value >= {n_rows}, got {max_value}")
    return torch.stack([torch.randperm(max_value, generator=generator)[:n_rows] for _ in range(n_cols)], 1).float()


def _make_question(kind: str, table: Tensor, columns: tuple[str, ...], gen: torch.Generator,
                   max_value: int) -> Question:
    n_rows, n_cols = table.shape
    pick = torch.randperm(n_cols, generator=gen).tolist()
    a, b = pick[0], pick[1]
    col_a, col_b = table[:, a], table[:, b]

    def number(low: int = 1, high: int | None = None) -> int:
        return int(torch.randint(low, high or max_value - 1, (1,), generator=gen))

    comparison, slots, lookup_cell = "", (a,), None
    if kind == "sum":
        numbers, answer = (), col_a.sum()
    elif kind == "count_greater":
        x = number()
        numbers, answer = (x,), (col_a > x).sum()
    elif kind == "count_lesser":
        x = number()
        numbers, answer = (x,), (col_a < x).sum()
    elif kind == "count_between":
        x = number(1, max_value // 2)
        y = number(x + 2, max_value)
        numbers, answer = (x, y), ((col_a > x) & (col_a < y)).sum()
    elif kind == "sum_where":
        x = number()
        comparison = "greater" if int(torch.randint(0, 2, (1,), generator=gen)) else "lesser"
        condition = col_b > x if comparison == "greater" else col_b < x
        numbers, answer, slots = (x,), (col_a * condition).sum(), (a, b)
    elif kind == "count_or":
        x, y = number(), number()
        numbers, answer, slots = (x, y), ((col_a > x) | (col_b < y)).sum(), (a, b)
    elif kind == "difference":
        numbers, answer, slots = (), col_a.sum() - col_b.sum(), (a, b)
    elif kind == "lookup":
        top2 = col_b.topk(2)
        x = int(top2.values[1])
        row = int(top2.indices[0])
        numbers, answer, slots, lookup_cell = (x,), table[row, a], (a, b), (row, a)
    else:
        raise ValueError(f"unknown question kind {kind!r}; choose from {list(KINDS)}")
    text = TEMPLATES[kind].format(A=columns[a], B=columns[b], cmp=comparison)
    return Question(kind, tuple(text.split()), tuple(float(n) for n in numbers), table, columns,
                    float(answer), lookup_cell, slots, comparison)


def sample_questions(n: int, seed: int | torch.Generator, *, kinds: Sequence[str] | None = None,
                     split: str = "train", n_rows: int = 8, n_cols: int = 4, max_value: int = 50) -> list[Question]:
    """``n`` questions, each on its own freshly drawn table, with kinds drawn uniformly from ``kinds``.

    ``split`` ("train" or "test") offsets the seed stream, so test tables never repeat training tables.
    """
    check_examples("n", n)
    check_positive(n_rows=n_rows, n_cols=n_cols, max_value=max_value)
    kinds = tuple(kinds) if kinds is not None else KINDS
    unknown = [k for k in kinds if k not in TEMPLATES]
    if unknown or not kinds:
        raise ValueError(f"unknown question kinds {unknown}; choose from {list(KINDS)}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if n_cols < 2 or n_cols > len(COLUMN_NAMES):
        raise ValueError(f"n_cols must be between 2 and {len(COLUMN_NAMES)}, got {n_cols}")
    if n_rows < 2 or max_value < max(n_rows, 8):
        raise ValueError(f"need n_rows >= 2 and max_value >= max(n_rows, 8), got n_rows={n_rows}, "
                         f"max_value={max_value}")
    if isinstance(seed, torch.Generator):
        gen = seed
    else:
        gen = generator_from(seed)
        if split == "test":
            gen = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)) + 1)
    questions = []
    for _ in range(n):
        kind = kinds[int(torch.randint(0, len(kinds), (1,), generator=gen))]
        names = tuple(COLUMN_NAMES[i] for i in torch.randperm(len(COLUMN_NAMES), generator=gen)[:n_cols].tolist())
        table = random_table(n_rows, n_cols, max_value, gen)
        questions.append(_make_question(kind, table, names, gen, max_value))
    return questions


def collate(questions: Sequence[Question]) -> TableBatch:
    """Stack questions (all on tables of one shape) into a ``TableBatch``."""
    if not questions:
        raise ValueError("collate needs at least one question")
    shapes = {tuple(q.table.shape) for q in questions}
    if len(shapes) > 1:
        raise ValueError(f"all tables in a batch must have one shape, got {sorted(shapes)}")
    n, length = len(questions), max(len(q.words) for q in questions)
    n_rows, n_cols = questions[0].table.shape
    tokens = torch.zeros(n, length, dtype=torch.long)
    numbers = torch.zeros(n, MAX_NUMBERS)
    positions = torch.zeros(n, MAX_NUMBERS, dtype=torch.long)
    number_mask = torch.zeros(n, MAX_NUMBERS, dtype=torch.bool)
    lookup = torch.zeros(n, n_rows, n_cols)
    for i, q in enumerate(questions):
        tokens[i, : len(q.words)] = torch.tensor([TABLE_VOCAB[w] for w in q.words])
        where = [j for j, w in enumerate(q.words) if w == "<num>"]
        if len(where) != len(q.numbers) or len(where) > MAX_NUMBERS:
            raise ValueError(f"question {q.text!r} has {len(where)} <num> tokens and {len(q.numbers)} numbers; "
                             f"they must match and be at most {MAX_NUMBERS}")
        for k, (pos, value) in enumerate(zip(where, q.numbers)):
            numbers[i, k], positions[i, k], number_mask[i, k] = value, pos, True
        if q.lookup_cell is not None:
            lookup[i, q.lookup_cell[0], q.lookup_cell[1]] = 1.0
    return TableBatch(
        tokens=tokens,
        numbers=numbers,
        number_positions=positions,
        number_mask=number_mask,
        table=torch.stack([q.table for q in questions]),
        columns=torch.tensor([[TABLE_VOCAB[c] for c in q.columns] for q in questions]),
        answer=torch.tensor([q.answer for q in questions]),
        lookup=lookup,
        is_lookup=torch.tensor([q.is_lookup for q in questions]),
        kind=torch.tensor([KINDS.index(q.kind) if q.kind in KINDS else -1 for q in questions]),
    )


def table_task(batch_size: int, seed: int | torch.Generator, *, kinds: Sequence[str] | None = None,
               split: str = "train", n_rows: int = 8, n_cols: int = 4, max_value: int = 50) -> TableBatch:
    """A batch of ``batch_size`` questions on fresh tables (see ``sample_questions``)."""
    return collate(sample_questions(batch_size, seed, kinds=kinds, split=split, n_rows=n_rows, n_cols=n_cols,
                                    max_value=max_value))


def parse_question(text: str, table: Tensor, columns: Sequence[str]) -> Question:
    """Turn a question typed by a reader (template words, column names, numbers) into a ``Question``.

    Its ``kind`` is ``"free"`` and its ``answer`` NaN: nothing checks a free question's answer. Unknown words and
    column names the table lacks are errors that list what is allowed.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the question is empty; write one such as 'how many rows have price greater than 20'")
    if not isinstance(table, Tensor) or table.dim() != 2 or table.shape[1] != len(columns):
        shape = tuple(table.shape) if isinstance(table, Tensor) else type(table).__name__
        raise ValueError(f"table must be a (rows, {len(columns)}) tensor for columns {list(columns)}, got {shape}")
    words, numbers = [], []
    for word in text.lower().replace("?", " ").split():
        if re.fullmatch(r"-?\d+(\.\d+)?", word):
            words.append("<num>")
            numbers.append(float(word))
        elif word in COLUMN_NAMES and word not in columns:
            raise ValueError(f"this table has no column {word!r}; its columns are {list(columns)}")
        elif word not in TABLE_VOCAB or word in ("<num>", "<pad>"):
            allowed = sorted(w for w in TABLE_VOCAB if not w.startswith("<") and w not in COLUMN_NAMES)
            raise ValueError(f"unknown word {word!r}; use the templates' words {allowed}, the column names "
                             f"{list(columns)} and numbers")
        else:
            words.append(word)
    if len(numbers) > MAX_NUMBERS:
        raise ValueError(f"a question may hold at most {MAX_NUMBERS} numbers, got {len(numbers)} in {text!r}")
    return Question("free", tuple(words), tuple(numbers), table.float(), tuple(columns), float("nan"))


def reference_program(question: Question) -> list[tuple[str, int, int]]:
    """One program of ``(operation, column, number)`` steps that answers a generated question.

    Written for the operation set of ``attnmem.programmer`` (four steps); unused fields are 0. The models never see
    it — it lets tests check that the discrete executor and the templates agree.
    """
    a = question.slots[0] if question.slots else 0
    b = question.slots[1] if len(question.slots) > 1 else 0
    programs = {
        "sum": [("sum", a, 0), ("reset", 0, 0), ("reset", 0, 0), ("reset", 0, 0)],
        "count_greater": [("greater", a, 0), ("count", 0, 0), ("reset", 0, 0), ("reset", 0, 0)],
        "count_lesser": [("lesser", a, 0), ("count", 0, 0), ("reset", 0, 0), ("reset", 0, 0)],
        "count_between": [("greater", a, 0), ("lesser", a, 1), ("and", 0, 0), ("count", 0, 0)],
        "sum_where": [(question.comparison or "greater", b, 0), ("sum", a, 0), ("reset", 0, 0), ("reset", 0, 0)],
        "count_or": [("greater", a, 0), ("lesser", b, 1), ("or", 0, 0), ("count", 0, 0)],
        "difference": [("sum", a, 0), ("sum", b, 0), ("difference", 0, 0), ("reset", 0, 0)],
        "lookup": [("greater", b, 0), ("print", a, 0), ("reset", 0, 0), ("reset", 0, 0)],
    }
    if question.kind not in programs:
        raise ValueError(f"no reference program for kind {question.kind!r}; it exists for {list(KINDS)}")
    return programs[question.kind]
