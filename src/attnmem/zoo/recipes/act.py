"""Zoo recipes for chapter 8: ACT and its one-step baseline on parity, and the sweep over time penalties τ."""
from __future__ import annotations

from attnmem.training.act import (
    TAU_SWEEP,
    TauSweep,
    build_parity_model,
    evaluate_recipe,
    evaluate_sweep,
    train_parity,
    train_tau_sweep,
)
from attnmem.zoo import Recipe

base = {"length": 16, "hidden": 128, "cell": "lstm", "max_steps": 12, "batch_size": 128, "lr": 3e-3,
        "lr_final": 1e-4, "steps": 15000, "eval_every": 500, "halting_bias": -1.0, "tau_warmup": 6000,
        "curriculum": 4000}
act = Recipe(
    name="act_parity",
    summary="LSTM with adaptive computation time on parity of 16-entry vectors (chapter 8)",
    chapter="08_adaptive_computation_time",
    config={**base, "act": True, "tau": 1e-3, "target_accuracy": 0.99},
    seed=8,
    build=build_parity_model,
    train=train_parity,
    evaluate=evaluate_recipe,
    tolerance={"accuracy": 0.01, "mean_steps": 0.15, "mean_ponder": 0.15, "steps_corr_nonzeros": 0.05,
               "steps_easy": 0.2, "steps_hard": 0.2},
)
fixed = Recipe(
    name="act_parity_fixed",
    summary="the same LSTM with one fixed step per input on the same parity task and budget (chapter 8 baseline)",
    chapter="08_adaptive_computation_time",
    config={**base, "act": False, "tau": 0.0, "target_accuracy": 0.99},
    seed=8,
    build=build_parity_model,
    train=train_parity,
    evaluate=evaluate_recipe,
    tolerance={"accuracy": 0.02, "mean_steps": 1e-6, "mean_ponder": 1e-6, "steps_corr_nonzeros": 1e-6,
               "steps_easy": 1e-6, "steps_hard": 1e-6},
)
sweep_config = {"length": 8, "hidden": 64, "cell": "rnn", "max_steps": 20, "batch_size": 128, "lr": 1e-2,
                "steps": 5000, "eval_every": 500, "halting_bias": -1.0, "tau_warmup": 1000,
                "taus": list(TAU_SWEEP), "target_accuracy": None}
sweep = Recipe(
    name="act_parity_tau_sweep",
    summary=f"ACT on parity of 8-entry vectors with time penalties tau in {', '.join(f'{t:g}' for t in TAU_SWEEP)} (chapter 8)",
    chapter="08_adaptive_computation_time",
    config=sweep_config,
    seed=8,
    build=TauSweep,
    train=train_tau_sweep,
    evaluate=evaluate_sweep,
    tolerance={**{f"accuracy@{t:g}": 0.02 for t in TAU_SWEEP}, **{f"mean_steps@{t:g}": 0.15 for t in TAU_SWEEP},
               **{f"mean_ponder@{t:g}": 0.15 for t in TAU_SWEEP}},
)

RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in (act, fixed, sweep)}
