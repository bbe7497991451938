"""Pointer networks: accuracy and area coverage of the hull model against n, tour ratios, costs.

    python benchmarks/pointer.py [--out benchmarks/results/pointer.md] [--threads 1] [--count 500] [--large 10000]

1. the shipped ``pointer_hull`` and ``pointer_hull_unmasked`` models on fresh point sets of n = 5 .. 50 (trained on
   5-20): exact accuracy, area coverage and the fraction of outputs that are not simple polygons, greedy and with a
   beam of 5 (the most probable output), and the points repeated per output without the mask, beside Vinyals et
   al.'s Table 1 where it has the size;
2. the shipped ``pointer_tsp`` model (trained on 5-10) at n = 5, 10 (against the Held–Karp optimum) and 20 (against
   nearest neighbour + 2-opt), greedy and with a beam of 5, beside the paper's Table 2;
3. the same for the set pointer network (``pointer_hull_set``, ``pointer_tsp_set``: self-attention encoder, a
   decoder without recurrence, the relative score), and its hull accuracy at the training sizes on a large sample
   (``--large``, 10,000 sets each), fine enough to tell 90% from 89%;
4. the CPU seconds of each zoo model's training (from its manifest), the milliseconds of one training step, and the
   CPU seconds Held–Karp takes to label 10,000 tours of 10 points.
CPU seconds are process time (the machine is shared, so wall time would overstate them).
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch
from _publish import publish

from attnmem import zoo
from attnmem.tasks import geometry
from attnmem.training import pointer as T

#: Vinyals et al. (2015), Table 1: Ptr-Net trained on 5-50 points, (accuracy, area coverage) by n
PAPER_HULL = {5: (0.920, 0.996), 10: (0.870, 0.998), 50: (0.696, 0.999)}
#: Vinyals et al. (2015), Table 2: (optimal, Ptr-Net) mean tour length; at 20 the Ptr-Net was trained on 5-20
PAPER_TSP = {5: (2.12, 2.12), 10: (2.87, 2.88), 20: (3.83, 3.88)}


def ms_per_step(config: dict, repeats: int = 40) -> float:
    """The mean CPU milliseconds of a training step on the recipe's own batches (drawn, not counted), whose sizes
    vary from batch to batch when the recipe draws one size per batch."""
    torch.manual_seed(0)
    model = T.build(config)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    draw = T.training_batches(config)
    batches = [draw(torch.Generator().manual_seed(seed)) for seed in range(repeats + 1)]
    samples = []
    for batch in batches:
        start = time.process_time()
        loss, _ = T.pointer_loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        samples.append((time.process_time() - start) * 1e3)
    return statistics.mean(samples[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--count", type=int, default=500, help="test examples per size")
    parser.add_argument("--large", type=int, default=10000,
                        help="point sets per training size for the set model's large sample (a multiple of 500)")
    args = parser.parse_args()
    if args.large < 500 or args.large % 500:
        parser.error(f"--large must be a positive multiple of 500 (it is drawn in batches of 500), got {args.large}")
    torch.set_num_threads(args.threads)
    lines = ["# Pointer networks (chapter 11)", "",
             f"{platform.machine()}, torch {torch.__version__}, {args.threads} thread(s); {args.count} fresh examples "
             f"per size; CPU seconds are process time.", ""]

    hull, unmasked = zoo.load("pointer_hull"), zoo.load("pointer_hull_unmasked")
    lines += ["## Convex hull (trained on 5-20 points; the encoder reads them as drawn)", "",
              "| n | accuracy | area coverage | not simple | beam 5: accuracy | coverage "
              "| paper accuracy / coverage (trained 5-50) | without mask: accuracy | coverage | repeats per output |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for n in (5, 10, 15, 20, 30, 40, 50):
        batch = geometry.hull_task(args.count, n, seed=5000 + n)
        masked, free = T.hull_metrics(hull, batch), T.hull_metrics(unmasked, batch)
        beam = T.hull_metrics(hull, batch, beam_size=5)
        paper = f"{PAPER_HULL[n][0]:.1%} / {PAPER_HULL[n][1]:.1%}" if n in PAPER_HULL else ""
        lines.append(f"| {n} | {masked['accuracy']:.1%} | {masked['coverage']:.2%} | {masked['not_simple']:.1%} | "
                     f"{beam['accuracy']:.1%} | {beam['coverage']:.2%} | {paper} | {free['accuracy']:.1%} | "
                     f"{free['coverage']:.2%} | {free['repeats']:.2f} |")

    hull_set = zoo.load("pointer_hull_set")
    lines += ["", "## Convex hull, the set pointer network (`pointer_hull_set`, trained on 5-20 points)", "",
              "| n | accuracy | area coverage | not simple | beam 5: accuracy | coverage "
              "| paper accuracy / coverage (trained 5-50) |", "|---|---|---|---|---|---|---|"]
    for n in (5, 10, 15, 20, 30, 40, 50):
        batch = geometry.hull_task(args.count, n, seed=5000 + n)
        found, beam = T.hull_metrics(hull_set, batch), T.hull_metrics(hull_set, batch, beam_size=5)
        paper = f"{PAPER_HULL[n][0]:.1%} / {PAPER_HULL[n][1]:.1%}" if n in PAPER_HULL else ""
        lines.append(f"| {n} | {found['accuracy']:.1%} | {found['coverage']:.2%} | {found['not_simple']:.1%} | "
                     f"{beam['accuracy']:.1%} | {beam['coverage']:.2%} | {paper} |")
    lines += ["", f"At the training sizes on {args.large:,} fresh sets each, in batches of 500 (a 500-set sample's "
              "standard error at 90% right is 1.3 points, this one's 0.3):", "",
              "| n | accuracy | standard error | lowest and highest batch of 500 |", "|---|---|---|---|"]
    for n in (5, 10, 15, 20):
        parts = [T.hull_metrics(hull_set, geometry.hull_task(500, n, seed=70000 + 100 * n + part))["accuracy"]
                 for part in range(args.large // 500)]
        accuracy = statistics.fmean(parts)
        lines.append(f"| {n} | {accuracy:.2%} | {(accuracy * (1 - accuracy) / args.large) ** 0.5:.2%} | "
                     f"{min(parts):.1%} - {max(parts):.1%} |")

    tsp = zoo.load("pointer_tsp")
    lines += ["", "## Travelling salesman (trained on 5-10 points, optimal tours as targets)", "",
              "| n | reference | reference length | greedy length | greedy / reference | beam 5 length "
              "| beam 5 / reference | paper optimum / Ptr-Net |",
              "|---|---|---|---|---|---|---|---|"]
    for n in (5, 10, 20):
        batch = geometry.tsp_task(args.count, n, seed=6000 + n)
        greedy, beam = T.tsp_metrics(tsp, batch), T.tsp_metrics(tsp, batch, beam_size=5)
        reference = "Held–Karp optimum" if n <= geometry.HELD_KARP_MAX else "nearest neighbour + 2-opt"
        lines.append(f"| {n} | {reference} | {beam['reference']:.3f} | {greedy['length']:.3f} | {greedy['ratio']:.4f} "
                     f"| {beam['length']:.3f} | {beam['ratio']:.4f} | {PAPER_TSP[n][0]} / {PAPER_TSP[n][1]} |")

    tsp_set = zoo.load("pointer_tsp_set")
    lines += ["", "## Travelling salesman, the set pointer network (`pointer_tsp_set`, trained on 5-10 points)", "",
              "| n | reference length | greedy / reference | beam 5 / reference |", "|---|---|---|---|"]
    for n in (5, 10, 20):
        batch = geometry.tsp_task(args.count, n, seed=6000 + n)
        greedy, beam = T.tsp_metrics(tsp_set, batch), T.tsp_metrics(tsp_set, batch, beam_size=5)
        lines.append(f"| {n} | {beam['reference']:.3f} | {greedy['ratio']:.4f} | {beam['ratio']:.4f} |")

    lines += ["", "## Costs", "",
              "The CPU seconds of training are the manifest's (the machine that trained the model); the milliseconds "
              "of a step and Held–Karp's seconds are this run's, so the two columns can come from machines of "
              "different speeds.", "",
              "| what | CPU seconds (manifest) | steps | ms per training step on this machine (mean of 40, drawing the "
              "batch not counted) |", "|---|---|---|---|"]
    for name in ("pointer_hull", "pointer_hull_unmasked", "pointer_tsp", "pointer_hull_set", "pointer_tsp_set"):
        record = zoo.manifest(name)
        lines.append(f"| train `{name}` | {record['cpu_seconds']:.0f} | {record['steps']} | "
                     f"{ms_per_step(zoo.recipe(name).config):.1f} |")
    points = np.random.default_rng(0).random((10000, 10, 2))
    start = time.process_time()
    geometry.held_karp(points)
    lines.append(f"| Held–Karp, 10,000 optimal tours of 10 points | {time.process_time() - start:.1f} | | |")
    lines += ["", "What was tried on the way to these models, and what each change measured: "
              "[pointer_history.md](pointer_history.md)."]
    publish("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
