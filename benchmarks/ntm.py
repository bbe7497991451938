"""Benchmarks for the neural Turing machine (chapters 6 and 7), on this machine's CPU.

1. the cost of one NTM step (batch 32, N = 128, M = 20, one read and one write head, LSTM controller of 100)
   forward + backward, against the LSTM cell alone, with one and with two threads; and with both steps compiled by
   ``torch.compile`` (which needs a C++ compiler);
2. the time of one training batch of copy (lengths 20, batch 32) for the NTM as it runs (autograd through the
   chapter's functions), with its ``advance`` compiled by ``torch.compile``, and for the LSTM baseline;
3. time-to-quality: training the NTM on copy from scratch (the zoo recipe) until the validation bit errors reach
   the target, then the bit errors on 1,000 test sequences of lengths 1-20 and at length 40 (``--skip-training``
   reads the numbers from the shipped zoo manifests instead);
4. the generalisation curve of the shipped zoo models: mean bit errors per sequence against length, 10 to 120.

Run: ``python benchmarks/ntm.py --out benchmarks/results/ntm.md``.
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable

# A fresh compile cache, so that the compile times reported are those of a first run.
os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="ntm-bench-inductor-")

import torch
from _publish import publish
from torch import Tensor

from attnmem import one_thread, zoo
from attnmem.ntm import NTM, LSTMBaseline, NTMState
from attnmem.tasks.algorithmic import copy_task, sequence_loss
from attnmem.training.ntm import evaluate_bit_errors, train_on_task

LENGTHS = (10, 20, 30, 40, 60, 80, 100, 120)


def _seconds_per_call(functions: dict[str, Callable[[], None]], repeats: int, warmup: int = 5,
                      rounds: int = 15) -> dict[str, float]:
    """CPU seconds (all of this process's threads) per call of each function: the best of ``rounds`` rounds of
    ``repeats`` calls, the functions taking turns round by round.

    CPU time rather than wall time, the best round, and taking turns, because the machine is shared: waiting for a
    core does not count, the least disturbed round is the closest to the cost on an idle machine, and every
    function sees the same disturbances.
    """
    for function in functions.values():
        for _ in range(warmup):
            function()
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.process_time()
            for _ in range(repeats):
                function()
            best[name] = min(best[name], (time.process_time() - start) / repeats)
    return best


def _mid_sequence_state(model: NTM, batch: int) -> NTMState:
    """A state as in the middle of a sequence: random memory, reads and weightings, all needing gradients."""
    locations, width = model.memory_size, model.memory_width
    return NTMState(torch.rand(batch, locations, width).requires_grad_(),
                    torch.rand(batch, model.read_heads, locations).softmax(-1).requires_grad_(),
                    torch.rand(batch, model.write_heads, locations).softmax(-1).requires_grad_(),
                    torch.rand(batch, model.read_heads, width).requires_grad_(),
                    (torch.rand(batch, 100).requires_grad_(), torch.rand(batch, 100).requires_grad_()))


def step_cost(threads: int, repeats: int, compiled: bool = False) -> dict[str, float]:
    """Forward + backward of one NTM step and of one LSTM cell step (first and mid-sequence), in CPU milliseconds;
    with ``compiled``, each step compiled by ``torch.compile`` first."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = NTM(9, 8, memory_size=128, memory_width=20, controller_size=100)
    states = {"first": model.initial_state(32), "mid": _mid_sequence_state(model, 32)}
    x = torch.rand(32, 9)
    cell = torch.nn.LSTMCell(9 + 20, 100)
    cell_input = torch.rand(32, 29)
    hidden = {"first": (torch.zeros(32, 100), torch.zeros(32, 100)),
              "mid": (torch.rand(32, 100).requires_grad_(), torch.rand(32, 100).requires_grad_())}

    def ntm_loss(state: NTMState) -> Tensor:
        logits, new_state, _ = model.step(x, state)
        return logits.sum() + new_state.memory.sum() + new_state.read_weights.sum()

    def lstm_loss(state: tuple[Tensor, Tensor]) -> Tensor:
        h, c = cell(cell_input, state)
        return h.sum() + c.sum()

    losses: dict[str, Callable] = {"ntm": ntm_loss, "lstm": lstm_loss}
    if compiled:
        losses = {name: torch.compile(loss, dynamic=False) for name, loss in losses.items()}
    functions = {f"{name} {when}": (lambda loss=loss, state=(hidden if name == "lstm" else states)[when]:
                                    loss(state).backward())
                 for name, loss in losses.items() for when in states}
    return {name: 1e3 * seconds for name, seconds in _seconds_per_call(functions, repeats).items()}


def batch_cost(repeats: int) -> dict[str, float]:
    """CPU milliseconds per training batch of copy (batch 32, length 20: 41 steps) for the NTM, the NTM with its
    ``advance`` compiled by ``torch.compile``, and the LSTM; and the seconds the compilation took."""
    batch = copy_task(32, 20, 20, seed=0)
    torch.manual_seed(0)
    models = {"ntm": NTM(9, 8), "lstm": LSTMBaseline(9, 8, 128)}
    compiled = NTM(9, 8)
    compiled.advance = torch.compile(compiled.advance, dynamic=False)  # type: ignore[method-assign]
    costs = {}
    with one_thread():
        start = time.perf_counter()
        sequence_loss(compiled(batch.inputs).logits, batch).backward()
        costs["compile seconds"] = time.perf_counter() - start
        models["ntm compiled"] = compiled
        for name, model in models.items():
            def train_step(model: torch.nn.Module = model) -> None:
                out = model(batch.inputs)
                sequence_loss(out.logits if hasattr(out, "logits") else out, batch).backward()
            costs[name] = 1e3 * _seconds_per_call({name: train_step}, repeats, warmup=1, rounds=5)[name]
    return costs


def time_to_quality() -> dict[str, float]:
    """Train the zoo's NTM copy recipe from scratch; report wall and CPU seconds and the test bit errors."""
    recipe = zoo.recipe("ntm_copy")
    config, seed = recipe.config, recipe.seed
    model, facts = train_on_task(config, seed, progress=False)
    metrics = recipe.evaluate(model, config, seed + 1)
    return {**metrics, "steps": facts["steps"], "sequences": facts["sequences_seen"],
            "seconds": facts["seconds_training"], "cpu_seconds": facts["cpu_seconds_training"]}


def from_manifest(name: str) -> dict[str, float]:
    record = zoo.manifest(name)
    return {**record["metrics"], "steps": record["steps"], "sequences": record["sequences_seen"],
            "seconds": record["seconds_training"], "cpu_seconds": record["cpu_seconds_training"]}


def generalisation(name: str, per_length: int) -> list[float]:
    """Mean bit errors per sequence of the shipped model ``name`` at each length in ``LENGTHS`` (N = 128 >= 120)."""
    model = zoo.load(name)
    return [float(evaluate_bit_errors(model, copy_task(per_length, n, n, seed=10_000 + n)).mean()) for n in LENGTHS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the markdown tables to this file")
    parser.add_argument("--repeats", type=int, default=40, help="calls per timing round")
    parser.add_argument("--skip-training", action="store_true", help="read time-to-quality from the zoo manifests")
    parser.add_argument("--per-length", type=int, default=100, help="test sequences per length in the curve")
    args = parser.parse_args()

    lines = ["# NTM benchmarks", "",
             (f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
              f"{time.strftime('%Y-%m-%d')}, load average {os.getloadavg()[0]:.1f} at the start. The cores are "
              "shared with other jobs, so wall times vary; CPU seconds are the time this process ran on a core."), "",
             "## One step, forward + backward (batch 32, N = 128, M = 20, 1 read + 1 write head, LSTM 100)", "",
             ("First step: from the initial state, whose memory and weightings need no gradient. Mid-sequence: "
              "every part of the state needs its gradient, as at any later step of training. The NTM is autograd "
              "through the functions of chapter 6, as it always runs."), "",
             "| threads | step | NTM (CPU ms) | LSTM cell (CPU ms) | ratio |", "|---|---|---|---|---|"]
    for threads in (1, 2):
        row = step_cost(threads, args.repeats)
        for when, label in (("first", "first"), ("mid", "mid-sequence")):
            ntm, lstm = row[f"ntm {when}"], row[f"lstm {when}"]
            lines.append(f"| {threads} | {label} | {ntm:.3f} | {lstm:.3f} | {ntm / lstm:.1f} |")
    start = time.perf_counter()
    row = step_cost(1, args.repeats, compiled=True)
    lines += ["", ("With both steps compiled by `torch.compile`, which fuses the many small operations into a few "
                   "loops (one thread; compiling and timing these took "
                   f"{time.perf_counter() - start:.0f} s; it needs a C++ compiler):"), "",
              "| step | NTM, compiled (CPU ms) | LSTM cell, compiled (CPU ms) | ratio |", "|---|---|---|---|"]
    for when, label in (("first", "first"), ("mid", "mid-sequence")):
        ntm, lstm = row[f"ntm {when}"], row[f"lstm {when}"]
        lines.append(f"| {label} | {ntm:.3f} | {lstm:.3f} | {ntm / lstm:.1f} |")
    torch.set_num_threads(2)
    costs = batch_cost(max(3, args.repeats // 20))
    lines += ["", "## One training batch of copy (batch 32, length 20 = 41 steps, forward + backward, one thread)", "",
              "| model | CPU ms per batch |", "|---|---|", f"| NTM | {costs['ntm']:.0f} |",
              (f"| NTM, `advance` compiled by `torch.compile` (compiling took {costs['compile seconds']:.0f} s) | "
               f"{costs['ntm compiled']:.0f} |"),
              f"| LSTM (128) | {costs['lstm']:.0f} |"]

    lines += ["", "## Time to quality: copy, trained on lengths 1-20 (floor: <= 0.1 bits at 1-20, <= 2 at 40, <= 5 min)", "",
              "| model | source | steps | sequences | wall s | CPU s | bits 1-20 | bits 40 | bits 80 |", "|---|---|---|---|---|---|---|---|---|"]
    runs = [("NTM", "zoo manifest", from_manifest("ntm_copy")), ("LSTM", "zoo manifest", from_manifest("lstm_copy"))]
    if not args.skip_training:
        runs.insert(0, ("NTM", "trained now", time_to_quality()))
    for model, source, row in runs:
        lines.append(f"| {model} | {source} | {row['steps']} | {row['sequences']} | {row['seconds']:.0f} | "
                     f"{row['cpu_seconds']:.0f} | {row['bit_errors_1_20']:.3f} | {row['bit_errors_40']:.2f} | "
                     f"{row['bit_errors_80']:.1f} |")
    other_tasks = ["ntm_repeat_copy", "ntm_associative_recall"]
    for name in other_tasks:
        record = zoo.manifest(name)
        if name == other_tasks[0]:
            lines += ["", "## Other tasks (zoo manifests; floor: <= 0.5 bits per sequence in <= 15 CPU minutes)", "",
                      ("| task | started from | steps | wall s | CPU s | bits per sequence (training range) | "
                       "reached target |"), "|---|---|---|---|---|---|---|"]
        start = record["config"].get("start_from")
        origin = f"{start} (CPU s with it: {record['cpu_seconds_including_copy']:.0f})" if start else "scratch"
        lines.append(f"| {name} | {origin} | {record['steps']} | {record['seconds_training']:.0f} | "
                     f"{record['cpu_seconds_training']:.0f} | {record['metrics']['bit_errors']:.3f} | "
                     f"{record['reached_target']} |")

    ntm_curve, lstm_curve = generalisation("ntm_copy", args.per_length), generalisation("lstm_copy", args.per_length)
    lines += ["", (f"## Generalisation: mean bit errors per sequence vs length ({args.per_length} sequences each; "
                   "trained on 1-20)"), "", "| length | " + " | ".join(str(n) for n in LENGTHS) + " |",
              "|---" * (len(LENGTHS) + 1) + "|",
              "| NTM | " + " | ".join(f"{e:.2f}" for e in ntm_curve) + " |",
              "| LSTM | " + " | ".join(f"{e:.2f}" for e in lstm_curve) + " |"]
    text = "\n".join(lines) + "\n"
    publish(text, args.out)


if __name__ == "__main__":
    main()
