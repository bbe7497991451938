"""Training the neural programmers of chapter 9 from answers alone, and measuring them.

The losses compare only the final answer with the target (Huber for numbers, cell-wise log loss for lookups); the
evaluations run the *discrete* program of the most probable choices, as Neelakantan et al. (2016) do at test time.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from attnmem._util import seed_everything
from attnmem.programmer import ArithmeticProgrammer, TableProgrammer, TableTrace, induced_programs, run_program
from attnmem.tasks.tables import KINDS, ArithmeticBatch, TableBatch, arithmetic_task, table_task
from attnmem.training import fit

__all__ = [
    "arithmetic_loss",
    "evaluate_arithmetic",
    "build_arithmetic",
    "train_arithmetic",
    "table_loss",
    "evaluate_tables",
    "build_tables",
    "train_tables",
]


def _within(prediction: Tensor, target: Tensor, tolerance: float) -> Tensor:
    return (prediction - target).abs() <= tolerance * target.abs().clamp_min(1.0)


def arithmetic_loss(model: nn.Module, batch: ArithmeticBatch) -> tuple[Tensor, dict[str, float]]:
    """Huber loss between the soft program's answer and the expression's value (the only supervision)."""
    trace = model(batch.tokens, batch.values)
    loss = F.huber_loss(trace.answer, batch.answer, delta=1.0)
    return loss, {"within_1pct": float(_within(trace.answer.detach(), batch.answer, 0.01).float().mean())}


def evaluate_arithmetic(model: nn.Module, config: dict[str, Any], seed: int) -> dict[str, float]:
    """Fraction of fresh test expressions answered within 1% (soft program, and discrete argmax program)."""
    batch = arithmetic_task(config.get("test_size", 1000), seed + 10_000, n_ops=config["steps"])
    with torch.no_grad():
        trace = model(batch.tokens, batch.values)
        hard = model.discrete_answer(trace, batch.tokens, batch.values)
    return {"accuracy": float(_within(hard, batch.answer, 0.01).float().mean()),
            "soft_accuracy": float(_within(trace.answer, batch.answer, 0.01).float().mean())}


def table_loss(model: nn.Module, batch: TableBatch, lookup_weight: float = 1.0) -> tuple[Tensor, dict[str, float]]:
    """Huber loss on scalar answers (scaled by 1 + |answer|) plus the cell-wise log loss on lookup answers."""
    trace = model(batch)
    scalar_error = (trace.scalar - batch.answer) / (1 + batch.answer.abs())
    scalar_loss = F.huber_loss(scalar_error, torch.zeros_like(scalar_error), reduction="none", delta=1.0)
    cells = trace.lookup.clamp(1e-6, 1 - 1e-6)
    lookup_loss = F.binary_cross_entropy(cells, batch.lookup, reduction="none").sum((1, 2)) / cells.shape[1]
    per_example = torch.where(batch.is_lookup, lookup_weight * lookup_loss, scalar_loss)
    return per_example.mean(), {"scalar_loss": float(scalar_loss.detach().mean())}


def _correct(trace: TableTrace, batch: TableBatch) -> tuple[Tensor, Tensor]:
    """Per example: is the discrete (argmax) program right, and is the soft answer right?"""
    hard, soft = [], []
    for b, program in enumerate(induced_programs(trace)):
        numbers = batch.numbers[b][batch.number_mask[b]].tolist()
        result = run_program(program, batch.table[b], numbers)
        if batch.is_lookup[b]:
            target = divmod(int(batch.lookup[b].flatten().argmax()), batch.lookup[b].shape[1])
            hard.append(result.cells == (target,))
            soft.append(int(trace.lookup[b].flatten().argmax()) == int(batch.lookup[b].flatten().argmax()))
        else:
            hard.append(abs(result.scalar - float(batch.answer[b])) < 0.5)
            soft.append(abs(float(trace.scalar[b]) - float(batch.answer[b])) < 0.5)
    return torch.tensor(hard), torch.tensor(soft)


def evaluate_tables(model: nn.Module, config: dict[str, Any], seed: int) -> dict[str, float]:
    """Accuracy on questions about unseen tables, overall and per kind (discrete program; plus the soft answer)."""
    kinds = config.get("kinds")
    batch = table_task(config.get("test_size", 800), seed + 10_000, kinds=kinds, split="test",
                       n_rows=config["n_rows"], n_cols=config["n_cols"])
    with torch.no_grad():
        hard, soft = _correct(model(batch), batch)
    metrics = {"accuracy": float(hard.float().mean()), "soft_accuracy": float(soft.float().mean())}
    for i, kind in enumerate(KINDS):
        chosen = batch.kind == i
        if chosen.any():
            metrics[f"accuracy_{kind}"] = float(hard[chosen].float().mean())
    return metrics


def build_arithmetic(config: dict[str, Any]) -> nn.Module:
    """The ``ArithmeticProgrammer`` a recipe's config describes."""
    return ArithmeticProgrammer(config["steps"], config["embed"], config["hidden"])


def train_arithmetic(config: dict[str, Any], seed: int, progress: bool = True) -> tuple[nn.Module, dict]:
    """Train the arithmetic programmer on fresh expressions, from answers only.

    Soft programs have local minima: a start can settle on a consistent program that gets the precedence of some
    shapes wrong (``+`` before ``*``), and no small change of one step's choice improves it. So the recipe trains
    up to ``restarts`` models from different seeds for ``probe_steps`` each, stops at the first whose validation
    accuracy (a set seeded apart from the test seeds) reaches ``solved``, keeps the best start, and trains it
    ``train_steps`` more — random restarts, deterministic under ``seed``.
    """
    def batches(generator: torch.Generator) -> ArithmeticBatch:
        return arithmetic_task(config["batch_size"], generator, n_ops=config["steps"])

    validation = {"steps": config["steps"], "test_size": 500}
    best, best_accuracy, best_seed, tried = None, -1.0, seed, 0
    for restart in range(config["restarts"]):
        seed_everything(seed + restart)
        candidate = build_arithmetic(config)
        fit(candidate, arithmetic_loss, batches, steps=config["probe_steps"], lr=config["lr"], seed=seed + restart,
            progress=progress, desc=f"arithmetic programmer, start {restart + 1}")
        accuracy = evaluate_arithmetic(candidate, validation, seed + 50_000)["accuracy"]
        tried = restart + 1
        if accuracy > best_accuracy:
            best, best_accuracy, best_seed = candidate, accuracy, seed + restart
        if best_accuracy >= config["solved"]:
            break
    history = fit(best, arithmetic_loss, batches, steps=config["train_steps"], lr=config["lr"], seed=best_seed,
                  progress=progress, desc="arithmetic programmer, best start")
    return best, {"steps": tried * config["probe_steps"] + history.steps, "starts_tried": tried,
                  "chosen_start": best_seed, "final_loss": history.train[-1]["loss"]}


def build_tables(config: dict[str, Any]) -> nn.Module:
    """The ``TableProgrammer`` a recipe's config describes."""
    return TableProgrammer(config["steps"], config["embed"], config["hidden"], config["match_weight"])


def train_tables(config: dict[str, Any], seed: int, progress: bool = True) -> tuple[nn.Module, dict]:
    """Train the table programmer on questions about fresh tables, from answers only."""
    seed_everything(seed)
    model = build_tables(config)

    def batches(generator: torch.Generator) -> TableBatch:
        return table_task(config["batch_size"], generator, kinds=config["kinds"], n_rows=config["n_rows"],
                          n_cols=config["n_cols"])

    history = fit(model, table_loss, batches, steps=config["train_steps"], lr=config["lr"], seed=seed,
                  progress=progress, desc="table programmer")
    return model, {"steps": history.steps, "final_loss": history.train[-1]["loss"]}
