"""Does an NTM recipe converge reliably, or only from a lucky seed? (chapter 7)

Trains an NTM recipe (the zoo's ``ntm_copy`` and ``ntm_associative_recall``, or ``ntm_priority_sort``, which the
zoo does not ship because one write head does not learn it) from several seeds, everything else unchanged, and
reports for each run whether it reached the recipe's target (mean wrong bits per sequence on the recipe's validation
sequences), after how many steps and CPU seconds, the last validation errors, and the recipe's own evaluation of the
machine it ended with (the zoo's evaluation seed): for copy the wrong bits at lengths 1-20, 40 and 80, since the
length generalisation is what a copy machine is for; for the others the wrong bits on 1,000 sequences of the
training range. ``--set key=value`` changes one
entry of the recipe's configuration (a JSON value, e.g. ``--set lr=0.003``), to compare a variant over the same
seeds. Every seed is trained here, the recipe's own too (training is deterministic on one machine, so that run
repeats the zoo's when the code is unchanged). ``--zoo-dir DIR`` trains each run with ``zoo.train`` instead, into
``DIR/NAME-seedK``, so that the run picked is the checkpoint to ship, without training it again.

    python benchmarks/ntm_seeds.py --recipes ntm_associative_recall --seeds 0 1 2 3 --jobs 2 \\
        --out benchmarks/results/ntm_seeds.md

Each run is single-threaded; ``--jobs`` runs that many at once (one per core). A run of associative recall takes
up to 5 CPU minutes (its recipe's 8,000 steps), priority sort about 4 (6,000 steps), copy one or two.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import torch
from _publish import publish

from attnmem import zoo
from attnmem.training.ntm import evaluate_on_training_range, train_on_task
from attnmem.zoo.recipes import ntm as ntm_recipes

#: The configurations trained here: the zoo's two NTM recipes trained from scratch, and priority sort (Graves et
#: al. 2014, Section 4.5: 16 of 20 vectors, highest priority first) with the copy recipe's machine and settings,
#: which the zoo does not ship because one write head does not learn it (chapter 7).
CONFIGS: dict[str, dict[str, Any]] = {name: zoo.recipe(name).config
                                     for name in ("ntm_copy", "ntm_associative_recall")}
CONFIGS["ntm_priority_sort"] = {**CONFIGS["ntm_copy"], "task": "priority_sort",
                                "train": {"n_inputs": 20, "n_outputs": 16}, "max_steps": 6000, "target_bits": 0.5}
CONFIGS["ntm_priority_sort"].pop("validation_size")
EVALUATIONS = {"ntm_copy": zoo.recipe("ntm_copy").evaluate,
               "ntm_associative_recall": zoo.recipe("ntm_associative_recall").evaluate,
               "ntm_priority_sort": evaluate_on_training_range}
EVALUATION_SEED = zoo.recipe("ntm_copy").seed + 1  # the seed `zoo train` evaluates with


def parse_setting(text: str) -> tuple[str, Any]:
    """``key=value`` with a JSON value (a bare word that is not JSON is taken as a string)."""
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def train_as_zoo(name: str, seed: int, directory: str) -> tuple[dict[str, float], dict[str, Any]]:
    """``zoo.train`` of recipe ``name`` with its seed set to ``seed``, into ``directory``: the run is a zoo checkpoint
    as it stands, the one `python -m attnmem.zoo train NAME` writes once the recipe's seed is ``seed``. Its metrics
    are the manifest's (evaluated with ``seed + 1``, as the zoo does)."""
    ntm_recipes.RECIPES[name] = dataclasses.replace(ntm_recipes.RECIPES[name], seed=seed)
    record = zoo.train(name, directory=os.path.join(directory, f"{name}-seed{seed}"), progress=False)
    return record["metrics"], record


def measure(name: str, seed: int, settings: dict[str, Any], zoo_dir: str | None = None) -> dict[str, Any]:
    """Train recipe ``name`` from ``seed`` with ``settings`` applied to its configuration (or, with ``zoo_dir``,
    through ``train_as_zoo``)."""
    torch.set_num_threads(1)
    config = {**CONFIGS[name], **settings}
    if zoo_dir is not None:
        metrics, facts = train_as_zoo(name, seed, zoo_dir)
    else:
        model, facts = train_on_task(config, seed, progress=False)
        metrics = EVALUATIONS[name](model, config, EVALUATION_SEED)
    print(f"{name} seed {seed}: {facts['steps']} steps, {facts['cpu_seconds_training']:.0f} CPU s, {metrics}",
          flush=True)
    return {"name": name, "seed": seed, "settings": settings, "metrics": metrics, **facts}


def table(results: list[dict[str, Any]]) -> str:
    rows = ["| recipe | changed | seed | reached target | steps | CPU s | last validation bits | evaluation (bits) |",
            "|---|---|---|---|---|---|---|---|"]
    for r in results:
        changed = ", ".join(f"{k} = {v}" for k, v in r["settings"].items()) or "(the recipe as it is)"
        rows.append(f"| {r['name']} | {changed} | {r['seed']} | {'yes' if r['reached_target'] else 'no'} | "
                    f"{r['steps']} | {r['cpu_seconds_training']:.0f} | {r['validation_curve'][-1][1]:.3f} | "
                    + ", ".join(f"{k.removeprefix('bit_errors').strip('_').replace('_', '-') or 'all'}: {v:.2f}"
                                for k, v in r["metrics"].items()) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="+", default=["ntm_copy", "ntm_associative_recall"], choices=CONFIGS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3])
    parser.add_argument("--set", dest="settings", action="append", type=parse_setting, default=[],
                        metavar="KEY=VALUE", help="change one entry of every recipe's configuration")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, each on one thread")
    parser.add_argument("--out", help="also write the markdown here")
    parser.add_argument("--zoo-dir", help="train each run with zoo.train into ZOO_DIR/NAME-seedK, a zoo checkpoint "
                        "to ship as it is (the zoo's recipes only, no --set)")
    args = parser.parse_args()
    settings = dict(args.settings)
    if args.zoo_dir and (settings or set(args.recipes) - set(ntm_recipes.RECIPES)):
        parser.error("--zoo-dir trains the zoo's recipes as they are: drop --set and recipes the zoo does not ship "
                     f"(it ships {sorted(set(CONFIGS) & set(ntm_recipes.RECIPES))})")
    for name in args.recipes:
        unknown = set(settings) - set(CONFIGS[name])
        if unknown:
            parser.error(f"{name}'s configuration has no {sorted(unknown)}; its keys: {sorted(CONFIGS[name])}")
    load = "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    runs = [(name, seed) for name in args.recipes for seed in args.seeds]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(measure, *zip(*runs), [settings] * len(runs), [args.zoo_dir] * len(runs)))
    reached = sum(r["reached_target"] for r in results)
    text = "\n\n".join([
        "# NTM: the same recipe from several seeds",
        (f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, one thread per run, "
         f"{args.jobs} run(s) at once; {time.strftime('%Y-%m-%d')}; {load} at the start."),
        f"{reached} of {len(results)} runs reached their recipe's target.",
        table(results),
    ]) + "\n"
    publish(text, args.out)


if __name__ == "__main__":
    main()
