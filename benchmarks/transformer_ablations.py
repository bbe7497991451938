"""The paper's Table 3 in miniature (chapter 10): what each part of the chapter's Transformer is worth, over seeds.

Starting from the zoo recipe (``attnmem.zoo.recipes.transformer.CONFIG``: 2+2 layers, 4 heads, d_model 64,
sinusoidal positions, pre-norm), one thing changes at a time: the number of heads at equal width (1, 2, 8; d_k =
64 / heads, as the paper's rows (A)), the number of layers (1, 3; rows (C)), the paper's post-norm placement. Each
variant trains from each seed until 100 held-out sentences are all right or ``--budget`` CPU seconds are spent, and
reports the CPU seconds to 0.95 and to 1.00 held-out exact match, and exact match at 30 and 45 words on 100 fresh
sentences. The baseline is the zoo recipe with its own budget (180 CPU s); for seed 0 it is the zoo model itself
(its manifest's curve, measured on the same sentences). Positions are compared over seeds in
``transformer_seeds.py``. Finished runs are appended to ``--log`` and reused, so the script resumes where it
stopped; two copies may run at once on different seeds.

    python benchmarks/transformer_ablations.py --seeds 0 1 2 --out benchmarks/results/transformer_ablations.md
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch
from _publish import publish

from attnmem import zoo
from attnmem.seq2seq import accuracy_by_length
from attnmem.training.transformer import train_transformer
from attnmem.zoo.recipes.transformer import CONFIG

BASELINE = "baseline (the zoo recipe): 2+2 layers, 4 heads (d_k 16), pre-norm"
VARIANTS = {
    "heads 1 (d_k 64)": {"heads": 1},
    "heads 2 (d_k 32)": {"heads": 2},
    "heads 8 (d_k 8)": {"heads": 8},
    "layers 1+1": {"layers": 1},
    "layers 3+3": {"layers": 3},
    "post-norm (the paper's)": {"norm": "post"},
}
LENGTHS = (30, 45)


def reached(curve: list, level: float) -> float | None:
    return next((seconds for _, seconds, exact in curve if exact >= level), None)


def measure(name: str, change: dict, seed: int, budget: float, test_seed: int, n: int) -> dict:
    torch.set_num_threads(1)
    if not change and seed == 0:
        model, facts = zoo.load("transformer"), zoo.manifest("transformer")
    else:
        config = {**CONFIG, **change, "cpu_budget": budget} if change else CONFIG
        model, facts = train_transformer(config, seed, progress=False)
    scores = accuracy_by_length(model.eval(), LENGTHS, n=n, seed=test_seed)
    return {"variant": name, "seed": seed, "parameters": sum(p.numel() for p in model.parameters()),
            "steps": facts["steps"], "cpu": facts["cpu_seconds"], "to_095": reached(facts["training_curve"], 0.95),
            "to_100": reached(facts["training_curve"], 1.0),
            "best": max(e for _, _, e in facts["training_curve"]),
            "exact": {str(k): v["exact_match"] for k, v in scores.items()}}


def spread(values: list, digits: int) -> str:
    """Mean (lowest-highest) over the runs that got a value, and how many did when not all."""
    got = [v for v in values if v is not None]
    if not got:
        return "not reached"
    text = f"{sum(got) / len(got):.{digits}f} ({min(got):.{digits}f}-{max(got):.{digits}f})"
    return text if len(got) == len(values) else f"{text}, {len(got)} of {len(values)} runs"


def means(results: list[dict]) -> str:
    rows = ["| variant | seeds | parameters | CPU s to 0.95 | CPU s to 1.00 | "
            + " | ".join(f"EM at {n} words" for n in LENGTHS) + " |", "|---|---|---|---|---|" + "---|" * len(LENGTHS)]
    for name in [BASELINE, *VARIANTS]:
        runs = [r for r in results if r["variant"] == name]
        if runs:
            rows.append(f"| {name} | {', '.join(str(r['seed']) for r in runs)} | {runs[0]['parameters']} | "
                        f"{spread([r['to_095'] for r in runs], 0)} | {spread([r['to_100'] for r in runs], 0)} | "
                        + " | ".join(spread([r["exact"][str(n)] for r in runs], 2) for n in LENGTHS) + " |")
    return "\n".join(rows)


def every_run(results: list[dict]) -> str:
    rows = ["| variant | seed | parameters | steps | CPU s | CPU s to 0.95 | CPU s to 1.00 | best held-out | "
            + " | ".join(f"EM at {n} words" for n in LENGTHS) + " |",
            "|---|---|---|---|---|---|---|---|" + "---|" * len(LENGTHS)]
    for r in results:
        rows.append(f"| {r['variant']} | {r['seed']} | {r['parameters']} | {r['steps']} | {r['cpu']:.0f} | "
                    f"{r['to_095'] if r['to_095'] is not None else 'not reached'} | "
                    f"{r['to_100'] if r['to_100'] is not None else 'not reached'} | {r['best']:.2f} | "
                    + " | ".join(f"{r['exact'][str(n)]:.2f}" for n in LENGTHS) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--test-seed", type=int, default=2718)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--log", default="benchmarks/results/transformer_ablations.jsonl")
    parser.add_argument("--out")
    args = parser.parse_args()
    log = Path(args.log)
    done = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    have = {(r["variant"], r["seed"]) for r in done}
    load = "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    for seed in args.seeds:
        for name, change in [(BASELINE, {}), *((v, VARIANTS[v]) for v in args.variants)]:
            if (name, seed) in have:
                continue
            result = measure(name, change, seed, args.budget, args.test_seed, args.n)
            done.append(result)
            with log.open("a") as handle:
                handle.write(json.dumps(result) + "\n")
            print(result, flush=True)
    done.sort(key=lambda r: ([BASELINE, *VARIANTS].index(r["variant"]), r["seed"]))
    text = "\n\n".join([
        "# Transformer: the paper's Table 3 in miniature",
        (f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs, torch {torch.__version__}, "
         f"one thread per run; {time.strftime('%Y-%m-%d')}; {load} when the table was written. Each variant "
         f"changes one thing in the zoo recipe and trains until 100 held-out sentences (3-30 words) are all right "
         f"or {args.budget:.0f} CPU seconds are spent (the baseline, the zoo recipe: 180). CPU seconds are read off "
         f"the held-out curve (evaluated every 200 steps); they are process time, but a machine shared with other "
         f"jobs also slows a process down per CPU second (caches), so they vary from run to run. EM: exact match "
         f"on {args.n} fresh sentences per length (test seed {args.test_seed}), greedy decoding."),
        "## Mean over seeds (lowest-highest)", means(done),
        "## Every run", every_run(done),
    ]) + "\n"
    publish(text, args.out)


if __name__ == "__main__":
    main()
