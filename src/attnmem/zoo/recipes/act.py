"""Zoo recipes for chapter 8: ACT and its one-step baseline on parity, and the sweep over time penalties τ."""
from __future__ import annotations

from attnmem.training.act import (
    TAU_SWEEP,
    TauSweep,
    build_parity_model,
    evaluate_recipe,
    evaluate_sweep,
    train_parity,
    train_settled,
    train_tau_sweep,
)
from attnmem import zoo
from attnmem.zoo import Recipe


def _settle_shipped(config: dict, seed: int, progress: bool = True) -> tuple:
    """``train_settled`` from the shipped network ``config["start"]``."""
    return train_settled(zoo.load(config["start"]), config, seed, progress)


def _sweep_shipped(config: dict, seed: int, progress: bool = True) -> tuple:
    """``train_tau_sweep`` from the shipped network ``config["start"]``."""
    return train_tau_sweep(zoo.load(config["start"]), config, seed, progress)


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
    tolerance={"accuracy": 0.01, "mean_steps": 0.15, "mean_ponder": 0.15, "cap_share": 0.02,
               "steps_corr_nonzeros": 0.05, "steps_easy": 0.2, "steps_hard": 0.2},
)
# the network's shape and batch, for the recipes that go on from act_parity
shape = {key: base[key] for key in ("length", "hidden", "cell", "max_steps", "halting_bias", "batch_size")}
# act_parity goes on with a larger time penalty until at most 3% of the validation inputs run into the cap
settled = Recipe(
    name="act_parity_settled",
    summary="act_parity trained on with time penalty tau = 0.05 until it halts before the cap (chapter 8)",
    chapter="08_adaptive_computation_time",
    config={**shape, "act": True, "start": "act_parity", "settle_tau": 5e-2, "settle_lr": 1e-3, "settle_steps": 3000,
            "eval_every": 250, "target_accuracy": 0.99, "max_cap_share": 0.03},
    seed=8,
    build=build_parity_model,
    train=_settle_shipped,
    evaluate=evaluate_recipe,
    tolerance={"accuracy": 0.01, "mean_steps": 0.15, "mean_ponder": 0.15, "cap_share": 0.02,
               "steps_corr_nonzeros": 0.05, "steps_easy": 0.2, "steps_hard": 0.2},
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
fixed_deep = Recipe(
    name="act_parity_fixed_deep",
    summary="the same LSTM with 6 fixed steps per input (ACT's mean step count, rounded up) on the same parity task "
            "and budget (chapter 8 baseline)",
    chapter="08_adaptive_computation_time",
    config={**base, "act": False, "tau": 0.0, "target_accuracy": 0.99, "fixed_steps": 6},
    seed=8,
    build=build_parity_model,
    train=train_parity,
    evaluate=evaluate_recipe,
    tolerance={"accuracy": 0.01, "mean_steps": 1e-6, "mean_ponder": 1e-6, "cap_share": 1e-6,
               "steps_corr_nonzeros": 1e-6, "steps_easy": 1e-6, "steps_hard": 1e-6},
)
sweep_config = {**shape, "act": True, "start": "act_parity", "settle_lr": 1e-3, "settle_steps": 800, "eval_every": 800,
                "target_accuracy": 0.99, "max_cap_share": 0.03, "taus": list(TAU_SWEEP)}
sweep = Recipe(
    name="act_parity_tau_sweep",
    summary=f"act_parity trained on at time penalties tau in {', '.join(f'{t:g}' for t in TAU_SWEEP)}, "
            f"{sweep_config['settle_steps']} steps each (chapter 8)",
    chapter="08_adaptive_computation_time",
    config=sweep_config,
    seed=8,
    build=TauSweep,
    train=_sweep_shipped,
    evaluate=evaluate_sweep,
    tolerance={**{f"accuracy@{t:g}": 0.02 for t in TAU_SWEEP}, **{f"mean_steps@{t:g}": 0.15 for t in TAU_SWEEP},
               **{f"mean_ponder@{t:g}": 0.15 for t in TAU_SWEEP}, **{f"cap_share@{t:g}": 0.03 for t in TAU_SWEEP}},
)

RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in (act, settled, fixed, fixed_deep, sweep)}
