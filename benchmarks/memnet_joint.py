"""One memory network for all twenty generated bAbI tasks (the paper's joint training), over training seeds, beside
the zoo's per-task networks and the paper's two 1k columns.

    python benchmarks/memnet_joint.py benchmarks/results/memnet_joint.jsonl --seed 0   # one seed, ~11 CPU minutes
    python benchmarks/memnet_joint.py --summarize benchmarks/results/memnet_joint.jsonl --out memnet_joint.md

Each seed trains ``train_babi_joint`` with ``JOINT_CONFIG`` (Sukhbaatar et al. 2015, Section 4.2: d = 50, 60 epochs;
phased as in the authors' code: 20 epochs of linear start at lr 0.005, then 40 with the softmaxes, the learning rate
halved every 10; PE with the code's doubled weights, RN, 3 hops, adjacent tying, the empty memory, the best of 5
restarts by training error, each batch from one task) on 1,000 generated questions a task from the zoo's training
stream for that seed (2S), and tests it on 1,000 questions a task of the stream the zoo tests a seed-S model on
(2S + 3). Appends one line per seed; the summary prints the table. ``--set FIELD=VALUE`` trains a variant of the
recipe (the lab notes' runs), for a file of its own.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from _publish import publish
from memnet import PAPER_PE_LS_RN_1K as PAPER_PER_TASK
from memnet import PAPER_PE_LS_RN_JOINT_1K as PAPER_JOINT

from attnmem import zoo
from attnmem.tasks.babi import TASK_NAMES, TASKS, Vocabulary, generate, samples
from attnmem.training.memnet import JOINT_CONFIG, TrainConfig, babi_data, evaluate_error, train_babi_joint


def run(seed: int, config: TrainConfig = JOINT_CONFIG) -> dict:
    """Train the joint recipe (or ``config``) at ``seed`` and test it per task."""
    vocab = Vocabulary.generator()
    start = time.perf_counter()
    data = {t: samples(generate(t, 1000, 2 * seed)) for t in TASKS}
    model, facts = train_babi_joint(data, vocab, config, seed)
    errors = [evaluate_error(model.network(t), babi_data(t, 1000, 2 * seed + 3, vocab)) for t in TASKS]
    return {"seed": seed, "config": asdict(config), "errors": errors, "train_errors": facts["train_errors"],
            "valid_errors": facts["valid_errors"], "chosen_restart": facts["chosen_restart"],
            "linear_start_epochs": facts["linear_start_epochs"], "cpu_seconds": facts["cpu_seconds"],
            "seconds": round(time.perf_counter() - start, 1), "torch": torch.__version__}


def summary(runs: list[dict]) -> str:
    per_task = zoo.manifest("memn2n_babi_1k")["metrics"]  # the zoo's seed-0 networks, on stream 3
    ours = [[100 * e for e in r["errors"]] for r in runs]
    lines = ["# Memory networks: one network for all twenty tasks (joint training)", "",
             "`benchmarks/memnet_joint.py`: the paper's joint training on the generator (d = 50, 60 epochs: 20 of "
             "linear start at lr 0.005, then 40 with the lr halved every 10, as the authors' code phases it; the best "
             "of 5 restarts by training error, each batch from one task), 1,000 training "
             "questions a task; test error (%) on 1,000 questions a task. Beside it: the zoo's per-task networks "
             "(`memn2n_babi_1k`, seed 0) and Sukhbaatar et al. (2015), Table 1, 1k, PE LS RN, per task and joint.",
             "",
             "| task | " + " | ".join(f"joint, seed {r['seed']}" for r in runs)
             + " | per task (zoo, seed 0) | paper: joint | paper: per task |",
             "|---|" + "---:|" * (len(runs) + 3)]
    for t in TASKS:
        cells = [f"{o[t - 1]:.1f}" for o in ours]
        lines.append(f"| {TASK_NAMES[t]} | " + " | ".join(cells) + f" | {100 * per_task[f'error_qa{t}']:.1f} | "
                     f"{PAPER_JOINT[t - 1]:.1f} | {PAPER_PER_TASK[t - 1]:.1f} |")
    zoo_errors = [100 * per_task[f"error_qa{t}"] for t in TASKS]
    means = [f"**{sum(o) / 20:.2f}** ({sum(e > 5 for e in o)})" for o in (*ours, zoo_errors, PAPER_JOINT,
                                                                          PAPER_PER_TASK)]
    lines.append("| **mean** (failed, error > 5%) | " + " | ".join(means) + " |")
    lines += ["", "| seed | training error of each restart (%), the one kept in bold | CPU s of training |",
              "|---|---|---:|"]
    for r in runs:
        restarts = ", ".join(f"**{100 * e:.1f}**" if k == r["chosen_restart"] else f"{100 * e:.1f}"
                             for k, e in enumerate(r["train_errors"]))
        lines.append(f"| {r['seed']} | {restarts} | {r['cpu_seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def variant(settings: list[str], parser: argparse.ArgumentParser) -> TrainConfig:
    """``JOINT_CONFIG`` with each ``FIELD=VALUE`` of ``settings`` replaced (the value in the field's own type)."""
    fields = asdict(JOINT_CONFIG)
    changes = {}
    for setting in settings:
        name, _, value = setting.partition("=")
        if name not in fields or not value:
            parser.error(f"--set takes FIELD=VALUE with FIELD one of {sorted(fields)}; got {setting!r}")
        kind = type(fields[name])
        try:
            changes[name] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
        except ValueError:
            parser.error(f"--set {setting}: {name} must be of type {kind.__name__}")
    try:
        return replace(JOINT_CONFIG, **changes)
    except ValueError as error:  # TrainConfig's own checks
        parser.error(f"--set: {error}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jsonl", nargs="?", type=Path, help="append this seed's run to this file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="change one field of the recipe's TrainConfig (a variant; repeatable)")
    parser.add_argument("--summarize", type=Path, metavar="JSONL", help="print the table of a file this script wrote")
    parser.add_argument("--out", type=Path, help="with --summarize: write the markdown here")
    args = parser.parse_args(argv)
    if args.summarize:
        runs = sorted((json.loads(line) for line in args.summarize.read_text().splitlines() if line.strip()),
                      key=lambda r: r["seed"])
        variants = [r["seed"] for r in runs if r["config"] != asdict(JOINT_CONFIG)]
        if variants:
            parser.error(f"the runs of seed(s) {variants} in {args.summarize} were not trained with JOINT_CONFIG; the "
                         f"table describes the recipe, so summarize a file of the recipe's runs only")
        publish(summary(runs), args.out)
        return 0
    if args.jsonl is None:
        parser.error("give the JSON-lines file to append to, or --summarize FILE")
    record = run(args.seed, variant(args.set, parser))
    with args.jsonl.open("a") as out:
        out.write(json.dumps(record) + "\n")
    print(f"seed {args.seed}: mean {sum(100 * e for e in record['errors']) / 20:.2f}%, "
          f"{sum(e > 0.05 for e in record['errors'])} failed, {record['cpu_seconds']:.0f} CPU s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
