"""Every restart's test error on the bAbI tasks, trained as the zoo's memn2n_babi_1k recipe trains them, and the
mean test error and failed tasks that each rule for choosing a restart would give, from the first 5 restarts (the
recipe's number) and from all of them (the paper's 10) (lab notes: benchmarks/results/memnet_history.md, "which
restart to keep").

    python benchmarks/memnet_restart_choice.py restarts.jsonl [--restarts 10] [--seed 0] [--tasks 1,2,3]

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
    """The restarts an ``n``-restart recipe would choose among: its first round, and its retry round if it ran."""
    first = [r for r in restarts if r["round"] == 0 and r["copy"] < n]
    retried = min(r["train"] for r in first) > retry_above
    return first + [r for r in restarts if r["round"] == 1 and r["copy"] < n and retried]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the JSON-lines file to write")
    parser.add_argument("--restarts", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", default=None, help="comma-separated task numbers (default: the recipe's)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    recipe = zoo.recipe("memn2n_babi_1k")
    config = replace(M.zoo_train_config(recipe.config), restarts=args.restarts)
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
    print("| rule | restarts | mean test error | failed (> 5%) |\n|---|---|---|---|")
    for n in sorted({min(5, args.restarts), args.restarts}):
        for name, key in RULES.items():
            errors = [100 * min(pool(restarts, n, config.retry_above), key=key)["test"] for restarts in tasks]
            print(f"| {name} | {n} | {sum(errors) / len(errors):.2f}% | {sum(e > 5 for e in errors)} |")


if __name__ == "__main__":
    main()
