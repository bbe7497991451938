"""Zoo recipe for chapter 1: Nadaraya-Watson attention pooling with a learned bandwidth."""
from __future__ import annotations

from attnmem.training.pooling import build_kernel_regression, evaluate_kernel_regression, train_kernel_regression
from attnmem.zoo import Recipe

kernel_regression = Recipe(
    name="kernel_regression",
    summary="Nadaraya–Watson attention pooling with a learned bandwidth (chapter 1)",
    chapter="01_attention_as_soft_lookup",
    config={"n_train": 100, "noise": 0.5, "initial_bandwidth": 2.0, "steps": 150, "lr": 0.05},
    seed=1,
    build=build_kernel_regression,
    train=train_kernel_regression,
    evaluate=evaluate_kernel_regression,
    tolerance={"mse_vs_truth": 0.15, "bandwidth": 1e-6},
)

RECIPES: dict[str, Recipe] = {kernel_regression.name: kernel_regression}
