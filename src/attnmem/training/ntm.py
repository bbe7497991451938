"""Training neural Turing machines and their LSTM baseline on the algorithmic tasks, and measuring them in bits.

``train_on_task`` trains a machine with Adam on fresh batches of one task (Graves et al. 2014, Section 4) until its
validation bit errors reach a target; ``evaluate_copy`` and ``evaluate_on_training_range`` are the zoo's
measurements; ``start_from_copy`` starts a repeat-copy machine from a trained copy machine (a curriculum).
"""
from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from attnmem._util import one_thread
from attnmem.ntm import NTM, LSTMBaseline, NTMOutput
from attnmem.tasks.algorithmic import AlgorithmicBatch, bit_errors, sequence_loss, task
from attnmem.training import Target, fit

__all__ = [
    "TASK_SIZES",
    "logits_of",
    "evaluate_bit_errors",
    "build_machine",
    "compiled_advance",
    "train_on_task",
    "evaluate_copy",
    "evaluate_on_training_range",
    "start_from_copy",
]


TASK_SIZES = {  # task -> (input width, output width) for the default task widths
    "copy": (9, 8),
    "repeat_copy": (10, 9),
    "associative_recall": (8, 6),
    "priority_sort": (10, 8),
}


def logits_of(model: nn.Module, inputs: Tensor) -> Tensor:
    """The logits (B, T, outputs) of an ``NTM`` or an ``LSTMBaseline``."""
    out = model(inputs)
    return out.logits if isinstance(out, NTMOutput) else out


def evaluate_bit_errors(model: nn.Module, batch: AlgorithmicBatch, chunk: int = 250) -> Tensor:
    """Bit errors per sequence (B,) of ``model`` on ``batch``, run in chunks without gradients."""
    errors = []
    with torch.no_grad(), one_thread():
        for start in range(0, batch.inputs.shape[0], chunk):
            part = AlgorithmicBatch(*(t[start : start + chunk] for t in batch))
            errors.append(bit_errors(logits_of(model, part.inputs), part))
    return torch.cat(errors)


def build_machine(config: dict[str, Any]) -> nn.Module:
    """The ``NTM`` or ``LSTMBaseline`` a recipe's config describes, sized for its task."""
    inputs, outputs = TASK_SIZES[config["task"]]
    if config["model"] == "lstm":
        return LSTMBaseline(inputs, outputs, config["hidden_size"], config.get("layers", 1))
    return NTM(inputs, outputs, memory_size=config["memory_size"], memory_width=config["memory_width"],
               controller=config.get("controller", "lstm"), controller_size=config["controller_size"],
               read_heads=config.get("read_heads", 1), write_heads=config.get("write_heads", 1))


def compiled_advance(model: NTM, probe: AlgorithmicBatch) -> Callable[..., Any] | None:
    """``model.advance`` compiled by ``torch.compile`` for training, or ``None`` (with a warning) where it cannot be.

    The compiler (it needs a C++ compiler) fuses the many small operations of one step into a few loops; the
    numbers are those of chapter 6's functions up to rounding. It is tried here on one forward and backward pass
    of ``probe``, so that a missing compiler falls back to the readable path before training starts, not inside it;
    the probe's gradients are cleared.
    """
    try:
        advance = torch.compile(model.advance, dynamic=False)
        model.advance = advance  # type: ignore[method-assign]
        try:
            sequence_loss(model(probe.inputs).logits, probe).backward()
        finally:
            del model.advance
    except Exception as error:  # the compiler's failures have many types; any of them means: train eagerly
        warnings.warn(f"torch.compile is unavailable here, so the NTM trains on the readable path "
                      f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})",
                      RuntimeWarning, stacklevel=2)
        return None
    finally:
        model.zero_grad(set_to_none=True)
    return advance


def train_on_task(config: dict[str, Any], seed: int, progress: bool = True,
                  model: nn.Module | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Train a model on ``config['task']`` with Adam until the validation bit errors reach the target.

    The batches are drawn fresh each step with ``config['train']`` (the task's keyword arguments); validation
    uses ``config['validation_size']`` sequences (200 if absent) of the same range (seed + 1000). Stops at
    ``config['target_bits']`` mean bit errors. With ``config['compile']`` an NTM's training steps run its ``advance``
    compiled (``compiled_advance``; the readable path where that fails); evaluation and the returned model stay
    plain, so its weights load into any ``NTM``.
    """
    torch.manual_seed(seed)
    model = model if model is not None else build_machine(config)
    generate = task(config["task"])
    validation = generate(config.get("validation_size", 200), **config["train"], seed=seed + 1000)

    def batches(generator: torch.Generator) -> AlgorithmicBatch:
        return generate(config["batch_size"], **config["train"], seed=generator)

    start, cpu_start = time.perf_counter(), time.process_time()
    fast_advance = None
    if config.get("compile") and isinstance(model, NTM):
        with one_thread():
            fast_advance = compiled_advance(model, AlgorithmicBatch(*(t[: config["batch_size"]] for t in validation)))
    compile_seconds, compile_cpu = time.perf_counter() - start, time.process_time() - cpu_start

    def loss_fn(model: nn.Module, batch: AlgorithmicBatch) -> Tensor:
        if fast_advance is None:
            return sequence_loss(logits_of(model, batch.inputs), batch)
        model.advance = fast_advance  # type: ignore[method-assign]
        try:
            return sequence_loss(logits_of(model, batch.inputs), batch)
        finally:
            del model.advance

    def evaluate(model: nn.Module) -> dict[str, float]:
        return {"bit_errors": float(evaluate_bit_errors(model, validation).mean())}

    with one_thread():
        history = fit(model, loss_fn, batches, steps=config["max_steps"], lr=config["lr"], seed=seed,
                      clip_norm=config.get("clip_norm", 10.0), evaluate=evaluate, eval_every=config["eval_every"],
                      target=Target("bit_errors", config["target_bits"], "min"), progress=progress,
                      desc=f"{config['model']} {config['task']}")
    curve = [[int(e["step"]), round(e["bit_errors"], 4)] for e in history.evals]
    return model, {"steps": history.steps, "sequences_seen": history.steps * config["batch_size"],
                   "reached_target": bool(history.stopped_early or history.final.get("bit_errors", math.inf)
                                          <= config["target_bits"]),
                   "seconds_training": round(time.perf_counter() - start, 2),
                   "cpu_seconds_training": round(time.process_time() - cpu_start, 2),
                   "compiled": fast_advance is not None, "seconds_compiling": round(compile_seconds, 2),
                   "cpu_seconds_compiling": round(compile_cpu, 2),
                   "validation_curve": curve}


def evaluate_copy(model: nn.Module, config: dict[str, Any], seed: int) -> dict[str, float]:
    """Mean bit errors per sequence on 1,000 copies of lengths 1-20 and 100 copies each of length 40 and 80."""
    train, copy = config["train"], task("copy")
    metrics = {"bit_errors_1_20": evaluate_bit_errors(model, copy(1000, train["min_len"], train["max_len"], seed=seed))}
    for length in (40, 80):
        metrics[f"bit_errors_{length}"] = evaluate_bit_errors(model, copy(100, length, length, seed=seed))
    return {name: float(errors.mean()) for name, errors in metrics.items()}


def evaluate_on_training_range(model: nn.Module, config: dict[str, Any], seed: int) -> dict[str, float]:
    """Mean bit errors per sequence on 1,000 fresh sequences from the training distribution."""
    sequences = task(config["task"])(1000, **config["train"], seed=seed)
    return {"bit_errors": float(evaluate_bit_errors(model, sequences).mean())}


def start_from_copy(copy_model: NTM, model: NTM) -> None:
    """Copy every weight of a trained copy NTM into a repeat-copy NTM of the same sizes (a curriculum).

    Repeat copy has one more input channel (the repeat count, after the bits and the delimiter) and one more output
    (the end marker, after the bits). The controller's weights for that input start at zero, so the new machine
    starts by doing exactly what the copy machine does; the output layer's row for the end marker keeps its fresh
    initialisation; everything else, the heads included, starts as the copy machine's.
    """
    new_input = copy_model.input_size  # index of the extra input channel
    with torch.no_grad():
        for name, old in copy_model.state_dict().items():
            new = model.state_dict()[name]
            if name == "controller.weight_ih":  # columns: inputs, then reads
                new[:, :new_input] = old[:, :new_input]
                new[:, new_input] = 0.0
                new[:, new_input + 1 :] = old[:, new_input:]
            elif name.startswith("output_layer."):  # rows: outputs
                new[: old.shape[0]] = old
            else:
                new.copy_(old)
