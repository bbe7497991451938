"""Where determinism ends: the same seed on the same thread count gives the same bits; other thread counts do not.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/determinism.py --out benchmarks/results/determinism.md

Trains chapter 3's Bahdanau recipe for a short run (``--steps``, default 100) three times from seed 0: twice on one
torch thread, once on two. It reports whether the two one-thread runs agree bit for bit, and how far the two-thread
run's weights and final loss are from them. PyTorch splits a sum over threads differently, so float rounding differs
and the difference grows with training. (On a busy machine, ``OMP_WAIT_POLICY=PASSIVE`` keeps the two-thread run
from spinning while it waits for a core.)
"""
from __future__ import annotations

import argparse
import sys
import time

import torch
from _publish import publish

from attnmem.training.seq2seq import train_synthetic
from attnmem.zoo import recipe


def run(threads: int, steps: int) -> tuple[dict[str, torch.Tensor], float, float]:
    """The weights and final training loss of a short run on ``threads`` threads, and its CPU seconds."""
    config = {**recipe("seq2seq_bahdanau").config, "steps": steps, "eval_every": steps}
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    start = time.process_time()
    try:
        model, facts = train_synthetic(config, seed=0, progress=False)
    finally:
        torch.set_num_threads(previous)
    return model.state_dict(), facts["final_loss"], time.process_time() - start


def largest_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[name] - b[name]).abs().max()) for name in a)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the markdown here")
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args(argv)
    first, first_loss, cpu = run(1, args.steps)
    again, again_loss, _ = run(1, args.steps)
    two, two_loss, _ = run(2, args.steps)
    identical = all(torch.equal(first[name], again[name]) for name in first)
    lines = [
        "# Determinism", "",
        f"Chapter 3's Bahdanau recipe (`seq2seq_bahdanau`), {args.steps} training steps from seed 0, torch "
        f"{torch.__version__}; one run takes {cpu:.0f} CPU seconds.", "",
        "| comparison | largest weight difference | final loss |", "|---|---:|---|",
        f"| 1 thread, rerun | {largest_difference(first, again):.2g} ({'bit-identical' if identical else 'differs'}) "
        f"| {first_loss} vs {again_loss} |",
        f"| 1 thread vs 2 threads | {largest_difference(first, two):.2g} | {first_loss} vs {two_loss} |",
    ]
    publish("\n".join(lines) + "\n", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
