"""Training the table programmer through its discrete programs: maximum marginal likelihood over the consistent ones.

The signal is still the answer alone. For a training question, the *consistent* programs are the discrete programs
of ``T`` steps whose executed answer (``attnmem.programmer.run_program``) is the question's answer; the loss is minus
the log of their summed probability under the controller,

    loss = -log sum_{z : run(z) = y} p(z | x),

the maximum-marginal-likelihood objective of weakly supervised semantic parsing (Liang et al. 2017, "Neural
Symbolic Machines"; Guu et al. 2017, "From language to programs"). Neelakantan et al. (2016) instead train the soft
mixture of all programs end to end; this keeps their model and changes what it is trained on.

Many programs share their first steps and reach the same executor state, so the consistent programs of a question
are the paths of a small layered graph whose nodes are distinct executor states (rows selected, the selection
before, the two scalar registers, the printed cells). ``TableProgrammer`` feeds its history RNN the *expected*
choices, so a program's probability is the product of its steps' probabilities, and the sum over paths is the
forward algorithm over that graph: exact, without listing the thousands of paths.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
from torch import Tensor

from attnmem.programmer import OPERATIONS, TableTrace, run_program
from attnmem.tasks.tables import MAX_NUMBERS, Question, random_table

__all__ = ["ProgramGraph", "discrete_steps", "consistent_programs", "program_paths", "same_function",
           "step_log_probabilities", "marginal_log_likelihood"]

READS_COLUMN = ("sum", "greater", "lesser", "print")
READS_NUMBER = ("greater", "lesser")

Step = tuple[str, int, int]
# an executor state: (selected rows, selection before, scalar, scalar before, printed cells); rows are bit masks
State = tuple[int, int, float, float, "tuple[int, int] | None"]


def discrete_steps(n_cols: int, n_numbers: int = MAX_NUMBERS) -> list[Step]:
    """Every distinct step ``(operation, column, number)``, with 0 for an argument the operation does not read
    (29 for 4 columns and 2 numbers)."""
    return [(op, col, k)
            for op in OPERATIONS
            for col in (range(n_cols) if op in READS_COLUMN else [0])
            for k in (range(n_numbers) if op in READS_NUMBER else [0])]


@dataclass(frozen=True)
class ProgramGraph:
    """The consistent programs of one question as a layered graph.

    ``edges[t]`` holds three index tensors (from node, step, to node) for step ``t``: a node of layer ``t`` is an
    executor state after ``t`` steps, the step is an index into ``steps``; layer 0 is the single start state, and
    every node of the last layer answers the question. ``count`` is the number of paths (consistent programs).
    """

    steps: list[Step]
    edges: list[tuple[Tensor, Tensor, Tensor]]
    sizes: list[int]
    count: int


def _advance(state: State, step: Step, greater: dict, lesser: dict, sums: list, all_rows: int) -> State:
    """One discrete step on bit-mask registers: the semantics of ``run_program``."""
    selected, before, scalar, scalar_before, cells = state
    op, col, k = step
    new_selected, new_scalar = selected, scalar
    if op == "sum":
        new_scalar = sums[selected][col]
    elif op == "count":
        new_scalar = float(bin(selected).count("1"))
    elif op == "difference":
        new_scalar = scalar_before - scalar
    elif op == "greater":
        new_selected = greater.get((col, k), 0)  # a missing number selects no rows
    elif op == "lesser":
        new_selected = lesser.get((col, k), 0)
    elif op == "and":
        new_selected = selected & before
    elif op == "or":
        new_selected = selected | before
    elif op == "reset":
        new_selected = all_rows
    else:  # print: one column of the selected rows; printing no rows prints no cell
        cells = (selected, col) if selected else None
    return new_selected, selected, new_scalar, scalar, cells


def consistent_programs(question: Question, n_steps: int = 4) -> ProgramGraph:
    """The graph of every ``n_steps``-step program whose answer on the question's table is the question's answer.

    Scalar answers match within 0.5 (answers are integers); a lookup must print exactly the answer's cell.
    """
    rows = [[float(v) for v in row] for row in question.table.tolist()]
    n_rows, n_cols = len(rows), len(rows[0])
    numbers = question.numbers
    greater = {(c, k): sum(1 << i for i, row in enumerate(rows) if row[c] > n)
               for c in range(n_cols) for k, n in enumerate(numbers)}
    lesser = {(c, k): sum(1 << i for i, row in enumerate(rows) if row[c] < n)
              for c in range(n_cols) for k, n in enumerate(numbers)}
    sums = [[sum(rows[i][c] for i in range(n_rows) if mask >> i & 1) for c in range(n_cols)]
            for mask in range(1 << n_rows)]
    all_rows = (1 << n_rows) - 1
    steps = discrete_steps(n_cols)
    usable = [i for i, (op, _, k) in enumerate(steps) if op not in READS_NUMBER or k < max(len(numbers), 1)]

    layers: list[dict[State, int]] = [{(all_rows, all_rows, 0.0, 0.0, None): 0}]
    all_edges: list[list[tuple[int, int, int]]] = []
    for _ in range(n_steps):
        following: dict[State, int] = {}
        edges = []
        for state, i in layers[-1].items():
            for s in usable:
                j = following.setdefault(_advance(state, steps[s], greater, lesser, sums, all_rows), len(following))
                edges.append((i, s, j))
        layers.append(following)
        all_edges.append(edges)

    if question.is_lookup:
        row, col = question.lookup_cell
        answers = lambda state: state[4] == (1 << row, col)  # noqa: E731
    else:
        answers = lambda state: abs(state[2] - question.answer) < 0.5  # noqa: E731
    alive = {j for state, j in layers[-1].items() if answers(state)}
    kept: list[list[tuple[int, int, int]]] = [[] for _ in range(n_steps)]
    for t in reversed(range(n_steps)):  # keep only the edges on a path to an answering state
        kept[t] = [edge for edge in all_edges[t] if edge[2] in alive]
        alive = {edge[0] for edge in kept[t]}

    graph_edges, sizes, renamed = [], [1], {0: 0} if kept[0] else {}
    for t in range(n_steps):  # number each layer's surviving nodes 0, 1, 2, ...
        following_names: dict[int, int] = {}
        triples = [(renamed[i], s, following_names.setdefault(j, len(following_names)))
                   for i, s, j in kept[t] if i in renamed]
        frm, stp, to = zip(*triples) if triples else ((), (), ())
        graph_edges.append(tuple(torch.tensor(x, dtype=torch.long) for x in (frm, stp, to)))
        sizes.append(len(following_names))
        renamed = following_names
    paths = [1]
    for t, (frm, _, to) in enumerate(graph_edges):
        reaching = [0] * sizes[t + 1]
        for i, j in zip(frm.tolist(), to.tolist()):
            reaching[j] += paths[i]
        paths = reaching
    return ProgramGraph(steps, graph_edges, sizes, sum(paths))


def program_paths(graph: ProgramGraph) -> Iterator[list[Step]]:
    """The consistent programs one by one (depth first): for reading a few, not for training."""
    leaving = []  # per step: node -> [(step, next node), ...]
    for frm, stp, to in graph.edges:
        out: dict[int, list[tuple[int, int]]] = {}
        for i, s, j in zip(frm.tolist(), stp.tolist(), to.tolist()):
            out.setdefault(i, []).append((s, j))
        leaving.append(out)

    def walk(t: int, node: int, prefix: list[Step]) -> Iterator[list[Step]]:
        if t == len(leaving):
            yield prefix
            return
        for s, j in leaving[t].get(node, []):
            yield from walk(t + 1, j, prefix + [graph.steps[s]])
    yield from walk(0, 0, [])


def same_function(program: Sequence[Step], other: Sequence[Step], question: Question, n_tables: int = 20,
                  seed: int = 0) -> bool:
    """Whether two programs give the same answer to the question on ``n_tables`` further random tables of its shape,
    with its numbers: a program that is right on its own table for the wrong reason (a *spurious* one) soon differs.
    The answer is the scalar, or for a lookup the printed cells."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(n_tables):
        table = random_table(*question.table.shape, generator=generator)
        a, b = run_program(program, table, question.numbers), run_program(other, table, question.numbers)
        differ = a.cells != b.cells if question.is_lookup else abs(a.scalar - b.scalar) > 0.5
        if differ:  # only the answer counts: a scalar question's program may print cells on the side
            return False
    return True


def step_log_probabilities(trace: TableTrace, has_numbers: Tensor, steps: Sequence[Step]) -> Tensor:
    """log p_t(step) for every discrete step at every time step, (B, T, S): the operation's probability times the
    column's (if the operation reads one) times the number's (if it compares and the question has numbers)."""
    log_operation = trace.operations.clamp_min(1e-12).log()
    log_column = trace.columns.clamp_min(1e-12).log()
    log_number = torch.where(has_numbers[:, None, None], trace.numbers.clamp_min(1e-12).log(),
                             torch.zeros_like(trace.numbers))
    columns_of = []
    for op, col, k in steps:
        log_p = log_operation[:, :, OPERATIONS.index(op)]
        if op in READS_COLUMN:
            log_p = log_p + log_column[:, :, col]
        if op in READS_NUMBER:
            log_p = log_p + log_number[:, :, k]
        columns_of.append(log_p)
    return torch.stack(columns_of, -1)


def _logsumexp_into(values: Tensor, index: Tensor, size: int) -> Tensor:
    """``out[j] = log sum_{i : index[i] = j} exp(values[i])``, stable."""
    peak = torch.full((size,), -torch.inf, dtype=values.dtype).scatter_reduce(0, index, values.detach(), "amax")
    total = torch.zeros(size, dtype=values.dtype).index_add(0, index, (values - peak[index]).exp())
    return peak + total.log()


def marginal_log_likelihood(log_p: Tensor, graphs: Sequence[ProgramGraph]) -> Tensor:
    """log sum over each question's consistent programs of their probability, (B,): the forward algorithm.

    ``log_p`` is ``step_log_probabilities`` (B, T, S); ``alpha`` holds, for every node of the current layer of all
    the batch's graphs at once, the log of the summed probability of the program prefixes that reach it.
    """
    alpha = log_p.new_zeros(len(graphs))  # the start node of each question's graph
    start_of = list(range(len(graphs)))
    for t in range(log_p.shape[1]):
        frm, stp, to, question, offset = [], [], [], [], 0
        next_start = []
        for b, graph in enumerate(graphs):
            f, s, j = graph.edges[t]
            frm.append(f + start_of[b])
            stp.append(s)
            to.append(j + offset)
            question.append(torch.full_like(s, b))
            next_start.append(offset)
            offset += graph.sizes[t + 1]
        frm, stp, to, question = (torch.cat(x) for x in (frm, stp, to, question))
        alpha = _logsumexp_into(alpha[frm] + log_p[question, t, stp], to, offset)
        start_of = next_start
    question_of_node = torch.zeros(offset, dtype=torch.long).scatter(0, to, question)
    return _logsumexp_into(alpha, question_of_node, len(graphs))
