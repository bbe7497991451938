"""Zoo recipes for chapter 9: the arithmetic warm-up and the table programmer."""
from __future__ import annotations

from attnmem.tasks.tables import KINDS
from attnmem.training.programmer import (
    build_arithmetic,
    build_tables,
    evaluate_arithmetic,
    evaluate_tables,
    train_arithmetic,
    train_tables,
)
from attnmem.zoo import Recipe

arithmetic = Recipe(
    name="programmer_arithmetic",
    summary="neural programmer warm-up: soft programs for 2-operator expressions (chapter 9)",
    chapter="09_neural_programmer",
    config={"steps": 2, "embed": 32, "hidden": 64, "restarts": 20, "probe_steps": 1600, "solved": 0.99,
            "train_steps": 400, "lr": 3e-3, "batch_size": 64, "test_size": 1000},
    seed=0,
    build=build_arithmetic,
    train=train_arithmetic,
    evaluate=evaluate_arithmetic,
    tolerance={"accuracy": 0.05, "soft_accuracy": 0.05},
)
tables = Recipe(
    name="programmer_tables",
    summary="neural programmer over synthetic tables, trained from answers through its consistent discrete "
            "programs (maximum marginal likelihood; chapter 9)",
    chapter="09_neural_programmer",
    config={"steps": 4, "embed": 32, "hidden": 64, "match_weight": 4.0, "objective": "consistent_programs",
            "pool": 1000, "train_steps": 600, "lr": 5e-3, "batch_size": 64, "n_rows": 8, "n_cols": 4, "kinds": None,
            "test_size": 800},
    seed=0,
    build=build_tables,
    train=train_tables,
    evaluate=evaluate_tables,
    # the test mixes kinds at random, and their accuracies differ a lot: the overall numbers move with the mix
    tolerance={"accuracy": 0.1, "soft_accuracy": 0.1, **{f"accuracy_{k}": 0.12 for k in KINDS}},
)

RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in (arithmetic, tables)}
