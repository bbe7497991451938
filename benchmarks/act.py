"""Benchmark adaptive computation time on parity: time to quality, time per step, pondering vs difficulty.

Trains the ACT network and the one-step baseline of the same size with the same budget (steps and batch), then
measures accuracy, mean steps N, mean ponder rho and whether harder inputs (more non-zero entries) get more steps.
Optionally also summarises the shipped tau sweep from the zoo. ``--halting`` instead asks why an ACT network
runs into its step cap: it trains the first 1,000 steps of the act_parity recipe with the time penalty
applied from the start, at several penalties, caps and initial halting biases, and reports how long the networks
ponder by then.

    python benchmarks/act.py --length 16 --steps 2000 --sweep --out benchmarks/results/act.md
    python benchmarks/act.py --halting --out benchmarks/results/act_halting.md
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


HALTING_VARIANTS = (
    {"tau": 1e-3},
    {"tau": 1e-2},
    {"tau": 1e-2, "max_steps": 20},
    {"tau": 1e-2, "max_steps": 20, "halting_bias": 1.0},
)


def halting_table(steps: int, seed: int) -> str:
    """How long ACT networks ponder after ``steps`` steps of learning parity, for each of ``HALTING_VARIANTS``."""
    base = {**ACT_PARITY_RECIPE.config, "steps": steps, "lr_final": ACT_PARITY_RECIPE.config["lr"], "tau_warmup": 0,
            "target_accuracy": None, "settle_tau": 0.0, "eval_every": steps}
    rows = []
    for variant in HALTING_VARIANTS:
        config = {**base, **variant}
        cpu_start = time.process_time()
        model, _ = train_parity(config, seed, progress=False)
        cpu_seconds = time.process_time() - cpu_start
        m = evaluate_parity(model, config["length"], seed + 1, n=5000)
        rows.append(f"| {config['tau']:g} | {config['max_steps']} | {config['halting_bias']:+g} | "
                    f"{m['accuracy']:.3f} | {m['mean_steps']:.2f} | {m['cap_share']:.0%} | {cpu_seconds:.0f} |")
    return "\n".join([
        f"The first {steps} steps of the act_parity recipe (L = {base['length']}, LSTM "
        f"{base['hidden']}, curriculum, learning rate {base['lr']:g}), the time penalty tau applied from the first "
        f"step; then 5,000 fresh vectors. A network starts at about two (bias +1) or four (bias -1) steps.",
        "",
        "| tau | cap | initial halting bias | accuracy | mean N | at the cap | CPU s |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=16, help="parity vector length L")
    parser.add_argument("--steps", type=int, default=ACT_PARITY_RECIPE.config["steps"],
                        help="training steps for each network (the budget; default: the zoo recipe's)")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core box)")
    parser.add_argument("--sweep", action="store_true", help="also report the zoo's tau sweep")
    parser.add_argument("--halting", action="store_true",
                        help="only the halting study: 1,000 steps per variant of tau, cap and halting bias")
    parser.add_argument("--out", help="write the markdown table to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.halting:
        publish(halting_table(1000, args.seed), args.out)
        return

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

    shipped = [name for name in ("act_parity", "act_parity_settled", "act_parity_fixed", "act_parity_fixed_deep")
               if zoo.checkpoint_path(name).exists()]
    if shipped:
        lines += ["", "Full runs shipped in the zoo (from their manifests):", "",
                  "| model | steps | wall s | CPU s | accuracy | mean N | at the cap | N easy / hard | "
                  "corr(N, non-zeros) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name in shipped:
            record = zoo.manifest(name)
            m = record["metrics"]
            cpu = f"{record['cpu_seconds']:.0f}" if "cpu_seconds" in record else "-"
            at_cap = f"{m['cap_share']:.1%}" if "cap_share" in m else "-"
            lines.append(f"| {name} | {record['steps']} | {record['train_seconds']:.0f} | {cpu} | "
                         f"{m['accuracy']:.4f} | {m['mean_steps']:.2f} | {at_cap} | "
                         f"{m['steps_easy']:.2f} / {m['steps_hard']:.2f} | "
                         f"{m['steps_corr_nonzeros']:+.2f} |")
    if args.sweep:
        record = zoo.manifest("act_parity_tau_sweep")
        config = record["config"]
        lines += ["", f"tau sweep from the zoo ({config['start']} trained on for {config['settle_steps']} steps at "
                      f"each tau; L = {config['length']}, hidden {config['hidden']}):", "",
                  "| tau | test accuracy | mean N | mean rho | at the cap | CPU s |", "|---|---|---|---|---|---|"]
        for tau in TAU_SWEEP:
            m = record["metrics"]
            lines.append(f"| {tau:g} | {m[f'accuracy@{tau:g}']:.4f} | {m[f'mean_steps@{tau:g}']:.2f} | "
                         f"{m[f'mean_ponder@{tau:g}']:.2f} | {m[f'cap_share@{tau:g}']:.1%} | "
                         f"{record['cpu_seconds_per_tau'][f'{tau:g}']:.0f} |")
    table = "\n".join(lines) + "\n"
    publish(table, args.out)


if __name__ == "__main__":
    main()
