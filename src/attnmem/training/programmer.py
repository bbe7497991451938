"""Training the neural programmers of chapter 9 from answers alone, and measuring them.

Two ways to train the table model, both from answers only: ``table_loss`` compares the soft program's answer with
the target (Huber for numbers, cell-wise log loss for lookups), as Neelakantan et al. (2016) do; ``program_loss``
maximises the probability of the discrete programs whose answer is right (``attnmem.training.program_search``).
The evaluations run the *discrete* program of the most probable choices, as the paper does at test time.
"""
from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from attnmem._util import one_thread, seed_everything
from attnmem.programmer import ArithmeticProgrammer, TableProgrammer, TableTrace, induced_programs, run_program
from attnmem.tasks.tables import (
    KINDS,
    ArithmeticBatch,
    Question,
    TableBatch,
    arithmetic_task,
    collate,
    sample_questions,
    table_task,
)
from attnmem.training import fit
from attnmem.training.program_search import (
    ProgramGraph,
    consistent_programs,
    marginal_log_likelihood,
    step_log_probabilities,
)

__all__ = [
    "arithmetic_loss",
    "evaluate_arithmetic",
    "build_arithmetic",
    "train_arithmetic",
    "table_loss",
    "ProgramBatch",
    "program_pool",
    "program_batches",
    "program_loss",
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


class ProgramBatch(NamedTuple):
    """Questions and, for each, the graph of its consistent programs."""

    questions: TableBatch
    graphs: list[ProgramGraph]


def program_pool(size: int, seed: int, config: dict[str, Any]) -> tuple[list[Question], list[ProgramGraph]]:
    """``size`` training questions and the consistent programs of each (the slow part: about 50 ms a question)."""
    questions = sample_questions(size, seed, kinds=config.get("kinds"), n_rows=config["n_rows"],
                                 n_cols=config["n_cols"])
    graphs = [consistent_programs(q, config["steps"]) for q in questions]
    unanswerable = [q.text for q, graph in zip(questions, graphs) if graph.count == 0]
    if unanswerable:
        raise ValueError(f"no program of {config['steps']} steps answers {len(unanswerable)} of the questions, "
                         f"e.g. {unanswerable[0]!r}: give the model more steps")
    return questions, graphs


def program_batches(questions: list[Question], graphs: list[ProgramGraph],
                    batch_size: int) -> Callable[[torch.Generator], ProgramBatch]:
    """For ``fit``: batches of ``batch_size`` questions drawn at random from a pool, with their graphs."""
    def draw(generator: torch.Generator) -> ProgramBatch:
        chosen = torch.randint(len(questions), (batch_size,), generator=generator).tolist()
        return ProgramBatch(collate([questions[i] for i in chosen]), [graphs[i] for i in chosen])
    return draw


def program_loss(model: nn.Module, batch: ProgramBatch) -> tuple[Tensor, dict[str, float]]:
    """Minus the log of the summed probability of each question's consistent programs, averaged over the batch."""
    trace = model(batch.questions)
    log_p = step_log_probabilities(trace, batch.questions.number_mask.any(1), batch.graphs[0].steps)
    log_likelihood = marginal_log_likelihood(log_p.double(), batch.graphs)
    return -log_likelihood.mean(), {"p_consistent": float(log_likelihood.detach().exp().mean())}


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
    """Train the table programmer from answers only.

    ``config["objective"]``: ``"soft_answer"`` trains the soft program's answer on fresh tables at every step (the
    paper's way); ``"consistent_programs"`` first finds the consistent programs of a pool of ``pool`` questions,
    then maximises their probability on batches drawn from it.
    """
    seed_everything(seed)
    model = build_tables(config)
    objective = config["objective"]
    if objective == "soft_answer":
        def batches(generator: torch.Generator) -> TableBatch:
            return table_task(config["batch_size"], generator, kinds=config["kinds"], n_rows=config["n_rows"],
                              n_cols=config["n_cols"])
        loss_fn, search_seconds = table_loss, 0.0
    elif objective == "consistent_programs":
        start = time.process_time()
        questions, graphs = program_pool(config["pool"], seed, config)
        search_seconds = time.process_time() - start
        batches, loss_fn = program_batches(questions, graphs, config["batch_size"]), program_loss
    else:
        raise ValueError(f"objective must be 'soft_answer' or 'consistent_programs', got {objective!r}")
    start = time.process_time()
    with one_thread():  # a model this small trains fastest on one thread, and its CPU seconds are one thread's
        history = fit(model, loss_fn, batches, steps=config["train_steps"], lr=config["lr"], seed=seed,
                      progress=progress, desc="table programmer")
    return model, {"steps": history.steps, "final_loss": history.train[-1]["loss"],
                   "search_cpu_seconds": round(search_seconds, 1),
                   "train_cpu_seconds": round(time.process_time() - start, 1)}
