"""One small training loop for every chapter: seeded, clipped, with a progress bar and early stopping.

``fit(model, loss_fn, batches, steps=...)`` draws a batch, computes the loss, clips the gradient norm and takes an
optimizer step at the learning rate of its schedule; every ``eval_every`` steps it calls ``evaluate(model)``, stops
early once ``target`` is met, and can keep the weights of the best evaluation. It returns a ``History`` of what
happened, which can plot itself.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Union

import torch
from torch import Tensor, nn

from attnmem._util import seed_everything
from attnmem.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

__all__ = ["Target", "History", "TrainingError", "fit", "save_checkpoint", "load_checkpoint", "CheckpointError"]

LossOutput = Union[Tensor, "tuple[Tensor, dict[str, float]]"]
Batches = Union[Callable[[torch.Generator], Any], Iterable[Any]]


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss, a loss function that returns the wrong thing)."""


@dataclass(frozen=True)
class Target:
    """Stop training once ``metric`` (from ``evaluate``) reaches ``value``; ``mode`` is ``"max"`` or ``"min"``."""

    metric: str
    value: float
    mode: str = "max"

    def __post_init__(self) -> None:
        if self.mode not in ("max", "min"):
            raise ValueError(f"Target mode must be 'max' or 'min', got {self.mode!r}")

    def reached(self, metrics: dict[str, float]) -> bool:
        if self.metric not in metrics:
            raise TrainingError(
                f"target metric {self.metric!r} is not among the evaluation metrics {sorted(metrics)}; "
                f"make evaluate() return it or change the target"
            )
        value = metrics[self.metric]
        return value >= self.value if self.mode == "max" else value <= self.value


@dataclass
class History:
    """What a ``fit`` run did: per-step training records, evaluations (and the seconds into the run at which each
    was made), wall time, whether it stopped early, and which evaluation's weights were kept (``keep_best``)."""

    train: list[dict[str, float]] = field(default_factory=list)
    evals: list[dict[str, float]] = field(default_factory=list)
    eval_seconds: list[float] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    stopped_early: bool = False
    best_step: int | None = None

    @property
    def final(self) -> dict[str, float]:
        """The last evaluation (or the last training record when there was no evaluation)."""
        if self.evals:
            return dict(self.evals[-1])
        return dict(self.train[-1]) if self.train else {}

    def summary(self) -> str:
        stop = "reached the target and stopped early" if self.stopped_early else "ran all steps"
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in self.final.items() if k != "step")
        return f"{self.steps} steps in {self.seconds:.1f} s ({stop}); {metrics}"

    def plot(self, metrics: list[str] | None = None, ax: Any = None, smooth: int = 10) -> Any:
        """Plot the training loss (smoothed over ``smooth`` records) and the evaluation metrics against steps."""
        import matplotlib.pyplot as plt

        if not self.train:
            raise ValueError("this History is empty: nothing was trained yet")
        eval_names = metrics if metrics is not None else [k for k in (self.evals[0] if self.evals else {}) if k != "step"]
        if ax is None:
            n = 1 + bool(eval_names)
            _, axes = plt.subplots(1, n, figsize=(4.5 * n, 3.2), squeeze=False)
            axes = list(axes[0])
        else:
            axes = [ax, ax.twinx()] if eval_names else [ax]
        steps = [r["step"] for r in self.train]
        losses = [r["loss"] for r in self.train]
        width = max(1, min(smooth, len(losses)))
        smoothed = [sum(losses[max(0, i - width + 1) : i + 1]) / len(losses[max(0, i - width + 1) : i + 1]) for i in range(len(losses))]
        axes[0].plot(steps, losses, color="0.8", lw=0.8, label="training loss, each record")
        axes[0].plot(steps, smoothed, color="C0", label=f"mean of the last {width}" if width > 1 else "training loss")
        axes[0].set_xlabel("step")
        axes[0].set_ylabel("loss")
        axes[0].set_yscale("log" if min(losses) > 0 else "linear")
        axes[0].legend(frameon=False, fontsize=8)
        if eval_names:
            for i, name in enumerate(eval_names):
                axes[1].plot([e["step"] for e in self.evals], [e[name] for e in self.evals], "o-", ms=3,
                             color=f"C{i + 1}", label=name)
            axes[1].set_xlabel("step")
            axes[1].legend(frameon=False)
        axes[0].figure.tight_layout()
        return axes[0].figure


def _batch_stream(batches: Batches, generator: torch.Generator) -> Iterator[Any]:
    if callable(batches):
        while True:
            yield batches(generator)
    iterator = iter(batches)  # an iterable: cycle through it
    first = True
    while True:
        for batch in iterator:
            first = False
            yield batch
        if first:
            raise TrainingError("batches is empty: give a non-empty iterable or a function generator -> batch")
        iterator = iter(batches)


def _split_loss(output: LossOutput, step: int) -> tuple[Tensor, dict[str, float]]:
    loss, metrics = (output if isinstance(output, tuple) else (output, {}))
    if not isinstance(loss, Tensor) or loss.dim() != 0:
        raise TrainingError(
            f"loss_fn must return a scalar tensor (or (scalar, metrics dict)); at step {step} it returned "
            f"{type(loss).__name__}{'' if not isinstance(loss, Tensor) else ' of shape ' + str(tuple(loss.shape))}"
        )
    if not torch.isfinite(loss):
        raise TrainingError(
            f"the loss became {loss.item()} at step {step}; lower the learning rate or check the inputs "
            f"(a division by zero or log of zero in the model?)"
        )
    return loss, {k: float(v.detach()) if isinstance(v, Tensor) else float(v) for k, v in metrics.items()}


def _check_gradients(model: nn.Module, clip_norm: float | None, step: int, loss: Tensor) -> None:
    """Clip the gradients to ``clip_norm``; refuse a non-finite gradient before it reaches the weights."""
    trained = [p for p in model.parameters() if p.grad is not None]
    norm = torch.nn.utils.get_total_norm([p.grad for p in trained])
    if not torch.isfinite(norm):
        names = [name for name, p in model.named_parameters() if p.grad is not None and not p.grad.isfinite().all()]
        raise TrainingError(
            f"the gradient of {', '.join(names[:5]) or 'a parameter'} became non-finite at step {step} although the "
            f"loss was finite ({loss.item():.4g}); the weights were not updated. Look for a sqrt, log or division "
            f"at zero in the model (its gradient is infinite there), or lower the learning rate"
        )
    if clip_norm is not None:
        torch.nn.utils.clip_grads_with_norm_(trained, clip_norm, norm)


class _Progress:
    """A ``tqdm.auto`` bar; in a notebook its final state replaces the display, so saved notebooks and the
    static book show the finished bar (steps, time, rate, last loss) rather than the empty one it started as."""

    def __init__(self, steps: int, desc: str, enabled: bool) -> None:
        from tqdm.auto import tqdm
        from tqdm.notebook import tqdm as notebook_tqdm

        self.handle = None
        in_notebook = enabled and isinstance(tqdm, type) and issubclass(tqdm, notebook_tqdm)
        options = {"total": steps, "desc": desc, "disable": not enabled, "dynamic_ncols": True}
        if in_notebook:
            from IPython.display import display

            self.bar = tqdm(display=False, **options)
            self.handle = display(self.bar.container, display_id=True)
        else:
            self.bar = tqdm(**options)

    def close(self) -> None:
        self.bar.close()
        if self.handle is not None:
            self.handle.update(self.bar.container)


def fit(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, Any], LossOutput],
    batches: Batches,
    *,
    steps: int,
    lr: float = 1e-3,
    lr_schedule: Callable[[int], float] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    clip_norm: float | None = 1.0,
    seed: int = 0,
    evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
    eval_every: int = 100,
    target: Target | None = None,
    keep_best: str | None = None,
    progress: bool = True,
    desc: str = "training",
) -> History:
    """Train ``model`` for at most ``steps`` optimizer steps and return its ``History``.

    ``loss_fn(model, batch)`` returns a scalar loss, or ``(loss, {"name": value, ...})`` for extra training metrics.
    ``batches`` is either a function ``generator -> batch`` (for the book's generated tasks; it is given a
    ``torch.Generator`` seeded from ``seed``) or an iterable of batches that is cycled. Gradients are clipped to
    ``clip_norm`` (``None`` turns clipping off). ``evaluate(model)`` returns a metrics dict; it runs in
    ``torch.no_grad()`` and eval mode every ``eval_every`` steps and at the end. Training stops once ``target`` is
    reached. ``lr_schedule(step)`` gives the learning rate of step 1, 2, ... (set before that step's update).
    ``keep_best`` names an evaluation metric: the weights of the evaluation where it was highest (the later one on a
    tie) are loaded back at the end. The progress bar is ``tqdm.auto`` (a widget in notebooks, text in a terminal).
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if eval_every < 1:
        raise ValueError(f"eval_every must be at least 1, got {eval_every}")
    if (target is not None or keep_best is not None) and evaluate is None:
        raise ValueError("a target or keep_best needs an evaluate function that returns the metric it names")
    generator = seed_everything(seed)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    history = History()
    stream = _batch_stream(batches, generator)
    start = time.perf_counter()
    best: dict[str, Any] = {}

    def run_evaluation(step: int) -> bool:
        model.eval()
        with torch.no_grad():
            metrics = {k: float(v) for k, v in evaluate(model).items()}  # type: ignore[misc]
        model.train()
        history.evals.append({"step": step, **metrics})
        history.eval_seconds.append(time.perf_counter() - start)
        if keep_best is not None:
            if keep_best not in metrics:
                raise TrainingError(f"keep_best metric {keep_best!r} is not among the evaluation metrics "
                                    f"{sorted(metrics)}; make evaluate() return it or change keep_best")
            if not best or metrics[keep_best] >= best["value"]:
                best.update(value=metrics[keep_best], step=step,
                            state={k: v.detach().clone() for k, v in model.state_dict().items()})
        return target is not None and target.reached(metrics)

    progress_bar = _Progress(steps, desc, progress)
    bar = progress_bar.bar
    model.train()
    try:
        for step in range(1, steps + 1):
            loss, metrics = _split_loss(loss_fn(model, next(stream)), step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if lr_schedule is not None:
                for group in optimizer.param_groups:
                    group["lr"] = lr_schedule(step)
            _check_gradients(model, clip_norm, step, loss)
            optimizer.step()
            history.train.append({"step": step, "loss": loss.item(), **metrics})
            history.steps = step
            bar.update(1)
            if step % max(1, steps // 100) == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
            if evaluate is not None and (step % eval_every == 0 or step == steps):
                if run_evaluation(step):
                    history.stopped_early = step < steps
                    break
    finally:
        progress_bar.close()
        history.seconds = time.perf_counter() - start
        model.eval()
    if best:
        model.load_state_dict(best["state"])
        history.best_step = best["step"]
    return history
