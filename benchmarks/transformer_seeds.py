"""Do Transformers extrapolate past their training lengths, and does it depend on the seed? (chapter 10)

The paper (Vaswani et al. 2017, Sec. 3.5) chose sinusoidal positions because they "may allow the model to
extrapolate to sequence lengths longer than the ones encountered during training". This trains the chapter's zoo
recipe (``attnmem.zoo.recipes.transformer.CONFIG``, sentences of 3-30 words) with each kind of positions and from
several seeds, everything else unchanged, and measures exact match and BLEU at source lengths 10 to 60 on 100 fresh
sentences per length (seed ``--test-seed``), greedy decoding, the evaluation of chapter 3. Chapter 3's recurrent zoo
models are measured on the same sentences. A zoo checkpoint is measured instead of retraining its own seed.

    python benchmarks/transformer_seeds.py --positions sinusoidal learned none --seeds 0 1 2 \\
        --out benchmarks/results/transformer_seeds.md

Every finished run is appended to ``--log`` (JSON lines) and reused when the script is run again, so a long
benchmark can be resumed; ``--table-only`` writes the markdown from the log. One thread per run; a training run
takes up to ``cpu_budget`` (180) CPU seconds, ``--none-budget`` for the models without positions.
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

LENGTHS = (10, 20, 30, 40, 50, 60)
ZOO = {"sinusoidal": "transformer", "learned": "transformer_learned"}
RECURRENT = ("seq2seq_bahdanau", "seq2seq_location")


def curve(model: torch.nn.Module, test_seed: int, n: int) -> dict[str, dict[str, float]]:
    scores = accuracy_by_length(model.eval(), LENGTHS, n=n, seed=test_seed)
    return {str(length): {"exact_match": s["exact_match"], "bleu": s["bleu"]} for length, s in scores.items()}


def measure(positions: str, seed: int, test_seed: int, n: int, none_budget: float) -> dict:
    torch.set_num_threads(1)
    name = ZOO.get(positions)
    if seed == 0 and name and zoo.checkpoint_path(name).exists():
        model, facts, source = zoo.load(name), zoo.manifest(name), "zoo checkpoint"
    else:
        config = {**CONFIG, "positions": positions}
        if positions == "none":
            config["cpu_budget"] = none_budget
        model, facts = train_transformer(config, seed, progress=False)
        source = "trained here"
    reached = next((s for _, s, e in facts["training_curve"] if e >= 0.95), None)
    return {"model": f"transformer ({positions})", "seed": seed, "source": source, "cpu": facts["cpu_seconds"],
            "steps": facts["steps"], "cpu_to_095": reached, "curve": curve(model, test_seed, n)}


def measure_recurrent(name: str, test_seed: int, n: int) -> dict:
    torch.set_num_threads(1)
    record = zoo.manifest(name)
    reached = next((s for _, s, e in record["training_curve"] if e >= 0.95), None)
    return {"model": name, "seed": record["seed"], "source": "zoo checkpoint", "cpu": None,
            "steps": record["steps"], "wall_to_095": reached, "curve": curve(zoo.load(name), test_seed, n)}


def table(results: list[dict], metric: str, digits: int) -> str:
    rows = ["| model | seed | weights | " + " | ".join(f"{n} words" for n in LENGTHS) + " |",
            "|---|---|---|" + "---|" * len(LENGTHS)]
    for r in results:
        rows.append(f"| {r['model']} | {r['seed']} | {r['source']} | "
                    + " | ".join(f"{r['curve'][str(n)][metric]:.{digits}f}" for n in LENGTHS) + " |")
    return "\n".join(rows)


def means(results: list[dict]) -> str:
    rows = ["| model | seeds | " + " | ".join(f"{n} words" for n in LENGTHS) + " |", "|---|---|" + "---|" * len(LENGTHS)]
    for model in dict.fromkeys(r["model"] for r in results):
        runs = [r for r in results if r["model"] == model]
        cells = []
        for n in LENGTHS:
            values = [r["curve"][str(n)]["exact_match"] for r in runs]
            cells.append(f"{sum(values) / len(values):.2f} ({min(values):.2f}-{max(values):.2f})")
        rows.append(f"| {model} | {len(runs)} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def costs(results: list[dict]) -> str:
    rows = ["| model | seed | steps | CPU s of training | CPU s to 0.95 on 100 held-out sentences |", "|---|---|---|---|---|"]
    for r in results:
        if "cpu_to_095" in r:
            rows.append(f"| {r['model']} | {r['seed']} | {r['steps']} | {r['cpu']:.0f} | {r['cpu_to_095']} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", nargs="+", default=["sinusoidal", "learned", "none"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--test-seed", type=int, default=2718)
    parser.add_argument("--n", type=int, default=100, help="test sentences per length")
    parser.add_argument("--none-budget", type=float, default=90.0)
    parser.add_argument("--log", default="benchmarks/results/transformer_seeds.jsonl")
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args()
    log = Path(args.log)
    done = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    have = {(r["model"], r["seed"]) for r in done}
    load = "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    jobs = [] if args.table_only else (
        [(lambda name=name: measure_recurrent(name, args.test_seed, args.n), (name, 0)) for name in RECURRENT]
        + [(lambda p=p, s=s: measure(p, s, args.test_seed, args.n, args.none_budget), (f"transformer ({p})", s))
           for p in args.positions for s in args.seeds])
    for job, key in jobs:
        if key in have:
            continue
        result = job()
        done.append(result)
        with log.open("a") as handle:
            handle.write(json.dumps(result) + "\n")
        print(f"{key}: " + ", ".join(f"{n} {result['curve'][str(n)]['exact_match']:.2f}" for n in LENGTHS), flush=True)
    order = {m: i for i, m in enumerate([*RECURRENT, *(f"transformer ({p})" for p in ("sinusoidal", "learned", "none"))])}
    done.sort(key=lambda r: (order.get(r["model"], 99), r["seed"]))
    text = "\n\n".join([
        "# Transformer: extrapolation past the training lengths, by kind of positions and seed",
        (f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs, torch {torch.__version__}, "
         f"one thread per run; {time.strftime('%Y-%m-%d')}; {load} when the table was written. Trained on "
         f"sentences of 3-30 words; measured on {args.n} fresh sentences per length (test seed {args.test_seed}), "
         f"greedy decoding. Runs without positions were given {args.none_budget:.0f} CPU seconds: they cannot "
         f"tell a sentence from its reorderings (chapter 10)."),
        "## Exact match, mean over seeds (lowest-highest)", means(done),
        "## Exact match, every run", table(done, "exact_match", 2),
        "## BLEU, every run", table(done, "bleu", 1),
        "## Training cost (CPU seconds, one thread)", costs(done),
    ]) + "\n"
    publish(text, args.out)


if __name__ == "__main__":
    main()
