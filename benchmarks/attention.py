"""Cost of attention: time per forward+backward of `attend` for each score function, and the size of the weights.

    python benchmarks/attention.py [--out benchmarks/results/attention.md]

Batch 32, d = 64, queries = positions = n. Times are medians of repeated runs on this machine's CPU threads.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
from _publish import publish

from attnmem import attention


def median_ms(fn, repeats: int) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the markdown table here")
    parser.add_argument("--sizes", default="10,20,50,100")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.manual_seed(0)
    scorers = {"dot": attention.DotScore(), "scaled dot": attention.ScaledDotScore(),
               "general": attention.GeneralScore(64, 64), "additive": attention.AdditiveScore(64, 64, 64)}
    lines = [f"# Attention cost (batch 32, d = 64; {platform.machine()}, torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads)", "",
             "| n = queries = positions | weights per example | " + " | ".join(f"{k} (ms)" for k in scorers) + " |",
             "|---|---|" + "---|" * len(scorers)]
    for n in (int(s) for s in args.sizes.split(",")):
        q = torch.randn(32, n, 64, requires_grad=True)
        k = torch.randn(32, n, 64, requires_grad=True)
        v = torch.randn(32, n, 64, requires_grad=True)
        row = []
        for scorer in scorers.values():
            def step() -> None:
                context, _ = attention.attend(q, k, v, score=scorer)
                context.sum().backward()
            row.append(f"{median_ms(step, args.repeats):.2f}")
        lines.append(f"| {n} | {n * n:,} | " + " | ".join(row) + " |")
    table = "\n".join(lines) + "\n"
    publish(table, args.out)


if __name__ == "__main__":
    main()
