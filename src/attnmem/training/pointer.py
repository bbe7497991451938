"""Training and evaluation of pointer networks (chapter 11) on sorting, convex hulls and tours.

The loss is the negative log-likelihood of the target positions under the teacher-forced pointer distributions.
The measures are those of Vinyals et al. (2015), Section 4: exact accuracy (the whole output right), the convex
hull's area coverage, and the tour length against the optimum or a heuristic.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from attnmem._util import one_thread
from attnmem.pointer import PointerDecoding, PointerNetwork, Pointed, repeated_indices
from attnmem.seq2seq import Seq2Seq, greedy_batch
from attnmem.set_pointer import SetPointerNetwork
from attnmem.tasks import geometry
from attnmem.tasks.geometry import SORT_VALUES, PointBatch
from attnmem.tasks.translation import Batch, Vocab
from attnmem.training import History, fit

__all__ = [
    "TASKS",
    "pointer_loss",
    "build",
    "learning_rate",
    "training_batches",
    "train",
    "decode",
    "outputs",
    "same_polygon",
    "sorting_accuracy",
    "hull_metrics",
    "tsp_metrics",
    "evaluate",
    "position_vocabulary_batch",
    "position_vocabulary_accuracy",
]

#: task name -> (generator, whether its outputs close where they began)
TASKS: dict[str, tuple[Callable[..., PointBatch], bool]] = {
    "sorting": (geometry.sorting_task, False),
    "hull": (geometry.hull_task, True),
    "tsp": (geometry.tsp_task, False),
}


def pointer_loss(model: PointerDecoding, batch: PointBatch) -> tuple[Tensor, dict[str, float]]:
    """Mean -log p(target position) over the real output steps, and the fraction of steps whose most probable
    position is the target."""
    distributions = model(batch.points, batch.lengths, batch.targets).distributions
    real = batch.targets >= 0
    target = batch.targets.clamp_min(0).unsqueeze(-1)
    picked = distributions.gather(-1, target).squeeze(-1)
    loss = -(picked.clamp_min(1e-30).log() * real).sum() / real.sum()
    right = (distributions.argmax(-1) == batch.targets) & real
    return loss, {"step_accuracy": float(right.sum()) / float(real.sum())}


def build(config: dict[str, Any]) -> PointerDecoding:
    """A pointer model for ``config["task"]``: with ``encoder`` "lstm" (the default) a ``PointerNetwork`` with
    ``hidden`` units; with "attention" a ``SetPointerNetwork`` with ``d_model``, ``heads``, ``layers``, ``d_ff``,
    ``glimpse`` and ``relative``. Both take ``attention`` units in the pointer's additive score and ``mask_chosen``
    (default True)."""
    _, closes = TASKS[config["task"]]
    common = {"input_size": 1 if config["task"] == "sorting" else 2, "mask_chosen": config.get("mask_chosen", True),
              "closes": closes, "attention": config.get("attention")}
    encoder = config.get("encoder", "lstm")
    if encoder == "lstm":
        return PointerNetwork(hidden=config["hidden"], **common)
    if encoder == "attention":
        sizes = {k: config[k] for k in ("d_model", "heads", "layers", "d_ff", "glimpse", "relative") if k in config}
        return SetPointerNetwork(**sizes, **common)
    raise ValueError(f"config['encoder'] must be 'lstm' or 'attention', got {encoder!r}")


def decode(model: PointerDecoding, batch: PointBatch, beam_size: int = 1, mask_chosen: bool | None = None) -> Pointed:
    """Greedy (``beam_size`` 1) or beam decoding of a batch."""
    if beam_size == 1:
        return model.greedy(batch.points, batch.lengths, mask_chosen=mask_chosen)
    return model.beam(batch.points, batch.lengths, beam_size=beam_size, mask_chosen=mask_chosen)


def outputs(pointed: Pointed) -> list[list[int]]:
    """The decoded positions of each example, as lists."""
    return [row[: int(n)].tolist() for row, n in zip(pointed.indices, pointed.lengths)]


def same_polygon(output: list[int], hull: list[int]) -> bool:
    """Whether a closed output names exactly the hull's vertices in the hull's cyclic order (from any start)."""
    if len(output) < 2 or output[-1] != output[0]:
        return False
    ring, target = output[:-1], hull[:-1] if hull[-1] == hull[0] else hull
    if len(ring) != len(target) or target[0] not in ring:
        return False
    start = ring.index(target[0])
    return ring[start:] + ring[:start] == target


def sorting_accuracy(model: PointerDecoding, batch: PointBatch) -> float:
    """The fraction of examples sorted exactly (greedy)."""
    got = outputs(decode(model, batch))
    want = [row[: int(n)].tolist() for row, n in zip(batch.targets, batch.target_lengths)]
    return float(np.mean([g == w for g, w in zip(got, want)]))


def hull_metrics(model: PointerDecoding, batch: PointBatch, mask_chosen: bool | None = None,
                 beam_size: int = 1) -> dict[str, float]:
    """Exact accuracy (the hull's polygon), mean area coverage (non-simple polygons cover 0), the fraction of
    outputs that are not simple polygons, and the mean count of repeated positions (greedy, or the most probable
    output of a beam of ``beam_size``)."""
    pointed = decode(model, batch, beam_size=beam_size, mask_chosen=mask_chosen)
    got = outputs(pointed)
    exact, coverage, failed = [], [], []
    for b, output in enumerate(got):
        points = batch.points[b, : int(batch.lengths[b])].double().numpy()
        hull = batch.targets[b, : int(batch.target_lengths[b])].tolist()
        exact.append(same_polygon(output, hull))
        covered = geometry.hull_coverage(points, output)
        coverage.append(covered)
        failed.append(covered == 0.0)
    repeats = repeated_indices(pointed.indices, pointed.lengths, closes=True).float()
    return {"accuracy": float(np.mean(exact)), "coverage": float(np.mean(coverage)),
            "not_simple": float(np.mean(failed)), "repeats": float(repeats.mean())}


def tsp_metrics(model: PointerDecoding, batch: PointBatch, beam_size: int = 1,
                mask_chosen: bool | None = None) -> dict[str, float]:
    """Mean tour length of the model's valid tours, of the targets' tours on the same examples, their ratio, and
    the fraction of outputs that are not tours (a position repeated or missing)."""
    pointed = decode(model, batch, beam_size=beam_size, mask_chosen=mask_chosen)
    got = outputs(pointed)
    mine, reference, invalid = [], [], 0
    for b, output in enumerate(got):
        n = int(batch.lengths[b])
        points = batch.points[b : b + 1, :n].double().numpy()
        if sorted(output) != list(range(n)):
            invalid += 1
            continue
        mine.append(geometry.tour_lengths(points, np.array([output]))[0])
        reference.append(geometry.tour_lengths(points, batch.targets[b : b + 1, :n].numpy())[0])
    if not mine:
        return {"length": float("nan"), "reference": float("nan"), "ratio": float("nan"), "invalid": 1.0}
    return {"length": float(np.mean(mine)), "reference": float(np.mean(reference)),
            "ratio": float(np.mean(np.array(mine) / np.array(reference))), "invalid": invalid / len(got)}


def evaluate(model: PointerDecoding, config: dict[str, Any], seed: int) -> dict[str, float]:
    """The recipe's measures on fresh examples of every size in ``config["test_sizes"]``."""
    task, _ = TASKS[config["task"]]
    count = config.get("test_count", 500)
    metrics: dict[str, float] = {}
    for n in config["test_sizes"]:
        batch = task(count, n, seed=seed + n)
        if config["task"] == "sorting":
            metrics[f"accuracy_{n}"] = sorting_accuracy(model, batch)
        elif config["task"] == "hull":
            found = hull_metrics(model, batch)
            for name in ("accuracy", "coverage", "repeats"):
                metrics[f"{name}_{n}"] = found[name]
        else:
            for beam_size, kind in ((1, "greedy"), (config.get("beam_size", 1), "beam")):
                found = tsp_metrics(model, batch, beam_size=beam_size)
                metrics[f"ratio_{kind}_{n}"], metrics[f"invalid_{kind}_{n}"] = found["ratio"], found["invalid"]
    return metrics


def learning_rate(config: dict[str, Any], step: int) -> float:
    """The learning rate of step ``step`` (from 0): ``config["lr"]`` halved every ``config["halve_every"]`` steps,
    or, with ``config["schedule"]`` "cosine", decayed from ``lr`` to 0 over ``config["steps"]`` along half a cosine
    (Loshchilov & Hutter 2017, without restarts)."""
    if config.get("schedule") == "cosine":
        return config["lr"] * 0.5 * (1 + math.cos(math.pi * step / config["steps"]))
    return config["lr"] * 0.5 ** (step // config["halve_every"])


def training_batches(config: dict[str, Any]) -> Callable[[torch.Generator], PointBatch]:
    """Batches of ``config["batch_size"]`` examples with n in ``config["train_sizes"]`` (an inclusive range): each
    example's n drawn uniformly, or, with ``config["size_power"]`` = p, one n per batch drawn with probability
    proportional to n ** p (p > 0 trains more on the larger sets). One size per batch pads nothing, so a batch of
    small sets costs less than one padded to the largest."""
    task, _ = TASKS[config["task"]]
    low, high = config["train_sizes"]
    if "size_power" not in config:
        return lambda g: task(config["batch_size"], (low, high), seed=g)
    sizes = torch.arange(low, high + 1)
    weights = sizes.double() ** config["size_power"]
    return lambda g: task(config["batch_size"], int(sizes[torch.multinomial(weights, 1, generator=g)]), seed=g)


def train(config: dict[str, Any], seed: int, progress: bool = True) -> tuple[PointerDecoding, dict[str, Any]]:
    """Train on ``training_batches(config)`` for ``config["steps"]`` steps with Adam at ``learning_rate(config,
    step)``. Returns the model and the facts a zoo manifest records."""
    torch.manual_seed(seed)
    model = build(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    with one_thread():  # the CPU seconds of the floors are one thread's
        start = time.process_time()
        history: History = fit(model, pointer_loss, training_batches(config), steps=config["steps"],
                               optimizer=optimizer, lr_schedule=lambda step: learning_rate(config, step - 1), seed=seed,
                               progress=progress, desc=f"pointer network ({config['task']})")
        cpu_seconds = time.process_time() - start
    facts = {"steps": history.steps, "cpu_seconds": round(cpu_seconds, 1),
             "final_loss": round(sum(r["loss"] for r in history.train[-50:]) / len(history.train[-50:]), 4)}
    return model, facts


# --- the baseline: chapter 3's sequence-to-sequence model with a fixed vocabulary of positions ----------------------
def position_vocabulary_batch(batch: PointBatch, positions: int) -> Batch:
    """A sorting batch as token ids for ``attnmem.seq2seq``: each number k/100 is the source word k, each output
    position p < ``positions`` the target word p (after the four special words); a position the vocabulary cannot
    name becomes ``<unk>``, so it can never be output correctly."""
    specials = len(Vocab.SPECIALS)
    rows = range(batch.points.shape[0])
    sources = [[round(float(v) * SORT_VALUES) + specials for v in batch.points[b, : int(batch.lengths[b]), 0]] +
               [Vocab.EOS] for b in rows]
    targets = [[p + specials if p < positions else Vocab.UNK for p in batch.targets[b, : int(batch.target_lengths[b])].tolist()]
               for b in rows]

    def pad(sequences: list[list[int]]) -> Tensor:
        out = torch.full((len(sequences), max(len(x) for x in sequences)), Vocab.PAD, dtype=torch.long)
        for b, x in enumerate(sequences):
            out[b, : len(x)] = torch.tensor(x)
        return out

    src = pad(sources)
    tgt_out = pad([t + [Vocab.EOS] for t in targets])
    return Batch(src, torch.tensor([len(x) for x in sources]), src != Vocab.PAD, pad([[Vocab.BOS] + t for t in targets]),
                 tgt_out, tgt_out != Vocab.PAD)


def position_vocabulary_accuracy(model: Seq2Seq, batch: PointBatch, positions: int) -> float:
    """The fraction of examples the sequence-to-sequence model sorts exactly (greedy, then compared with the
    positions themselves: an example whose answer needs a position the vocabulary lacks is never right)."""
    tokens = position_vocabulary_batch(batch, positions)
    ids, _ = greedy_batch(model, tokens.src, tokens.src_lengths, max_length=int(batch.lengths.max()) + 1)
    specials = len(Vocab.SPECIALS)
    right = []
    for b in range(ids.shape[0]):
        want = batch.targets[b, : int(batch.target_lengths[b])].tolist() + [Vocab.EOS - specials]
        got = (ids[b, : len(want)] - specials).tolist()
        right.append(got == want)
    return float(np.mean(right))
