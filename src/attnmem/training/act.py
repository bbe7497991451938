"""Training adaptive computation time networks on parity (Graves 2016, Section 3.1), and measuring them.

``parity_loss`` is the task loss plus τ times the ponder cost; ``train_parity`` is the zoo's training run for one
network (with the curriculum, learning-rate decay and τ ramp it documents); ``settle_pondering`` trains a network
that has learned parity on with a larger τ until it halts before its step cap; ``TauSweep`` holds one network per τ.
"""
from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from attnmem.act import ACTOutput, AdaptiveRNN, FixedStepRNN, ponder_cost
from attnmem.tasks.algorithmic import ParityBatch, parity_batch
from attnmem.training import History, Target, fit

__all__ = [
    "parity_loss",
    "evaluate_parity",
    "build_parity_model",
    "curriculum_nonzeros",
    "decayed_lr",
    "train_parity",
    "settle_pondering",
    "train_settled",
    "evaluate_recipe",
    "TAU_SWEEP",
    "TauSweep",
    "train_tau_sweep",
    "evaluate_sweep",
]


def parity_loss(model: nn.Module, batch: ParityBatch, tau: float = 0.0) -> tuple[Tensor, dict[str, float]]:
    """Binary cross-entropy on the parity bit plus τ times the ponder cost."""
    if not (math.isfinite(tau) and tau >= 0):
        raise ValueError(f"the time penalty tau must be non-negative and finite, got {tau}")
    result = model(batch.inputs)
    if result.outputs.shape != (*batch.targets.shape, 1):
        raise ValueError(
            f"a parity model needs one output per input, shape {(*batch.targets.shape, 1)}; got "
            f"{tuple(result.outputs.shape)}: build it with output_size=1"
        )
    task = F.binary_cross_entropy_with_logits(result.outputs.squeeze(-1), batch.targets)
    ponder = ponder_cost(result)
    loss = task + tau * ponder if tau > 0 else task
    return loss, {"task_loss": float(task.detach()), "ponder": float(ponder.detach())}


def evaluate_parity(model: nn.Module, length: int, seed: int, n: int = 5000) -> dict[str, float]:
    """Accuracy and pondering on ``n`` fresh parity vectors; does pondering grow with the non-zero count?

    ``cap_share`` is the share of inputs that ran into the step limit (``max_steps`` of an ``AdaptiveRNN``; every
    input of a ``FixedStepRNN``); ``steps_corr_nonzeros`` is the Pearson correlation between the step count N and
    the number of non-zero entries; ``steps_easy`` and ``steps_hard`` are the mean N on the quarter of inputs with
    the fewest and the most non-zero entries.
    """
    batch = parity_batch(n, length, seed)
    with torch.no_grad():
        result = model(batch.inputs)
    correct = ((result.outputs.squeeze(-1) > 0).float() == batch.targets).float()
    steps = result.steps.squeeze(1).float()
    nonzeros = batch.nonzeros.float()
    spread = steps.std() * nonzeros.std()
    correlation = float(((steps - steps.mean()) * (nonzeros - nonzeros.mean())).mean() / spread) if spread > 0 else 0.0
    limit = getattr(model, "max_steps", getattr(model, "steps", None))
    return {
        "accuracy": float(correct.mean()),
        "mean_steps": float(steps.mean()),
        "mean_ponder": float(result.ponder.mean()),
        "cap_share": float((steps == limit).float().mean()),
        "steps_corr_nonzeros": correlation,
        "steps_easy": float(steps[nonzeros <= length / 4].mean()),
        "steps_hard": float(steps[nonzeros > 3 * length / 4].mean()),
    }


def build_parity_model(config: dict[str, Any]) -> nn.Module:
    """An ``AdaptiveRNN`` (``config["act"]``) or the ``FixedStepRNN`` baseline (``config["fixed_steps"]`` steps per
    input, default 1) for parity vectors."""
    if config["act"]:
        return AdaptiveRNN(config["length"], config["hidden"], 1, config["cell"], config["max_steps"],
                           halting_bias=config["halting_bias"])
    return FixedStepRNN(config["length"], config["hidden"], 1, config["cell"], steps=config.get("fixed_steps", 1))


def curriculum_nonzeros(step: int, length: int, curriculum: int) -> int:
    """The most non-zero entries a parity vector may have at training ``step``: 2 at the start, growing
    linearly to ``length`` over ``curriculum`` steps (0: the paper's full range from the start)."""
    if curriculum <= 0:
        return length
    return min(length, 2 + (length - 2) * step // curriculum)


def decayed_lr(step: int, steps: int, lr: float, lr_final: float) -> float:
    """The learning rate at ``step`` of ``steps``: linear from ``lr`` down to ``lr_final`` (equal: constant)."""
    return lr + (lr_final - lr) * min(1.0, step / steps)


def train_parity(config: dict[str, Any], seed: int, progress: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """Train on fresh parity batches with Adam until the step budget or the accuracy target is reached.

    Three training choices of ours, not in the paper (which trained far longer):

    - a curriculum: over the first ``config["curriculum"]`` steps the vectors have at most 2, then more and
      more non-zero entries (``curriculum_nonzeros``), until they have the paper's 1..L; the length stays L;
    - the learning rate decays linearly from ``config["lr"]`` to ``config["lr_final"]`` over the run;
    - the time penalty starts at zero and ramps up linearly over ``config["tau_warmup"]`` steps.

    While the network is still learning parity, the parity loss pulls its halting units down harder than a τ of
    1e-3 to 1e-2 pushes them up, so an ACT network ends this run pondering up to its step cap;
    ``train_settled`` goes on from there.
    """
    cpu_start = time.process_time()
    torch.manual_seed(seed)
    model = build_parity_model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    tau, warmup, step = config["tau"], config["tau_warmup"], [0]
    length, curriculum, batches = config["length"], config.get("curriculum", 0), [0]

    def loss_fn(model: nn.Module, batch: ParityBatch) -> tuple[Tensor, dict[str, float]]:
        step[0] += 1
        for group in optimizer.param_groups:  # fit calls this once a step, before the optimizer step
            group["lr"] = decayed_lr(step[0], config["steps"], config["lr"], config.get("lr_final", config["lr"]))
        return parity_loss(model, batch, tau * min(1.0, step[0] / warmup) if warmup else tau)

    def next_batch(generator: torch.Generator) -> ParityBatch:
        most = curriculum_nonzeros(batches[0], length, curriculum)
        batches[0] += 1
        return parity_batch(config["batch_size"], length, generator, max_nonzeros=most)

    depth = f"{config.get('fixed_steps', 1)} fixed step(s)"
    history = fit(
        model,
        loss_fn,
        next_batch,
        steps=config["steps"],
        optimizer=optimizer,
        seed=seed,
        evaluate=lambda m: evaluate_parity(m, config["length"], seed + 1000, n=2000),
        eval_every=config["eval_every"],
        target=Target("accuracy", config["target_accuracy"]) if config.get("target_accuracy") else None,
        progress=progress,
        desc=f"parity L={config['length']} {'ACT tau=' + str(tau) if config['act'] else depth}",
    )
    return model, {"steps": history.steps, "stopped_early": history.stopped_early,
                   "cpu_seconds": round(time.process_time() - cpu_start, 1)}


def _is_settled(metrics: dict[str, float], config: dict[str, Any]) -> bool:
    return metrics["accuracy"] >= config["target_accuracy"] and metrics["cap_share"] <= config["max_cap_share"]


def settle_pondering(model: nn.Module, config: dict[str, Any], seed: int, tau: float, stop: bool = True,
                     progress: bool = True) -> History:
    """Train a network that has learned parity on with time penalty ``tau`` at the constant rate ``settle_lr``.

    With ``stop`` it ends once the network keeps ``target_accuracy`` with at most ``max_cap_share`` of the
    validation inputs at the step cap, else after ``settle_steps``; returns the ``History``.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=config["settle_lr"])

    def evaluate(m: nn.Module) -> dict[str, float]:
        found = evaluate_parity(m, config["length"], seed + 1000, n=2000)
        return {**found, "settled": float(_is_settled(found, config))}

    return fit(
        model,
        lambda m, batch: parity_loss(m, batch, tau),
        lambda generator: parity_batch(config["batch_size"], config["length"], generator),
        steps=config["settle_steps"],
        optimizer=optimizer,
        seed=seed + 1,
        evaluate=evaluate,
        eval_every=config["eval_every"],
        target=Target("settled", 1.0) if stop else None,
        progress=progress,
        desc=f"settling the pondering, tau={tau:g}",
    )


def train_settled(start: nn.Module, config: dict[str, Any], seed: int,
                  progress: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """Go on training a copy of ``start``, an ACT network that has learned parity, with the larger time penalty
    ``config["settle_tau"]`` until it halts by itself (``settle_pondering``)."""
    cpu_start = time.process_time()
    model = build_parity_model(config)
    model.load_state_dict(start.state_dict())
    history = settle_pondering(model, config, seed, config["settle_tau"], progress=progress)
    return model, {"steps": history.steps, "settled": history.stopped_early,
                   "cpu_seconds": round(time.process_time() - cpu_start, 1)}


def evaluate_recipe(model: nn.Module, config: dict[str, Any], seed: int) -> dict[str, float]:
    """The zoo's measurement of one parity network: ``evaluate_parity`` on 10,000 fresh vectors."""
    return evaluate_parity(model, config["length"], seed, n=10000)


# --- the τ sweep: several ACT networks, one per time penalty, in one small checkpoint --------------------------

TAU_SWEEP: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 5e-2, 1e-1)


def _tau_key(tau: float) -> str:
    return f"tau_{tau:g}".replace(".", "p").replace("-", "m")


class TauSweep(nn.Module):
    """One ``AdaptiveRNN`` per time penalty τ; ``sweep[tau]`` is the model for that τ."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.taus = tuple(config["taus"])
        self.models = nn.ModuleDict({_tau_key(t): build_parity_model({**config, "act": True}) for t in self.taus})

    def __getitem__(self, tau: float) -> nn.Module:
        if _tau_key(tau) not in self.models:
            raise KeyError(f"the sweep has no model for tau={tau:g}; it has tau in {', '.join(f'{t:g}' for t in self.taus)}")
        return self.models[_tau_key(tau)]

    def forward(self, inputs: Tensor) -> ACTOutput:
        raise TypeError("a TauSweep holds one model per tau: call sweep[tau](inputs) instead")


def train_tau_sweep(start: nn.Module, config: dict[str, Any], seed: int,
                    progress: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """Train a copy of ``start``, an ACT network that has learned parity, on at each τ for ``settle_steps``
    (no early stop).

    Every copy starts from the same network, which has learned parity, and gets the same steps, batches and
    learning rate, so the networks differ only in the time penalty they were last trained with. Records the CPU
    seconds of each τ.
    """
    sweep = TauSweep(config)
    seconds = {}
    for tau in sweep.taus:
        cpu_start = time.process_time()
        model = sweep[tau]
        model.load_state_dict(start.state_dict())
        settle_pondering(model, config, seed, tau, stop=False, progress=progress)
        seconds[f"{tau:g}"] = round(time.process_time() - cpu_start, 1)
    return sweep, {"cpu_seconds_per_tau": seconds, "cpu_seconds": round(sum(seconds.values()), 1)}


def evaluate_sweep(sweep: nn.Module, config: dict[str, Any], seed: int) -> dict[str, float]:
    """Accuracy, mean steps and mean ponder cost of every network of a ``TauSweep``, keyed ``name@tau``."""
    metrics = {}
    for tau in sweep.taus:
        found = evaluate_parity(sweep[tau], config["length"], seed, n=5000)
        metrics.update({f"{name}@{tau:g}": value for name, value in found.items()
                        if name in ("accuracy", "mean_steps", "mean_ponder", "cap_share")})
    return metrics
