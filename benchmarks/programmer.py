"""Neural programmer: time to quality of the arithmetic warm-up, cost per step, and per-kind table accuracy.

    python benchmarks/programmer.py [--out benchmarks/results/programmer.md] [--threads 1]

1. the arithmetic programmer trained from answers only until 95% of fresh expressions are right (discrete program,
   within 1%), evaluated every 100 steps;
2. milliseconds per training step (forward + backward + Adam) of both models, batch 64;
3. the shipped ``programmer_tables`` zoo model re-measured on unseen tables, per question kind, beside its
   manifest's training time. (Retrain it with ``python -m attnmem.zoo train programmer_tables``.)
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from attnmem import programmer as P
from attnmem import zoo
from attnmem.tasks.tables import KIND_GROUPS, arithmetic_task, table_task
from attnmem.training import Target, fit


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the markdown table here")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for these tiny models)")
    parser.add_argument("--max-steps", type=int, default=3000, help="cap on the arithmetic time-to-quality run")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    config = dict(P.ARITHMETIC_RECIPE.config, test_size=500)
    model = P.ArithmeticProgrammer(config["steps"], config["embed"], config["hidden"])
    history = fit(model, P.arithmetic_loss, lambda g: arithmetic_task(64, g, n_ops=2), steps=args.max_steps,
                  lr=config["lr"], seed=0, evaluate=lambda m: P.evaluate_arithmetic(m, config, 7), eval_every=100,
                  target=Target("accuracy", 0.95), progress=False)
    reached = history.final["accuracy"] >= 0.95

    arith_ms = ms_per_step(P.ArithmeticProgrammer(), P.arithmetic_loss, arithmetic_task(64, 0), args.repeats)
    table_ms = ms_per_step(P.TableProgrammer(), P.table_loss, table_task(64, 0), args.repeats)

    lines = [f"# Neural programmer ({platform.machine()}, {torch.get_num_threads()} torch threads, "
             f"torch {torch.__version__}; the CPU was shared with other jobs)", "",
             "## Arithmetic warm-up: time to 95% of expressions (discrete program, within 1%)", "",
             "| reached | steps | seconds | accuracy | soft accuracy |", "|---|---|---|---|---|",
             f"| {'yes' if reached else 'no'} | {history.steps} | {history.seconds:.1f} | "
             f"{history.final['accuracy']:.3f} | {history.final['soft_accuracy']:.3f} |", "",
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
            measured = P.evaluate_tables(tables, P.TABLES_RECIPE.config, seed=123)
        lines += [f"## Table programmer from the zoo (trained in {record['train_seconds']:.0f} s, "
                  f"{record['steps']} steps; {record['machine']})", "",
                  "| group | kind | accuracy on unseen tables |", "|---|---|---|"]
        for group, kinds in KIND_GROUPS.items():
            for kind in kinds:
                lines.append(f"| {group} | {kind} | {measured[f'accuracy_{kind}']:.3f} |")
        lines += [f"| all | all | {measured['accuracy']:.3f} (soft answer {measured['soft_accuracy']:.3f}) |"]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
