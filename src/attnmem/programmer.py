"""The neural programmer (Neelakantan, Le & Sutskever 2016): programs induced from answers alone.

A controller chooses, at each of ``T`` steps, a *soft* distribution over operations (and over the things the
operations act on). Every operation is run, and its results are mixed by those probabilities, so the answer is a
differentiable function of the choices and the only supervision needed is the final answer (the paper's Eq. 1-4).

Two models, the second grown from the first:

**ArithmeticProgrammer** (the warm-up): reads an expression such as ``a - b * c``; at step ``t`` it picks an
operator from ``+ - *`` and two operands by attention over a scratch memory that holds the expression's variables
(pointer-style: it points at a token of the expression) and the outputs of earlier steps, and writes ``sum_o alpha_o * o(x, y)`` back to the memory. The last step's output
is the answer.

**TableProgrammer** (the paper's model): a question RNN encodes the question; a history RNN carries what was done;
at each step the controller attends over the question, then picks an operation (``OPERATIONS``), a column (by
attention against the column names' embeddings, ``attnmem.attention.attend``) and a question number (attention over
the ``<num>`` positions of the question — the paper's pointer to question numbers). The operations act on a soft
row selector ``s`` (one weight in [0, 1] per row), a scalar register ``a`` and a lookup register ``L`` (one weight
per cell); the paper's "Eq. for the row selector / scalar answer / lookup answer" become (for step ``t``):

- ``sum``: ``sum_j alpha_j sum_i s_{t-1,i} M_ij``           -> a        ``count``: ``sum_i s_{t-1,i}`` -> a
- ``difference``: ``a_{t-2} - a_{t-1}``                       -> a
- ``greater`` / ``lesser``: ``sum_j alpha_j sum_k beta_k [M_ij > n_k]`` (``<``) -> s
- ``and`` / ``or``: ``min`` / ``max`` of ``s_{t-1}, s_{t-2}`` -> s        ``reset``: all ones -> s
- ``print``: ``s_{t-1,i} alpha_j``                            -> L

Each register is mixed from the operations that write it; the probability mass of the others keeps its previous
value (a documented simplification of the paper, where non-selector operations contribute nothing to ``s``). The
operation set is the paper's minus ``greatest``/``lowest`` and ``assign`` (``print`` does the lookup).
Scalar answers are trained with the Huber loss (the paper's Eq. for ``L_scalar``), lookups with the cell-wise log
loss; at test time the paper runs the *discrete* program of the most probable choices, and so does ``evaluate``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from attnmem import checks
from attnmem.attention import attend, dot_scores, masked_softmax
from attnmem.tasks.tables import (
    ARITH_OPS,
    ARITH_VARIABLES,
    ARITH_VOCAB,
    TABLE_VOCAB,
    TableBatch,
)

__all__ = [
    "ARITH_OPERATIONS",
    "ArithmeticTrace",
    "execute_arithmetic",
    "run_arithmetic_program",
    "token_memory",
    "ArithmeticProgrammer",
    "OPERATIONS",
    "TableTrace",
    "execute_table",
    "ProgramResult",
    "run_program",
    "TableProgrammer",
    "induced_programs",
    "program_text",
]


def _check_distribution(name: str, weights: Tensor, shape: tuple[int, ...]) -> None:
    if not isinstance(weights, Tensor) or tuple(weights.shape) != shape:
        got = tuple(weights.shape) if isinstance(weights, Tensor) else type(weights).__name__
        raise ValueError(f"{name} must have shape {shape}, got {got}")
    if (weights < -1e-6).any() or ((weights.sum(-1) - 1).abs() > 1e-4).any():
        raise ValueError(f"{name} must hold distributions (non-negative, summing to 1 over the last dimension)")


# ------------------------------------------------------------------------------------------------- arithmetic warm-up

#: The warm-up's operations, in the order of the controller's output.
ARITH_OPERATIONS: tuple[str, ...] = tuple(ARITH_OPS)


class ArithmeticTrace(NamedTuple):
    """What the arithmetic programmer did: its answer and every step's soft choices.

    ``operations`` (B, T, 3) over ``ARITH_OPERATIONS``; ``left``/``right`` (B, T, L + T) over the memory slots (one
    per expression token, then the outputs of steps 1..T; operator slots and slots not yet written get weight 0);
    ``outputs`` (B, T).
    """

    answer: Tensor
    operations: Tensor
    left: Tensor
    right: Tensor
    outputs: Tensor


def _apply_arith(x: Tensor, y: Tensor) -> Tensor:
    """Every operator on the operands, stacked in ``ARITH_OPERATIONS`` order along the last dimension."""
    return torch.stack([x + y, x - y, x * y], dim=-1)


def execute_arithmetic(values: Tensor, operations: Tensor, left: Tensor, right: Tensor) -> Tensor:
    """Run a soft program: step ``t`` writes ``sum_o operations[t, o] * o(left[t] . m, right[t] . m)`` to memory.

    ``values`` (B, V) the initial memory; ``operations`` (B, T, 3); ``left``, ``right`` (B, T, V + T). Returns the
    outputs (B, T).
    """
    batch, steps = operations.shape[:2]
    slots = values.shape[1] + steps
    _check_distribution("operations", operations, (batch, steps, len(ARITH_OPERATIONS)))
    _check_distribution("left", left, (batch, steps, slots))
    _check_distribution("right", right, (batch, steps, slots))
    memory = torch.cat([values, values.new_zeros(batch, steps)], dim=1)
    outputs = []
    for t in range(steps):
        x = (left[:, t] * memory).sum(-1)
        y = (right[:, t] * memory).sum(-1)
        out = (operations[:, t] * _apply_arith(x, y)).sum(-1)
        outputs.append(out)
        memory = torch.cat([memory[:, : values.shape[1] + t], out[:, None], memory[:, values.shape[1] + t + 1 :]], 1)
    return torch.stack(outputs, dim=1)


def run_arithmetic_program(program: Sequence[tuple[str, int, int]], values: Sequence[float]) -> float:
    """Run a discrete program ``[(operator, left_slot, right_slot), ...]`` on input ``values``; return the last
    output. Slots ``0..V-1`` are the inputs, ``V + t`` the output of step ``t``."""
    memory = [float(v) for v in values]
    for t, (op, i, j) in enumerate(program):
        if op not in ARITH_OPERATIONS:
            raise ValueError(f"step {t}: unknown operator {op!r}; use one of {list(ARITH_OPERATIONS)}")
        if not (0 <= i < len(memory) and 0 <= j < len(memory)):
            raise ValueError(f"step {t}: slots {i}, {j} are not written yet (only 0..{len(memory) - 1} are)")
        x, y = memory[i], memory[j]
        memory.append(x + y if op == "+" else x - y if op == "-" else x * y)
    if len(memory) == len(values):
        raise ValueError("the program is empty: give at least one step")
    return memory[-1]


def token_memory(tokens: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
    """One memory slot per expression token: the variable's value at a variable, 0 at an operator or padding.

    Returns ``(memory, is_variable)``, both (B, L), for ``tokens`` (B, L) and ``values`` (B, 4).
    """
    variable_ids = torch.tensor([ARITH_VOCAB[v] for v in ARITH_VARIABLES])
    is_variable = (tokens[..., None] == variable_ids).any(-1)
    index = (tokens - int(variable_ids.min())).clamp(0, values.shape[1] - 1)
    return values.gather(1, index) * is_variable, is_variable


class ArithmeticProgrammer(nn.Module):
    """A controller that reads an expression and emits ``steps`` soft operations over a scratch memory.

    The memory starts with one slot per expression token, holding the variable's value at a variable's position
    (operator positions are masked out), and gains one slot per step. Operands are chosen pointer-style: the keys
    of the token slots are the encoder's states at those tokens (a bidirectional GRU, so the ``b`` of ``a + b * c``
    knows it is the left operand of ``*``). A step's output is keyed by what it was computed from: a learned key
    per step plus the mean of its two operands' keys (``output_key``), so the result of ``b * c`` in
    ``a - b * c`` is found where ``b`` and ``c`` were — which is what lets the controller point at it as the
    *right* operand of ``-``. (With a learned key alone, none of the twelve starts we tried learned to.)
    """

    def __init__(self, steps: int = 2, embed: int = 32, hidden: int = 64) -> None:
        super().__init__()
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        self.steps = steps
        self.embedding = nn.Embedding(len(ARITH_VOCAB), embed, padding_idx=0)
        self.encoder = nn.GRU(embed, hidden // 2, batch_first=True, bidirectional=True)
        self.controller = nn.GRUCell(hidden, hidden)
        self.question_query = nn.Linear(hidden, hidden)
        self.mix = nn.Linear(2 * hidden, hidden)
        self.operation = nn.Linear(hidden, len(ARITH_OPERATIONS))
        self.left_query = nn.Linear(hidden, hidden)
        self.right_query = nn.Linear(hidden, hidden)
        self.step_keys = nn.Parameter(torch.randn(steps, hidden) / hidden**0.5)

    def initial_memory(self, tokens: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        """The value of each token slot (a variable's value, 0 elsewhere) and which slots hold a variable."""
        return token_memory(tokens, values)

    def forward(self, tokens: Tensor, values: Tensor) -> ArithmeticTrace:
        checks.expression_inputs(tokens, values, [ARITH_VOCAB[v] for v in ARITH_VARIABLES])
        batch, length = tokens.shape
        states, _ = self.encoder(self.embedding(tokens))  # (B, L, H)
        memory, is_variable = self.initial_memory(tokens, values)
        token_mask = (tokens != 0)[:, None, :]
        output_keys = list(self.step_keys.expand(batch, -1, -1).unbind(1))  # T x (B, H), filled in step by step
        h = states.mean(1)
        operations, lefts, rights = [], [], []
        for t in range(self.steps):
            keys = torch.cat([states, torch.stack(output_keys, 1)], 1)  # (B, L + T, H)
            context = attend(self.question_query(h)[:, None], states, states, token_mask).context[:, 0]
            z = torch.tanh(self.mix(torch.cat([h, context], -1)))
            written = torch.cat([is_variable, (torch.arange(self.steps) < t).expand(batch, -1)], 1)[:, None, :]
            left = masked_softmax(dot_scores(self.left_query(z)[:, None], keys), written)[:, 0]
            right = masked_softmax(dot_scores(self.right_query(z)[:, None], keys), written)[:, 0]
            output_keys[t] = self.output_key(output_keys[t], keys, left, right)
            lefts.append(left)
            rights.append(right)
            operations.append(F.softmax(self.operation(z), -1))
            h = self.controller(z, h)
        ops, left, right = torch.stack(operations, 1), torch.stack(lefts, 1), torch.stack(rights, 1)
        outputs = execute_arithmetic(memory, ops, left, right)
        return ArithmeticTrace(outputs[:, -1], ops, left, right, outputs)

    @staticmethod
    def output_key(step_key: Tensor, keys: Tensor, left: Tensor, right: Tensor) -> Tensor:
        """The key of a step's output slot: its learned ``step_key`` (B, H) plus the mean of the keys (B, S, H) of
        the operands it read, as chosen by ``left`` and ``right`` (B, S)."""
        read = ((left + right)[:, :, None] * keys).sum(1) / 2
        return step_key + read

    def discrete_answer(self, trace: ArithmeticTrace, tokens: Tensor, values: Tensor) -> Tensor:
        """The answer of the most probable program (argmax at every step), as the paper evaluates at test time."""
        hard = [F.one_hot(w.argmax(-1), w.shape[-1]).float() for w in (trace.operations, trace.left, trace.right)]
        return execute_arithmetic(self.initial_memory(tokens, values)[0], *hard)[:, -1]


# ---------------------------------------------------------------------------------------------------- table programmer

#: The table model's operations, in the order of the controller's output.
OPERATIONS: tuple[str, ...] = ("sum", "count", "difference", "greater", "lesser", "and", "or", "reset", "print")
SCALAR_OPS = ("sum", "count", "difference")
SELECTOR_OPS = ("greater", "lesser", "and", "or", "reset")


class TableTrace(NamedTuple):
    """What the table programmer did, as data.

    ``operations`` (B, T, O) over ``OPERATIONS``; ``columns`` (B, T, C); ``numbers`` (B, T, N) over the question's
    numbers (all zero when it has none); ``selectors`` (B, T, R) the row selector after each step; ``scalars`` (B, T)
    the scalar register after each step; ``lookup`` (B, R, C) the final lookup register; ``question`` (B, T, L) the
    controller's attention over the question words. The answers are ``scalars[:, -1]`` and ``lookup``.
    """

    operations: Tensor
    columns: Tensor
    numbers: Tensor
    selectors: Tensor
    scalars: Tensor
    lookup: Tensor
    question: Tensor

    @property
    def scalar(self) -> Tensor:
        return self.scalars[:, -1]


def execute_table(table: Tensor, numbers: Tensor, number_mask: Tensor, operations: Tensor, columns: Tensor,
                  pointers: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Run a soft program on tables: returns selectors (B, T, R), scalars (B, T) and the lookup (B, R, C).

    ``table`` (B, R, C); ``numbers`` (B, N) with ``number_mask`` (B, N); ``operations`` (B, T, O), ``columns``
    (B, T, C) and ``pointers`` (B, T, N) are the per-step distributions (``pointers`` may be all zero where a
    question has no numbers). See the module docstring for each operation's soft meaning.
    """
    if table.dim() != 3:
        raise ValueError(f"table must be (batch, rows, cols), got {tuple(table.shape)}")
    batch, n_rows, n_cols = table.shape
    steps = operations.shape[1] if operations.dim() == 3 else -1
    _check_distribution("operations", operations, (batch, steps, len(OPERATIONS)))
    _check_distribution("columns", columns, (batch, steps, n_cols))
    if pointers.shape != (batch, steps, numbers.shape[1]) or numbers.shape != number_mask.shape:
        raise ValueError(f"pointers must be (B, T, N) = {(batch, steps, numbers.shape[1])} and numbers and "
                         f"number_mask (B, N); got {tuple(pointers.shape)}, {tuple(numbers.shape)}, "
                         f"{tuple(number_mask.shape)}")
    pointers = pointers * number_mask[:, None, :]
    above = (table[..., None] > numbers[:, None, None, :]).float()  # (B, R, C, N)
    below = (table[..., None] < numbers[:, None, None, :]).float()
    index = {name: i for i, name in enumerate(OPERATIONS)}
    ones = table.new_ones(batch, n_rows)
    selector, before, scalar, scalar_before = ones, ones, table.new_zeros(batch), table.new_zeros(batch)
    lookup = table.new_zeros(batch, n_rows, n_cols)
    selectors, scalars = [], []
    for t in range(steps):
        op, col, ptr = operations[:, t], columns[:, t], pointers[:, t]
        w = {name: op[:, index[name]] for name in OPERATIONS}
        column_sums = (selector[:, :, None] * table).sum(1)  # (B, C)
        results_scalar = {
            "sum": (col * column_sums).sum(-1),
            "count": selector.sum(-1),
            "difference": scalar_before - scalar,
        }
        compare = lambda m: (m * ptr[:, None, None, :]).sum(-1)  # noqa: E731  (B, R, C) mixed over numbers
        results_rows = {
            "greater": (compare(above) * col[:, None, :]).sum(-1),
            "lesser": (compare(below) * col[:, None, :]).sum(-1),
            "and": torch.minimum(selector, before),
            "or": torch.maximum(selector, before),
            "reset": ones,
        }
        scalar_mass = sum(w[name] for name in SCALAR_OPS)
        row_mass = sum(w[name] for name in SELECTOR_OPS)
        new_scalar = sum(w[n] * results_scalar[n] for n in SCALAR_OPS) + (1 - scalar_mass) * scalar
        new_selector = sum(w[n][:, None] * results_rows[n] for n in SELECTOR_OPS) + (1 - row_mass)[:, None] * selector
        printed = selector[:, :, None] * col[:, None, :]
        lookup = w["print"][:, None, None] * printed + (1 - w["print"])[:, None, None] * lookup
        before, selector = selector, new_selector
        scalar_before, scalar = scalar, new_scalar
        selectors.append(selector)
        scalars.append(scalar)
    return torch.stack(selectors, 1), torch.stack(scalars, 1), lookup


@dataclass(frozen=True)
class ProgramResult:
    """The result of a discrete program: the scalar register, the selected rows, and the printed cells."""

    scalar: float
    rows: tuple[int, ...]
    cells: tuple[tuple[int, int], ...]


def run_program(program: Sequence[tuple[str, int, int]], table: Tensor, numbers: Sequence[float]) -> ProgramResult:
    """Execute a discrete program ``[(operation, column, number_index), ...]`` on one table, in plain Python.

    The exact semantics the soft model relaxes: comparisons against a missing number select no rows.
    """
    rows = table.tolist()
    n_rows, n_cols = len(rows), len(rows[0])
    selector, before = [True] * n_rows, [True] * n_rows
    scalar, scalar_before, cells = 0.0, 0.0, ()
    for t, (op, col, k) in enumerate(program):
        if op not in OPERATIONS:
            raise ValueError(f"step {t}: unknown operation {op!r}; use one of {list(OPERATIONS)}")
        if not 0 <= col < n_cols:
            raise ValueError(f"step {t}: column {col} is out of range for a table of {n_cols} columns")
        pivot = numbers[k] if 0 <= k < len(numbers) else None
        new_selector, new_scalar = selector, scalar
        if op == "sum":
            new_scalar = sum(rows[i][col] for i in range(n_rows) if selector[i])
        elif op == "count":
            new_scalar = float(sum(selector))
        elif op == "difference":
            new_scalar = scalar_before - scalar
        elif op in ("greater", "lesser"):
            new_selector = [pivot is not None and (r[col] > pivot if op == "greater" else r[col] < pivot)
                            for r in rows]
        elif op == "and":
            new_selector = [x and y for x, y in zip(selector, before)]
        elif op == "or":
            new_selector = [x or y for x, y in zip(selector, before)]
        elif op == "reset":
            new_selector = [True] * n_rows
        else:  # print
            cells = tuple((i, col) for i in range(n_rows) if selector[i])
        before, selector = selector, new_selector
        scalar_before, scalar = scalar, float(new_scalar)
    return ProgramResult(scalar, tuple(i for i in range(n_rows) if selector[i]), cells)


class TableProgrammer(nn.Module):
    """The neural programmer of Neelakantan et al. (2016) for questions about tables.

    Question RNN (a GRU over the words) -> at each of ``steps`` steps: attention over the question (query: the
    history state), then soft selections of an operation, a column (attention against the column names'
    embeddings) and a question number (attention over the ``<num>`` positions); the history RNN (a GRU cell) is fed
    the expected operation and column embeddings, as in the paper's Eq. for ``c_t``.

    The column scores add one feature of the paper's follow-up (Neelakantan et al. 2017, "word-column match"):
    ``match_weight`` times the attention the controller pays this step to question words that are the column's
    name — so a column is chosen by *reading* its name in the question, which the explorer can show.
    """

    def __init__(self, steps: int = 4, embed: int = 32, hidden: int = 64, match_weight: float = 4.0) -> None:
        super().__init__()
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        self.steps = steps
        self.embedding = nn.Embedding(len(TABLE_VOCAB), embed, padding_idx=0)
        self.encoder = nn.GRU(embed, hidden, batch_first=True)
        self.column_key = nn.Linear(embed, hidden)
        self.operation_embedding = nn.Parameter(torch.randn(len(OPERATIONS), hidden) / hidden**0.5)
        self.history = nn.GRUCell(2 * hidden, hidden)
        self.question_query = nn.Linear(hidden, hidden)
        self.mix = nn.Linear(3 * hidden, hidden)
        self.operation_query = nn.Linear(hidden, hidden)
        self.column_query = nn.Linear(hidden, hidden)
        self.number_query = nn.Linear(hidden, hidden)
        self.match_weight = nn.Parameter(torch.tensor(match_weight))

    @staticmethod
    def last_word_state(states: Tensor, tokens: Tensor) -> Tensor:
        """The question RNN's state at each question's last word (the paper's ``q``), not at the end of the padding.

        A question padded to the longest one in its batch must be read the same as the question alone, or a model
        trained on mixed batches answers a short question differently when it is asked by itself.
        """
        last_word = (tokens != 0).sum(1).clamp_min(1) - 1  # questions are padded on the right
        return states[torch.arange(states.shape[0]), last_word]

    def forward(self, batch: TableBatch) -> TableTrace:
        if not isinstance(batch, TableBatch):
            raise TypeError(f"TableProgrammer needs a TableBatch (attnmem.tasks.tables.collate), got "
                            f"{type(batch).__name__}")
        tokens = batch.tokens
        states, _ = self.encoder(self.embedding(tokens))  # (B, L, H)
        question_vector = self.last_word_state(states, tokens)
        token_mask = (tokens != 0)[:, None, :]
        column_keys = self.column_key(self.embedding(batch.columns))  # (B, C, H)
        number_keys = states.gather(1, batch.number_positions[..., None].expand(-1, -1, states.shape[-1]))
        number_mask = batch.number_mask[:, None, :]
        names_match = (tokens[:, :, None] == batch.columns[:, None, :]).float()  # (B, L, C)
        h = torch.zeros_like(question_vector)
        operations, columns, pointers, question = [], [], [], []
        for _ in range(self.steps):
            read = attend(self.question_query(h)[:, None], states, states, token_mask)
            z = torch.tanh(self.mix(torch.cat([question_vector, read.context[:, 0], h], -1)))
            op = F.softmax(self.operation_query(z) @ self.operation_embedding.T, -1)
            reading = read.weights[:, 0, :, None] * names_match  # (B, L, C): the words read that name a column
            col_scores = dot_scores(self.column_query(z)[:, None], column_keys)[:, 0] / column_keys.shape[-1] ** 0.5
            col = F.softmax(col_scores + self.match_weight * reading.sum(1), -1)
            ptr = masked_softmax(dot_scores(self.number_query(z)[:, None], number_keys), number_mask)[:, 0]
            h = self.history(torch.cat([op @ self.operation_embedding, (col[:, :, None] * column_keys).sum(1)], -1), h)
            operations.append(op)
            columns.append(col)
            pointers.append(ptr)
            question.append(read.weights[:, 0])
        ops, cols, ptrs = torch.stack(operations, 1), torch.stack(columns, 1), torch.stack(pointers, 1)
        selectors, scalars, lookup = execute_table(batch.table, batch.numbers, batch.number_mask, ops, cols, ptrs)
        return TableTrace(ops, cols, ptrs, selectors, scalars, lookup, torch.stack(question, 1))


def induced_programs(trace: TableTrace) -> list[list[tuple[str, int, int]]]:
    """The most probable program of every example: ``[(operation, column, number_index), ...]`` per step."""
    ops, cols, nums = trace.operations.argmax(-1), trace.columns.argmax(-1), trace.numbers.argmax(-1)
    return [[(OPERATIONS[int(o)], int(c), int(n)) for o, c, n in zip(ops[b], cols[b], nums[b])]
            for b in range(ops.shape[0])]


def program_text(program: Sequence[tuple[str, int, int]], columns: Sequence[str],
                 numbers: Sequence[float] = ()) -> str:
    """A program written out, one step a line: ``1. greater(price, 20)``."""
    lines = []
    for t, (op, col, k) in enumerate(program, 1):
        number = f"{numbers[k]:g}" if 0 <= k < len(numbers) else "?"
        if op in ("sum", "print"):
            args = columns[col]
        elif op in ("greater", "lesser"):
            args = f"{columns[col]}, {number}"
        else:
            args = ""
        lines.append(f"{t}. {op}({args})")
    return "\n".join(lines)
