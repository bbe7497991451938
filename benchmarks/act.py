"""Benchmark adaptive computation time on parity: time to quality, time per step, pondering vs difficulty.

Trains the ACT network and the one-step baseline of the same size with the same budget (steps and batch), then
measures accuracy, mean steps N, mean ponder rho and whether harder inputs (more non-zero entries) get more steps.
Optionally also summarises the shipped tau sweep from the zoo.

    python benchmarks/act.py --length 16 --steps 2000 --sweep --out benchmarks/results/act.md
"""
from __future__ import annotations

import argparse
import time

import torch
from _publish import publish

from attnmem import zoo
from attnmem.training.act import TAU_SWEEP, evaluate_parity, parity_loss, train_parity

ACT_PARITY_RECIPE = zoo.recipe("act_parity")


def _time_per_step(model: torch.nn.Module, length: int, batch_size: int) -> float:
    from attnmem.tasks.algorithmic import parity_batch

    batch = parity_batch(batch_size, length, 0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    start = time.perf_counter()
    for _ in range(20):
        loss, _ = parity_loss(model, batch, 1e-3)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=16, help="parity vector length L")
    parser.add_argument("--steps", type=int, default=ACT_PARITY_RECIPE.config["steps"],
                        help="training steps for each network (the budget; default: the zoo recipe's)")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core box)")
    parser.add_argument("--sweep", action="store_true", help="also report the zoo's tau sweep")
    parser.add_argument("--out", help="write the markdown table to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    base = {**ACT_PARITY_RECIPE.config, "length": args.length, "steps": args.steps}
    rows = []
    for label, config in ((f"ACT (tau={base['tau']:g})", {**base, "act": True}),
                          ("fixed 1 step", {**base, "act": False, "tau": 0.0})):
        start, cpu_start = time.perf_counter(), time.process_time()
        model, facts = train_parity(config, args.seed, progress=False)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        metrics = evaluate_parity(model, args.length, args.seed + 1, n=10000)
        per_step = _time_per_step(model, args.length, config["batch_size"])
        rows.append(f"| {label} | {args.length} | {facts['steps']} | {seconds:.0f} | {cpu_seconds:.0f} | "
                    f"{per_step * 1000:.1f} | "
                    f"{metrics['accuracy']:.4f} | {metrics['mean_steps']:.2f} | {metrics['mean_ponder']:.2f} | "
                    f"{metrics['steps_easy']:.2f} / {metrics['steps_hard']:.2f} | "
                    f"{metrics['steps_corr_nonzeros']:+.2f} |")
    lines = [
        f"Parity, L = {args.length}, {base['cell']} cell with {base['hidden']} units, batch {base['batch_size']}, "
        f"recipe of the zoo's act_parity (curriculum, learning rate decay, tau warm-up), {args.threads} torch "
        f"thread(s); seconds are wall clock and CPU on a shared 2-core machine.",
        "",
        "| network | L | steps trained | wall s | CPU s | ms / step (after training) | test accuracy | mean N "
        "| mean rho | N easy / hard quarter | corr(N, non-zeros) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
    ]

    shipped = [name for name in ("act_parity", "act_parity_fixed") if zoo.checkpoint_path(name).exists()]
    if shipped:
        lines += ["", "Full runs shipped in the zoo (from their manifests):", "",
                  "| model | steps | train seconds | accuracy | mean N | N easy / hard | corr(N, non-zeros) |",
                  "|---|---|---|---|---|---|---|"]
        for name in shipped:
            record = zoo.manifest(name)
            m = record["metrics"]
            lines.append(f"| {name} | {record['steps']} | {record['train_seconds']:.0f} | {m['accuracy']:.4f} | "
                         f"{m['mean_steps']:.2f} | {m['steps_easy']:.2f} / {m['steps_hard']:.2f} | "
                         f"{m['steps_corr_nonzeros']:+.2f} |")
    if args.sweep:
        record = zoo.manifest("act_parity_tau_sweep")
        config = record["config"]
        lines += ["", f"tau sweep from the zoo (L = {config['length']}, {config['steps']} steps each, hidden "
                      f"{config['hidden']}):", "", "| tau | test accuracy | mean N | mean rho | seconds |",
                  "|---|---|---|---|---|"]
        for tau in TAU_SWEEP:
            m = record["metrics"]
            lines.append(f"| {tau:g} | {m[f'accuracy@{tau:g}']:.4f} | {m[f'mean_steps@{tau:g}']:.2f} | "
                         f"{m[f'mean_ponder@{tau:g}']:.2f} | {record['seconds_per_tau'][f'{tau:g}']:.0f} |")
    table = "\n".join(lines) + "\n"
    publish(table, args.out)


if __name__ == "__main__":
    main()
