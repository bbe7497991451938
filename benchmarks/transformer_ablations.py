"""The paper's Table 3 in miniature (chapter 10): what each part of the chapter's Transformer is worth.

Starting from the zoo recipe (``attnmem.zoo.recipes.transformer.CONFIG``: 2+2 layers, 4 heads, d_model 64,
sinusoidal positions, pre-norm), one thing changes at a time: the number of heads at equal width (1, 2, 8; d_k =
64 / heads, as the paper's rows (A)), the number of layers (1, 3; rows (C)), the paper's post-norm placement. Each
variant trains until 100 held-out sentences are all right or ``--budget`` CPU seconds are spent, and reports the
CPU seconds to 0.95 and to 1.00 held-out exact match, and exact match at 30 and 45 words on 100 fresh sentences.
The zoo model itself is the baseline (its manifest's curve; measured on the same sentences). Positions are compared
in ``transformer_seeds.py``. Finished runs are appended to ``--log`` and reused.

    python benchmarks/transformer_ablations.py --out benchmarks/results/transformer_ablations.md
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
    if not change:
        model, facts = zoo.load("transformer"), zoo.manifest("transformer")
    else:
        model, facts = train_transformer({**CONFIG, **change, "cpu_budget": budget}, seed, progress=False)
    scores = accuracy_by_length(model.eval(), LENGTHS, n=n, seed=test_seed)
    return {"variant": name, "seed": seed, "parameters": sum(p.numel() for p in model.parameters()),
            "steps": facts["steps"], "cpu": facts["cpu_seconds"], "to_095": reached(facts["training_curve"], 0.95),
            "to_100": reached(facts["training_curve"], 1.0),
            "best": max(e for _, _, e in facts["training_curve"]),
            "exact": {str(k): v["exact_match"] for k, v in scores.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seed", type=int, default=0)
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
    for name, change in [("zoo model: 2+2 layers, 4 heads (d_k 16), pre-norm", {}),
                         *((v, VARIANTS[v]) for v in args.variants)]:
        seed = 0 if not change else args.seed
        if (name, seed) in have:
            continue
        result = measure(name, change, seed, args.budget, args.test_seed, args.n)
        done.append(result)
        with log.open("a") as handle:
            handle.write(json.dumps(result) + "\n")
        print(result, flush=True)
    rows = ["| variant | seed | parameters | steps | CPU s | CPU s to 0.95 | CPU s to 1.00 | best held-out | "
            + " | ".join(f"EM at {n} words" for n in LENGTHS) + " |", "|---|---|---|---|---|---|---|---|" + "---|" * len(LENGTHS)]
    for r in done:
        rows.append(f"| {r['variant']} | {r['seed']} | {r['parameters']} | {r['steps']} | {r['cpu']:.0f} | "
                    f"{r['to_095'] if r['to_095'] is not None else 'not reached'} | "
                    f"{r['to_100'] if r['to_100'] is not None else 'not reached'} | {r['best']:.2f} | "
                    + " | ".join(f"{r['exact'][str(n)]:.2f}" for n in LENGTHS) + " |")
    text = "\n\n".join([
        "# Transformer: the paper's Table 3 in miniature",
        (f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs, torch {torch.__version__}, "
         f"one thread; {time.strftime('%Y-%m-%d')}; {load} when the table was written. Each variant changes one "
         f"thing in the zoo recipe and trains until 100 held-out sentences (3-30 words) are all right or "
         f"{args.budget:.0f} CPU seconds are spent (the zoo model: 180). CPU seconds are read off the held-out "
         f"curve (evaluated every 200 steps). EM: exact match on {args.n} fresh sentences per length (test seed "
         f"{args.test_seed}), greedy decoding."),
        "\n".join(rows),
    ]) + "\n"
    publish(text, args.out)


if __name__ == "__main__":
    main()
