"""Every restart's test error on the bAbI tasks, trained as the zoo's memn2n_babi_1k recipe trains them, and the
mean test error and failed tasks that each rule for choosing a restart would give, from the first 5 restarts (the
recipe's number) and from all of them (the paper's 10) (lab notes: benchmarks/results/memnet_history.md, "which
restart to keep").

    python benchmarks/memnet_restart_choice.py restarts.jsonl [--restarts 10] [--seed 0] [--tasks 1,2,3]
    python benchmarks/memnet_restart_choice.py --summarize benchmarks/results/memnet_restarts.jsonl

Copy i of an n-restart round trains exactly as copy i of any other round of the same seed (the copies share the
batches and the noise), so the first 5 of 10 restarts are the 5 restarts a 5-restart recipe trains. Writes one line
per task (every restart's training, validation and test error) and prints the rules' table. Test questions: 1,000
per task from the stream the zoo evaluates a model of that seed on. About 20 CPU minutes for 10 restarts.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import torch

from attnmem import zoo
from attnmem.tasks.babi import Vocabulary, generate, samples, vectorize
from attnmem.training import memnet as M

RULES = {
    "training error, ties by training loss (the recipe)": lambda r: (r["train"], r["train_loss"]),
    "training error, ties by validation error": lambda r: (r["train"], r["valid"], r["train_loss"]),
    "validation error, ties by training error": lambda r: (r["valid"], r["train"], r["train_loss"]),
    "the lowest test error (an oracle: no rule does better)": lambda r: (r["test"],),
}


def restarts_of(task: int, config: M.TrainConfig, vocab: Vocabulary, seed: int) -> list[dict[str, float | int | str]]:
    """Both rounds of ``train_memnet`` on one task, every restart tested; the retry round trains whenever the first
    5 restarts alone would call for it (``first5`` marks the restarts a 5-restart recipe has)."""
    data = samples(generate(task, 1000, 2 * seed))  # the zoo's training stream for this seed
    train, valid = (vectorize(part, vocab) for part in M._split(data, config.validation, task))
    test = M.babi_data(task, 1000, 2 * (seed + 1) + 1, vocab)  # the zoo evaluates a seed-s model on stream 2s + 3
    first, scores = M._train_round(train, valid, len(vocab), config, seed, False, f"qa{task}")
    rounds = [(config, first, scores)]
    if float(scores["train_errors"][:5].min()) > config.retry_above:
        retry = config.retry()
        rounds.append((retry, *M._train_round(train, valid, len(vocab), retry, seed + 1, False, f"qa{task} retry")))
    return [{"round": r, "copy": i, "optimizer": c.optimizer, "train": float(s["train_errors"][i]),
             "train_loss": float(s["train_loss"][i]), "valid": float(s["valid_errors"][i]),
             "test": M.evaluate_error(copies.network(i), test)}
            for r, (c, copies, s) in enumerate(rounds) for i in range(len(copies))]


def pool(restarts: list[dict], n: int, retry_above: float) -> list[dict]:
    """The restarts an ``n``-restart recipe would choose among: its first round, and its retry round if it ran and
    one of its copies fits (``attnmem.training.memnet.competing_rounds``)."""
    first = [r for r in restarts if r["round"] == 0 and r["copy"] < n]
    retry = [r for r in restarts if r["round"] == 1 and r["copy"] < n]
    ran = [first, retry] if retry and min(r["train"] for r in first) > retry_above else [first]  # training_rounds
    competing = M.competing_rounds([[r["train"] for r in copies] for copies in ran], retry_above)
    return [r for k in competing for r in ran[k]]


def summarize(tasks: list[list[dict]], restarts: int, retry_above: float) -> None:
    """Print each rule's mean test error and failed tasks over ``tasks`` (every task's tested restarts)."""
    print("| rule | restarts | mean test error | failed (> 5%) |\n|---|---|---|---|")
    for n in sorted({min(5, restarts), restarts}):
        for name, key in RULES.items():
            errors = [100 * min(pool(tested, n, retry_above), key=key)["test"] for tested in tasks]
            print(f"| {name} | {n} | {sum(errors) / len(errors):.2f}% | {sum(e > 5 for e in errors)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", help="the JSON-lines file to write")
    parser.add_argument("--restarts", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", default=None, help="comma-separated task numbers (default: the recipe's)")
    parser.add_argument("--summarize", metavar="JSONL", help="print the rules' tables of a file this script wrote")
    args = parser.parse_args()
    recipe = zoo.recipe("memn2n_babi_1k")
    config = replace(M.zoo_train_config(recipe.config), restarts=args.restarts)
    if args.summarize:
        with open(args.summarize) as lines:
            rows = [json.loads(line) for line in lines]
        for seed in sorted({row["seed"] for row in rows}):
            print(f"\nseed {seed}")
            summarize([row["restarts"] for row in rows if row["seed"] == seed], args.restarts, config.retry_above)
        return
    if not args.out:
        parser.error("give the JSON-lines file to write, or --summarize FILE")
    torch.set_num_threads(1)
    vocab = Vocabulary.generator()
    numbers = [int(t) for t in args.tasks.split(",")] if args.tasks else recipe.config["tasks"]
    tasks = []
    with open(args.out, "w") as out:
        for task in numbers:
            start = time.process_time()
            tasks.append(restarts_of(task, config, vocab, args.seed))
            out.write(json.dumps({"task": task, "seed": args.seed, "restarts": tasks[-1],
                                  "cpu": time.process_time() - start}) + "\n")
            out.flush()
    summarize(tasks, args.restarts, config.retry_above)


if __name__ == "__main__":
    main()
