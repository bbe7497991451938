"""Scratch experiment (issue #18, part 2): train the table programmer through *discrete* programs, from answers only.

Weak supervision by answers as in semantic parsing (Liang et al. 2017, "Neural Symbolic Machines"; Guu et al. 2017,
"From language to programs"): for every training question, find the discrete programs of ``T`` steps whose executed
answer (the semantics of ``attnmem.programmer.run_program``) equals the question's answer, then train the controller
to maximise the log of their summed probability (maximum marginal likelihood, MML) or of the most probable one
(hard EM), or with every consistent program weighted alike (Guu et al.'s meritocratic update at beta = 0).

Why a lattice and not a list: ``TableProgrammer`` chooses step ``t``'s operation, column and number from a history
state fed the *expected* choices, so the probability of a discrete program factorises over steps. The consistent
programs of a question are then the paths of a small layered graph whose nodes are distinct executor states (rows
selected, the selector before, the two scalar registers, the printed cells, the question numbers used so far), and
the MML objective is the forward algorithm over that graph: exact, without listing the (often thousands of) paths.

Run: ``.venv/bin/python benchmarks/programmer_discrete_scratch.py enumerate`` (counts of consistent programs per
kind), ``... train --objective mml --seed 0`` (one training, per-kind accuracy by ``evaluate_tables``).
"""
from __future__ import annotations

import argparse
import collections
import pickle
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from attnmem._util import seed_everything
from attnmem.programmer import OPERATIONS, TableProgrammer, TableTrace, induced_programs, run_program
from attnmem.tasks.tables import KINDS, Question, collate, reference_program, sample_questions
from attnmem.training.programmer import evaluate_tables

N_ROWS, N_COLS, N_NUMBERS, STEPS = 8, 4, 2, 4
USES_COLUMN = {"sum", "greater", "lesser", "print"}
USES_NUMBER = {"greater", "lesser"}

# The distinct discrete steps: an operation with only the arguments it reads (29 for 4 columns and 2 numbers).
STEP_VOCAB: list[tuple[str, int, int]] = []
for _op in OPERATIONS:
    for _col in (range(N_COLS) if _op in USES_COLUMN else [0]):
        for _k in (range(N_NUMBERS) if _op in USES_NUMBER else [0]):
            STEP_VOCAB.append((_op, _col, _k))
STEP_INDEX = {step: i for i, step in enumerate(STEP_VOCAB)}


# --------------------------------------------------------------------------------------------- consistent programs

@dataclass
class Lattice:
    """The consistent programs of one question as a layered graph: ``edges[t]`` is (from, step, to) of step ``t``;
    node 0 of layer 0 is the empty program; every node of the last layer is a consistent end state."""

    edges: list[tuple[Tensor, Tensor, Tensor]]
    sizes: list[int]
    count: int  # number of consistent programs (paths)
    reference_consistent: bool


def _masks(table: Tensor, numbers: tuple[float, ...]) -> tuple[dict, dict, list[list[int]]]:
    """Per (column, number): the rows a comparison selects, as bit masks; per row mask: the column sums."""
    rows = [[int(v) for v in r] for r in table.tolist()]
    greater = {(c, k): sum(1 << i for i, r in enumerate(rows) if r[c] > numbers[k])
               for c in range(N_COLS) for k in range(len(numbers))}
    lesser = {(c, k): sum(1 << i for i, r in enumerate(rows) if r[c] < numbers[k])
              for c in range(N_COLS) for k in range(len(numbers))}
    sums = [[sum(rows[i][c] for i in range(N_ROWS) if m >> i & 1) for c in range(N_COLS)] for m in range(1 << N_ROWS)]
    return greater, lesser, sums


def _transition(state: tuple, step: tuple[str, int, int], greater: dict, lesser: dict, sums: list, full: int) -> tuple:
    """The executor state after one discrete step; the same semantics as ``run_program``."""
    sel, before, scalar, scalar_before, cells, used = state
    op, col, k = step
    new_sel, new_scalar = sel, scalar
    if op == "sum":
        new_scalar = sums[sel][col]
    elif op == "count":
        new_scalar = bin(sel).count("1")
    elif op == "difference":
        new_scalar = scalar_before - scalar
    elif op == "greater":
        new_sel, used = greater.get((col, k), 0), used | (1 << k)
    elif op == "lesser":
        new_sel, used = lesser.get((col, k), 0), used | (1 << k)
    elif op == "and":
        new_sel = sel & before
    elif op == "or":
        new_sel = sel | before
    elif op == "reset":
        new_sel = full
    else:  # print: the selected rows of one column (an empty print is no cell)
        cells = (sel, col) if sel else None
    return (new_sel, sel, new_scalar, scalar, cells, used)


def _target(question: Question, table: Tensor) -> tuple[str, object]:
    """What the reference program answers on ``table`` with the question's numbers, in lattice-state terms."""
    result = run_program(reference_program(question), table, question.numbers)
    if question.is_lookup:
        mask = sum(1 << r for r, _ in result.cells)
        return "cells", ((mask, result.cells[0][1]) if result.cells else None)
    return "scalar", result.scalar


def consistent_lattice(question: Question, require_numbers: bool = True, extra_tables: list[Tensor] = ()) -> Lattice:
    """All ``STEPS``-step programs whose answer is the question's (and, with ``require_numbers``, that compare
    against every number the question holds), as a pruned layered graph of distinct executor states.

    Training uses the question's own table and answer only. ``extra_tables`` (for the report, never for training)
    also demands the reference program's answer on each further table, so the programs left are the non-spurious
    ones; a node is then the tuple of the executor states on every table."""
    tables = [question.table, *extra_tables]
    if question.is_lookup:
        row, col = question.lookup_cell
        targets = [("cells", (1 << row, col))] + [_target(question, t) for t in extra_tables]
    else:
        targets = [("scalar", question.answer)] + [_target(question, t) for t in extra_tables]
    masks = [_masks(t, question.numbers) for t in tables]
    full = (1 << N_ROWS) - 1
    n_numbers = len(question.numbers)
    steps = [s for s in STEP_VOCAB if s[0] not in USES_NUMBER or s[2] < max(n_numbers, 1)]
    start = tuple((full, full, 0, 0, None, 0) for _ in tables)
    layers: list[dict[tuple, int]] = [{start: 0}]
    raw_edges: list[list[tuple[int, int, int]]] = []
    for _ in range(STEPS):
        nxt: dict[tuple, int] = {}
        edges = []
        for state, i in layers[-1].items():
            for step in steps:
                new = tuple(_transition(s, step, *m, full) for s, m in zip(state, masks))
                j = nxt.setdefault(new, len(nxt))
                edges.append((i, STEP_INDEX[step], j))
        layers.append(nxt)
        raw_edges.append(edges)

    def good(state: tuple) -> bool:
        return all(s[4] == v if kind == "cells" else abs(s[2] - v) < 0.5 for s, (kind, v) in zip(state, targets))

    need = (1 << n_numbers) - 1 if require_numbers else 0
    alive = {j for state, j in layers[-1].items() if good(state) and state[0][5] & need == need}
    # backward pruning: keep only edges on a path to a consistent end state
    kept: list[list[tuple[int, int, int]]] = [[] for _ in range(STEPS)]
    for t in range(STEPS - 1, -1, -1):
        kept[t] = [e for e in raw_edges[t] if e[2] in alive]
        alive = {e[0] for e in kept[t]}
    # renumber each layer's surviving nodes densely
    edges_t, sizes = [], [1]
    ids_prev = {0: 0} if kept[0] else {}
    for t in range(STEPS):
        ids_next: dict[int, int] = {}
        frm, stp, to = [], [], []
        for i, s, j in kept[t]:
            if i in ids_prev:
                frm.append(ids_prev[i])
                stp.append(s)
                to.append(ids_next.setdefault(j, len(ids_next)))
        edges_t.append((torch.tensor(frm, dtype=torch.long), torch.tensor(stp, dtype=torch.long),
                        torch.tensor(to, dtype=torch.long)))
        sizes.append(len(ids_next))
        ids_prev = ids_next
    count = _count_paths(edges_t, sizes)
    reference = [(op, col if op in USES_COLUMN else 0, k if op in USES_NUMBER else 0)
                 for op, col, k in reference_program(question)]
    result = run_program(reference, question.table, question.numbers)
    ok = (result.cells == (question.lookup_cell,)) if question.is_lookup else abs(result.scalar - question.answer) < .5
    return Lattice(edges_t, sizes, count, bool(ok))


def _count_paths(edges: list[tuple[Tensor, Tensor, Tensor]], sizes: list[int]) -> int:
    paths = [1]
    for t, (frm, _, to) in enumerate(edges):
        nxt = [0] * sizes[t + 1]
        for i, j in zip(frm.tolist(), to.tolist()):
            nxt[j] += paths[i]
        paths = nxt
    return sum(paths)


def build_pool(n: int, seed: int, require_numbers: bool, cache: Path) -> tuple[list[Question], list[Lattice]]:
    """``n`` training questions and their lattices, cached on disk (the enumeration is the slow part)."""
    if cache.exists():
        with cache.open("rb") as f:
            return pickle.load(f)
    questions = sample_questions(n, seed, n_rows=N_ROWS, n_cols=N_COLS)
    lattices = [consistent_lattice(q, require_numbers) for q in questions]
    with cache.open("wb") as f:
        pickle.dump((questions, lattices), f)
    return questions, lattices


# ------------------------------------------------------------------------------------------------ training signals

def step_log_probs(trace: TableTrace, has_numbers: Tensor) -> Tensor:
    """log q_t(step) for every step of ``STEP_VOCAB``: (B, T, S). A step's probability is its operation's times its
    column's (if it reads one) times its number's (if it compares and the question has numbers)."""
    log_op = trace.operations.clamp_min(1e-12).log()
    log_col = trace.columns.clamp_min(1e-12).log()
    log_num = torch.where(has_numbers[:, None, None], trace.numbers.clamp_min(1e-12).log(),
                          torch.zeros_like(trace.numbers))
    parts = []
    for op, col, k in STEP_VOCAB:
        lp = log_op[:, :, OPERATIONS.index(op)]
        if op in USES_COLUMN:
            lp = lp + log_col[:, :, col]
        if op in USES_NUMBER:
            lp = lp + log_num[:, :, k]
        parts.append(lp)
    return torch.stack(parts, -1)


def _batched_edges(lattices: list[Lattice]) -> list[tuple[Tensor, Tensor, Tensor, Tensor, int]]:
    """Per step: (from, step, to, example) with node ids offset so the batch's lattices are one graph."""
    out = []
    offsets_prev = list(range(len(lattices)))  # layer 0: example b's start node is node b
    for t in range(STEPS):
        frm, stp, to, ex, offsets_next, total = [], [], [], [], [], 0
        for b, lat in enumerate(lattices):
            f, s, j = lat.edges[t]
            frm.append(f + offsets_prev[b])
            to.append(j + total)
            stp.append(s)
            ex.append(torch.full_like(s, b))
            offsets_next.append(total)
            total += lat.sizes[t + 1]
        out.append((torch.cat(frm), torch.cat(stp), torch.cat(to), torch.cat(ex), total))
        offsets_prev = offsets_next
    return out


def _scatter_logsumexp(values: Tensor, index: Tensor, size: int) -> Tensor:
    peak = torch.full((size,), -torch.inf, dtype=values.dtype).scatter_reduce(0, index, values.detach(), "amax")
    total = torch.zeros(size, dtype=values.dtype).index_add(0, index, (values - peak[index]).exp())
    return peak + total.log()


def _scatter_max(values: Tensor, index: Tensor, size: int) -> Tensor:
    return torch.full((size,), -torch.inf, dtype=values.dtype).scatter_reduce(0, index, values, "amax")


def program_loss(logq: Tensor, lattices: list[Lattice], objective: str) -> Tensor:
    """Minus the log probability of the consistent programs, per example (B,).

    ``mml``: log of their summed probability (forward algorithm); ``hard``: log of the most probable one (hard EM,
    Viterbi; the gradient flows only through the best path); ``uniform``: the mean log probability of the
    consistent programs, every one weighted alike (the meritocratic update at beta = 0)."""
    edges = _batched_edges(lattices)
    batch = len(lattices)
    alpha = torch.zeros(batch, dtype=logq.dtype)  # one start node per example, in example order
    counts = torch.ones(batch, dtype=logq.dtype)
    for t, (frm, stp, to, ex, size) in enumerate(edges):
        score = logq[ex, t, stp]
        if objective == "mml":
            alpha = _scatter_logsumexp(alpha[frm] + score, to, size)
        elif objective == "hard":
            alpha = _scatter_max(alpha[frm] + score, to, size)
        else:  # uniform: sum over paths of their log probability, and the number of paths, per node
            alpha = torch.zeros(size, dtype=logq.dtype).index_add(0, to, alpha[frm] + counts[frm] * score)
            counts = torch.zeros(size, dtype=logq.dtype).index_add(0, to, counts[frm])
    _, _, last_to, last_ex, last_size = edges[-1]
    end_ex = torch.zeros(last_size, dtype=torch.long).scatter(0, last_to, last_ex)  # each end node's example
    if objective == "mml":
        return -_scatter_logsumexp(alpha, end_ex, batch)
    if objective == "hard":
        return -_scatter_max(alpha, end_ex, batch)
    paths = torch.zeros(batch, dtype=logq.dtype).index_add(0, end_ex, counts)
    return -torch.zeros(batch, dtype=logq.dtype).index_add(0, end_ex, alpha) / paths


# ----------------------------------------------------------------------------------------------------- reporting

def abstract_program(program: list[tuple[str, int, int]], question: Question) -> str:
    """A program with columns written as the question's roles (A, B, other) and numbers as n0/n1."""
    role = {c: name for c, name in zip(question.slots, "AB")}
    words = []
    for op, col, k in program:
        args = []
        if op in USES_COLUMN:
            args.append(role.get(col, "x"))
        if op in USES_NUMBER:
            args.append(f"n{k}")
        words.append(f"{op}({','.join(args)})" if args else op)
    return " ".join(words)


def program_report(model: TableProgrammer, n: int, seed: int) -> dict[str, collections.Counter]:
    """The most common induced programs per kind on unseen tables."""
    questions = sample_questions(n, seed, split="test", n_rows=N_ROWS, n_cols=N_COLS)
    with torch.no_grad():
        programs = induced_programs(model(collate(questions)))
    report: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for q, p in zip(questions, programs):
        report[q.kind][abstract_program(p, q)] += 1
    return report


def reference_rate(model: TableProgrammer, n: int, seed: int, tables: int = 20) -> dict[str, float]:
    """Per kind: the share of unseen questions whose induced program computes the same function as the reference
    program: the same answer on ``tables`` further random tables (same columns, same numbers). A spurious program
    (right on its own table for the wrong reason) fails this."""
    questions = sample_questions(n, seed, split="test", n_rows=N_ROWS, n_cols=N_COLS)
    with torch.no_grad():
        programs = induced_programs(model(collate(questions)))
    gen = torch.Generator().manual_seed(seed + 77)
    hits: dict[str, list[bool]] = collections.defaultdict(list)
    for q, p in zip(questions, programs):
        ref = reference_program(q)
        same = True
        for _ in range(tables):
            table = torch.stack([torch.randperm(50, generator=gen)[:N_ROWS] for _ in range(N_COLS)], 1).float()
            a, b = run_program(p, table, q.numbers), run_program(ref, table, q.numbers)
            if (a.cells != b.cells) if q.is_lookup else abs(a.scalar - b.scalar) > 0.5:
                same = False
                break
        hits[q.kind].append(same)
    return {k: sum(v) / len(v) for k, v in hits.items()}


# ------------------------------------------------------------------------------------------------------- commands

def enumerate_command(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    start = time.process_time()
    questions = sample_questions(args.n, args.seed, n_rows=N_ROWS, n_cols=N_COLS)
    gen = torch.Generator().manual_seed(args.seed + 99)
    counts: dict[str, list[int]] = collections.defaultdict(list)
    kept: dict[str, list[int]] = collections.defaultdict(list)
    nodes: list[int] = []
    missing = 0
    for q in questions:
        lat = consistent_lattice(q, not args.any_numbers)
        counts[q.kind].append(lat.count)
        nodes.append(sum(lat.sizes))
        missing += not lat.reference_consistent
        if args.extra:
            extra = [torch.stack([torch.randperm(50, generator=gen)[:N_ROWS] for _ in range(N_COLS)], 1).float()
                     for _ in range(args.extra)]
            kept[q.kind].append(consistent_lattice(q, not args.any_numbers, extra).count)
    seconds = time.process_time() - start
    print(f"{args.n} questions, {seconds:.1f} CPU s ({1000 * seconds / args.n:.0f} ms each); "
          f"numbers required: {not args.any_numbers}; reference program not consistent: {missing}")
    print(f"kind | questions | consistent programs: median | min | max | answer 0 | "
          f"non-spurious (also the reference's answer on {args.extra} more tables): median | spurious share")
    for kind in (k for k in KINDS if counts[k]):
        c = counts[kind]
        zero = sum(q.answer == 0 for q in questions if q.kind == kind and not q.is_lookup)
        line = f"{kind} | {len(c)} | {statistics.median(c):g} | {min(c)} | {max(c)} | {zero}"
        if args.extra:
            k = kept[kind]
            line += f" | {statistics.median(k):g} | {1 - sum(k) / sum(c):.3f}"
        print(line)
    print(f"lattice nodes per question: median {statistics.median(nodes):g}, max {max(nodes)}")


def train_command(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    cache = Path(args.cache_dir) / f"pool_{args.pool}_{args.pool_seed}_{int(not args.any_numbers)}.pkl"
    t0 = time.process_time()
    questions, lattices = build_pool(args.pool, args.pool_seed, not args.any_numbers, cache)
    questions, lattices = questions[: args.use or None], lattices[: args.use or None]
    print(f"pool: {len(questions)} questions, {time.process_time() - t0:.1f} CPU s to build or load", flush=True)
    seed_everything(args.seed)
    model = TableProgrammer(STEPS, args.embed, args.hidden, 4.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    config = {"n_rows": N_ROWS, "n_cols": N_COLS, "test_size": 800}
    start = time.process_time()
    for step in range(1, args.steps + 1):
        pick = torch.randint(0, len(questions), (args.batch,), generator=gen).tolist()
        batch = collate([questions[i] for i in pick])
        trace = model(batch)
        logq = step_log_probs(trace, batch.number_mask.any(1)).double()
        objective = args.objective if step > args.warm_uniform else "uniform"
        loss = program_loss(logq, [lattices[i] for i in pick], objective).mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % args.eval_every == 0 or step == args.steps:
            model.eval()
            metrics = evaluate_tables(model, config, 1)
            model.train()
            kinds = " ".join(f"{metrics.get('accuracy_' + k, float('nan')):.2f}" for k in KINDS)
            print(f"step {step} loss {float(loss.detach()):.3f} cpu {time.process_time() - start:.0f}s "
                  f"acc {metrics['accuracy']:.3f} | {kinds}", flush=True)
            if metrics["accuracy"] >= args.stop_at:
                break
    train_seconds = time.process_time() - start
    print(f"trained {step} steps in {train_seconds:.1f} CPU s (evaluations included; pool building not)")
    print("reference-program rate per kind:",
          {k: round(v, 3) for k, v in sorted(reference_rate(model, 800, 1).items())})
    for kind, counter in program_report(model, 800, 1).items():
        print(kind, counter.most_common(3))
    if args.save:
        torch.save(model.state_dict(), args.save)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    e = sub.add_parser("enumerate")
    e.add_argument("--n", type=int, default=400)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--any-numbers", action="store_true", help="do not require programs to use the numbers")
    e.add_argument("--extra", type=int, default=0, help="also count programs right on this many more tables")
    t = sub.add_parser("train")
    t.add_argument("--objective", choices=("mml", "hard", "uniform"), default="mml")
    t.add_argument("--warm-uniform", type=int, default=0, help="steps of the uniform objective first")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--steps", type=int, default=2000)
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--lr", type=float, default=5e-3)
    t.add_argument("--embed", type=int, default=32)
    t.add_argument("--hidden", type=int, default=64)
    t.add_argument("--pool", type=int, default=4000)
    t.add_argument("--pool-seed", type=int, default=123)
    t.add_argument("--use", type=int, default=0, help="train on the pool's first USE questions only (0: all)")
    t.add_argument("--any-numbers", action="store_true")
    t.add_argument("--eval-every", type=int, default=250)
    t.add_argument("--stop-at", type=float, default=1.01)
    t.add_argument("--cache-dir", default="/tmp")
    t.add_argument("--save", default="")
    args = parser.parse_args()
    enumerate_command(args) if args.command == "enumerate" else train_command(args)


if __name__ == "__main__":
    main()
