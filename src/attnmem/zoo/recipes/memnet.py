"""Zoo recipe for chapter 5: one end-to-end memory network per bAbI task, trained on 1,000 questions each."""
from __future__ import annotations

from dataclasses import asdict

from attnmem.tasks.babi import TASKS
from attnmem.training.memnet import TrainConfig, build_per_task, evaluate_per_task, train_per_task
from attnmem.zoo import Recipe

memn2n_babi_1k = Recipe(
    name="memn2n_babi_1k",
    summary="End-to-end memory networks, PE (the released code's weights, 2 l_kj) LS RN, 3 hops, empty memory, SGD, "
            "one per bAbI task (the best of 5 restarts by training error; 5 more with Adam where all stay above 10% "
            "training error), 1k questions (chapter 5)",
    chapter="05_memory_networks",
    # "workers": tasks trained at once, each in its own one-thread process; the networks do not depend on it
    # (tests/test_memnet.py). One leaves the other core of a 2-core machine free.
    config={"tasks": list(TASKS), "train_questions": 1000, "train": asdict(TrainConfig()), "workers": 1},
    seed=0,
    build=build_per_task,
    train=train_per_task,
    evaluate=evaluate_per_task,
    tolerance={**{f"error_qa{t}": 0.08 for t in TASKS}, "mean_error": 0.02, "failed_tasks": 2.0},
)

RECIPES: dict[str, Recipe] = {memn2n_babi_1k.name: memn2n_babi_1k}
