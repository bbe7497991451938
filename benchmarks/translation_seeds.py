"""Does a translation recipe extrapolate reliably, or only from a lucky seed? (chapter 3)

Trains a zoo recipe (``seq2seq_bahdanau``, ``seq2seq_location``) from several seeds, everything else unchanged,
and measures exact match at the longest training length (30 words), at 1.5x it (45) and at 2x (60), on two sets
of 300 fresh sentences per length drawn with seeds that neither the zoo, its verification nor the notebooks use.
The recipe's own seed is not retrained when its zoo checkpoint exists: that checkpoint is measured instead (the
same weights, since training is deterministic on one machine).

    python benchmarks/translation_seeds.py --recipes seq2seq_location --seeds 0 1 2 3 --jobs 2 \\
        --out benchmarks/results/translation_seeds.md

Each run is single-threaded; ``--jobs`` runs that many at once (one per core). A run takes 5-7 CPU minutes.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor

import torch
from _publish import publish

from attnmem import zoo
from attnmem.seq2seq import accuracy_by_length
from attnmem.training.seq2seq import train_synthetic

LENGTHS = (30, 45, 60)
DEV_SEEDS = (31337, 4242)


def measure(name: str, seed: int) -> dict[str, object]:
    """Train (or load) ``name`` from ``seed``; its exact match per length on each dev set, and its CPU seconds."""
    torch.set_num_threads(1)
    recipe = zoo.recipe(name)
    if seed == recipe.seed and zoo.checkpoint_path(name).exists():
        model, source, cpu = zoo.load(name), "zoo checkpoint", None
    else:
        start = time.process_time()
        model, _ = train_synthetic(recipe.config, seed, progress=False)
        source, cpu = "trained here", time.process_time() - start
    model.eval()
    exact = {dev: {length: scores["exact_match"]
                   for length, scores in accuracy_by_length(model, LENGTHS, n=300, seed=dev).items()}
             for dev in DEV_SEEDS}
    return {"name": name, "seed": seed, "source": source, "cpu": cpu, "exact": exact}


def table(results: list[dict]) -> str:
    header = "| recipe | seed | weights | CPU s | " + " | ".join(f"EM at {n} words" for n in LENGTHS) + " |"
    rows = [header, "|---|---|---|---|" + "---|" * len(LENGTHS)]
    for r in results:
        cells = [" / ".join(f"{r['exact'][dev][n]:.2f}" for dev in DEV_SEEDS) for n in LENGTHS]
        cpu = "" if r["cpu"] is None else f"{r['cpu']:.0f}"
        rows.append(f"| {r['name']} | {r['seed']} | {r['source']} | {cpu} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="+", default=["seq2seq_bahdanau", "seq2seq_location"],
                        choices=["seq2seq_bahdanau", "seq2seq_location"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3])
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, each on one thread")
    parser.add_argument("--out", help="also write the markdown here")
    args = parser.parse_args()
    load = "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    runs = [(name, seed) for name in args.recipes for seed in args.seeds]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(measure, *zip(*runs)))
    text = "\n\n".join([
        "# Translation: the same recipe from several seeds",
        (f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, one thread per run, "
         f"{args.jobs} run(s) at once; {time.strftime('%Y-%m-%d')}; {load} at the start."),
        (f"Trained on sentences of 3-30 words. Exact match on two sets of 300 sentences per length "
         f"(dev seeds {' / '.join(map(str, DEV_SEEDS))}, shown in that order)."),
        table(results),
    ]) + "\n"
    publish(text, args.out)


if __name__ == "__main__":
    main()
