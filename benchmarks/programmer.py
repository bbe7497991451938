"""Neural programmer: time to quality of the arithmetic warm-up, cost per step, and per-kind table accuracy.

    python benchmarks/programmer.py [--out benchmarks/results/programmer.md] [--threads 1] [--starts 8]

1. random starts of the arithmetic programmer, each trained from answers only for the recipe's ``probe_steps``: the
   fraction of fresh expressions right (discrete program, within 1%), the worst expression shape, and CPU seconds
   — how often a start escapes the precedence minima, which is what the recipe's restarts pay for;
2. milliseconds per training step (forward + backward + Adam) of both models, batch 64;
3. the shipped ``programmer_tables`` zoo model re-measured on unseen tables, per question kind, beside its
   manifest's training time. (Retrain it with ``python -m attnmem.zoo train programmer_tables``.)
4. with ``--seeds``, the ``programmer_tables`` recipe trained again from each seed, everything else unchanged:
   per-kind accuracy on unseen tables (the recipe's own evaluation, at the zoo's evaluation seed), the CPU seconds
   of each training (the search for the pool's consistent programs, then the training on them), and which seeds answer every kind at 95% or more — whether a result is the recipe's or one
   seed's. Each run is single-threaded; ``--jobs`` runs that many at once.

    python benchmarks/programmer.py --seeds 0 1 2 3 --jobs 2 --out benchmarks/results/programmer.md
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import torch
from _publish import publish

from attnmem import programmer as P
from attnmem import zoo
from attnmem.training import programmer as T
from attnmem._util import seed_everything
from attnmem.tasks.tables import ARITH_VOCAB, KIND_GROUPS, KINDS, arithmetic_task, table_task
from attnmem.training import fit

#: The accuracy every kind must reach for a seed to count as answering every kind (issue #18).
EVERY_KIND = 0.95


def ms_per_step(model: torch.nn.Module, loss_fn, batch, repeats: int) -> float:
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    samples = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        loss, _ = loss_fn(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples[1:])


def arithmetic_start(config: dict, seed: int) -> tuple[float, str, float]:
    """Train one start as the zoo recipe does; return its test accuracy, its worst shape and the CPU seconds."""
    start = time.process_time()
    seed_everything(seed)
    model = P.ArithmeticProgrammer(config["steps"], config["embed"], config["hidden"])
    fit(model, T.arithmetic_loss, lambda g: arithmetic_task(config["batch_size"], g, n_ops=config["steps"]),
        steps=config["probe_steps"], lr=config["lr"], seed=seed, progress=False)
    cpu = time.process_time() - start
    test = arithmetic_task(2000, 7, n_ops=config["steps"])
    with torch.no_grad():
        answer = model.discrete_answer(model(test.tokens, test.values), test.tokens, test.values)
    right = (answer - test.answer).abs() <= 0.01 * test.answer.abs().clamp_min(1.0)
    words = {i: w for w, i in ARITH_VOCAB.items()}
    shapes = [" ".join(words[int(i)] if words[int(i)] in "+-*" else "x" for i in t) for t in test.tokens]
    by_shape = {s: right[[k for k, t in enumerate(shapes) if t == s]].float().mean().item() for s in set(shapes)}
    worst = min(by_shape, key=by_shape.get)
    return right.float().mean().item(), f"{worst} ({by_shape[worst]:.2f})", cpu


def table_seed(seed: int) -> tuple[int, dict[str, float], dict]:
    """Train the ``programmer_tables`` recipe from ``seed`` on one thread; its evaluation and what the training
    reports (the CPU seconds of the program search and of the training)."""
    torch.set_num_threads(1)
    recipe = zoo.recipe("programmer_tables")
    model, facts = recipe.train(recipe.config, seed, False)
    with torch.no_grad():
        metrics = recipe.evaluate(model, recipe.config, zoo.manifest("programmer_tables")["evaluation_seed"])
    return seed, metrics, facts


def seeds_table(seeds: list[int], jobs: int) -> list[str]:
    """The recipe from every seed, one row each, and which seeds answer every kind."""
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        runs = list(pool.map(table_seed, seeds))
    passed = [seed for seed, metrics, _ in runs if min(metrics[f"accuracy_{k}"] for k in KINDS) >= EVERY_KIND]
    lines = [f"## The table recipe from {len(seeds)} seeds ({len(passed)} of {len(seeds)} answer every kind at "
             f"{EVERY_KIND:.0%} or more{': seeds ' + ', '.join(map(str, passed)) if passed else ''})", "",
             "| seed | CPU s: program search + training | " + " | ".join(KINDS) + " | all |",
             "|---|---|" + "---|" * (len(KINDS) + 1)]
    for seed, metrics, facts in runs:
        cpu = f"{facts['search_cpu_seconds']:.0f} + {facts['train_cpu_seconds']:.0f}"
        lines.append(f"| {seed} | {cpu} | " + " | ".join(f"{metrics[f'accuracy_{k}']:.3f}" for k in KINDS)
                     + f" | {metrics['accuracy']:.3f} |")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the markdown table here")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for these tiny models)")
    parser.add_argument("--starts", type=int, default=8, help="random starts of the arithmetic programmer")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="*", default=[], help="retrain programmer_tables from these seeds")
    parser.add_argument("--jobs", type=int, default=1, help="seeds trained at once (one thread each)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    config = zoo.recipe("programmer_arithmetic").config
    starts = [arithmetic_start(config, seed) for seed in range(args.starts)]
    solved = sum(accuracy >= config["solved"] for accuracy, _, _ in starts)

    arith_ms = ms_per_step(P.ArithmeticProgrammer(), T.arithmetic_loss, arithmetic_task(64, 0), args.repeats)
    table_ms = ms_per_step(P.TableProgrammer(), T.table_loss, table_task(64, 0), args.repeats)

    lines = [f"# Neural programmer ({platform.machine()}, {torch.get_num_threads()} torch threads, "
             f"torch {torch.__version__}; the CPU was shared with other jobs)", "",
             f"## Arithmetic warm-up: random starts, {config['probe_steps']} steps each "
             f"({solved} of {len(starts)} reach {config['solved']:.0%})", "",
             "| start seed | accuracy (discrete, within 1%) | worst shape | CPU seconds |", "|---|---|---|---|",
             *(f"| {seed} | {accuracy:.3f} | {worst} | {cpu:.1f} |"
               for seed, (accuracy, worst, cpu) in enumerate(starts)),
             "",
             "## Cost per training step (batch 64, median)", "",
             "| model | ms per step |", "|---|---|",
             f"| ArithmeticProgrammer (2 steps) | {arith_ms:.1f} |",
             f"| TableProgrammer (4 steps, 8 x 4 tables) | {table_ms:.1f} |", ""]

    try:
        tables = zoo.load("programmer_tables")
        record = zoo.manifest("programmer_tables")
    except (zoo.ZooError, RuntimeError) as error:
        lines += [f"(programmer_tables is not shipped: {error})"]
    else:
        with torch.no_grad():
            measured = T.evaluate_tables(tables, zoo.recipe("programmer_tables").config, seed=123)
        lines += [f"## Table programmer from the zoo (trained in {record['train_seconds']:.0f} s, "
                  f"{record['steps']} steps; {record['machine']})", "",
                  "| group | kind | accuracy on unseen tables |", "|---|---|---|"]
        for group, kinds in KIND_GROUPS.items():
            for kind in kinds:
                lines.append(f"| {group} | {kind} | {measured[f'accuracy_{kind}']:.3f} |")
        lines += [f"| all | all | {measured['accuracy']:.3f} (soft answer {measured['soft_accuracy']:.3f}) |", ""]
    if args.seeds:
        lines += seeds_table(args.seeds, args.jobs)
    text = "\n".join(lines) + "\n"
    publish(text, args.out)


if __name__ == "__main__":
    main()
