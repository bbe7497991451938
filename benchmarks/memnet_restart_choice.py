"""Every restart's test error on all 20 tasks, trained as the zoo's memn2n_babi_1k recipe trains them (seed 0), and
the mean test error and failed tasks that each rule for choosing a restart would give (lab notes:
benchmarks/results/memnet_history.md, "which restart to keep").

    python benchmarks/memnet_restart_choice.py restarts.jsonl

Writes one line per task (every restart's training, validation and test error) and prints the rules' table. Test
questions: the zoo's evaluation stream, 1,000 per task. About 12 CPU minutes on one thread.
"""
from __future__ import annotations

import argparse
import json
import time
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


def restarts_of(task: int, config: M.TrainConfig, vocab: Vocabulary) -> list[dict[str, float | str]]:
    """The rounds of ``train_memnet`` on one task, every restart kept and tested."""
    data = samples(generate(task, 1000, 0))
    train, valid = (vectorize(part, vocab) for part in M._split(data, config.validation, task))
    test = M.babi_data(task, 1000, 3, vocab)  # the zoo's evaluation stream: 2 * evaluation seed 1 + 1
    rounds = M.training_rounds(train, valid, len(vocab), config, seed=0)
    return [{"optimizer": c.optimizer, "train": float(scores["train_errors"][i]),
             "train_loss": float(scores["train_loss"][i]), "valid": float(scores["valid_errors"][i]),
             "test": M.evaluate_error(restarts.network(i), test)}
            for c, restarts, scores in rounds for i in range(len(restarts))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the JSON-lines file to write")
    args = parser.parse_args()
    torch.set_num_threads(1)
    recipe = zoo.recipe("memn2n_babi_1k")
    config, vocab = M.zoo_train_config(recipe.config), Vocabulary.generator()
    tasks = []
    with open(args.out, "w") as out:
        for task in recipe.config["tasks"]:
            start = time.process_time()
            tasks.append(restarts_of(task, config, vocab))
            out.write(json.dumps({"task": task, "restarts": tasks[-1], "cpu": time.process_time() - start}) + "\n")
            out.flush()
    print("| rule | mean test error | failed (> 5%) |\n|---|---|---|")
    for name, key in RULES.items():
        errors = [100 * min(restarts, key=key)["test"] for restarts in tasks]
        print(f"| {name} | {sum(errors) / len(errors):.2f}% | {sum(e > 5 for e in errors)} |")


if __name__ == "__main__":
    main()
