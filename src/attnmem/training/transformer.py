"""Training and evaluating the chapter 10 Transformer on the synthetic translation task.

Evaluation is chapter 3's (``attnmem.seq2seq.evaluate_pairs`` and ``accuracy_by_length``: greedy decoding, exact
match and BLEU on the same test sentences), so the Transformer and the recurrent models are scored alike.
"""
from __future__ import annotations

import time
from typing import Any

import torch
from torch import Tensor

from attnmem.seq2seq import accuracy_by_length, evaluate_pairs
from attnmem.tasks.translation import Batch, SyntheticTranslation, Vocab, alignment, parse, sample_pairs
from attnmem.training import fit
from attnmem.transformer import Transformer, build_transformer, label_smoothed_loss

__all__ = ["transformer_loss", "learning_rate", "train_transformer", "evaluate_transformer", "head_agreement",
           "agreement_pairs"]


def transformer_loss(model: Transformer, batch: Batch, smoothing: float = 0.1) -> tuple[Tensor, dict[str, float]]:
    """Label-smoothed cross-entropy of the teacher-forced predictions, and token accuracy."""
    logits = model(batch.src, batch.src_lengths, batch.tgt_in).logits
    correct = (logits.argmax(-1) == batch.tgt_out) & batch.tgt_mask
    loss = label_smoothed_loss(logits, batch.tgt_out, smoothing, Vocab.PAD)
    return loss, {"token_acc": float(correct.sum()) / max(1, int(batch.tgt_mask.sum()))}


def learning_rate(step: int, peak: float, warmup: int, steps: int) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then linear decay to ``peak / 10`` at ``steps``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * (1 - 0.9 * (step - warmup) / max(1, steps - warmup))


def train_transformer(config: dict[str, Any], seed: int, progress: bool = True) -> tuple[Transformer, dict[str, Any]]:
    """Train ``build_transformer(config)`` on fresh synthetic batches of ``min_length``..``max_length`` words.

    Adam with the paper's betas (0.9, 0.98); ``learning_rate`` sets each step's rate. Every ``eval_every`` steps
    exact match is measured on 100 held-out sentences of the training lengths (seed ``seed + 1000``, as chapter 3's
    recipes do) and the best weights are kept. ``config["cpu_budget"]`` (seconds of CPU time, optional) stops
    training at the first evaluation past it. The curve returned holds (step, CPU seconds, exact match): CPU time,
    because wall time depends on what else the machine is doing.
    """
    task = SyntheticTranslation(config["min_length"], config["max_length"], clause_counts=config.get("clause_counts",
                                                                                                     "natural"))
    held_out = sample_pairs(100, config["min_length"], config["max_length"], seed + 1000)
    torch.manual_seed(seed)
    model = build_transformer(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"], betas=(0.9, 0.98))
    start, steps_done = time.process_time(), [0]
    curve: list[list[float]] = []
    best: dict[str, Any] = {"exact": -1.0}
    smoothing, budget = config.get("label_smoothing", 0.1), config.get("cpu_budget")

    def loss_fn(model: Transformer, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(steps_done[0], config["lr"], config.get("warmup", 100), config["steps"])
        steps_done[0] += 1
        return transformer_loss(model, batch, smoothing)

    def evaluate(model: Transformer) -> dict[str, float]:
        exact = evaluate_pairs(model, held_out, task.src_vocab, task.tgt_vocab)["exact_match"]
        seconds = time.process_time() - start
        curve.append([steps_done[0], round(seconds, 1), exact])
        if exact >= best["exact"]:
            best.update(exact=exact, step=steps_done[0],
                        state={k: v.detach().clone() for k, v in model.state_dict().items()})
        over_budget = budget is not None and seconds >= budget
        return {"exact_match": exact, "stop": float(exact >= 1.0 and steps_done[0] >= config.get("min_steps", 0)
                                                    or over_budget)}

    from attnmem.training import Target

    history = fit(model, loss_fn, task.batches(config["batch_size"]), steps=config["steps"], optimizer=optimizer,
                  seed=seed, progress=progress, evaluate=evaluate, eval_every=config["eval_every"],
                  target=Target("stop", 1.0), desc=f"transformer ({config.get('positions', 'sinusoidal')})")
    model.load_state_dict(best["state"])
    return model, {"steps": history.steps, "final_loss": round(history.train[-1]["loss"], 5),
                   "cpu_seconds": round(time.process_time() - start, 1), "training_curve": curve,
                   "kept_step": best["step"]}


def evaluate_transformer(model: Transformer, config: dict[str, Any], seed: int) -> dict[str, float]:
    """Chapter 3's measures: exact match and BLEU over the training lengths, exact match at the longest training
    length and at 1.5x and 2x it (greedy decoding)."""
    longest, n = config["max_length"], config.get("eval_n", 300)
    task = SyntheticTranslation()
    in_range = evaluate_pairs(model, sample_pairs(n, config["min_length"], longest, seed), task.src_vocab,
                              task.tgt_vocab)
    lengths = [longest, int(1.5 * longest), 2 * longest]
    at = accuracy_by_length(model, lengths, n, seed)
    return {"exact_match": in_range["exact_match"], "bleu": in_range["bleu"],
            **{f"exact_match_len{length}": at[length]["exact_match"] for length in lengths}}


def head_agreement(weights: Tensor, gold: Tensor, mask: Tensor) -> Tensor:
    """How often each head's strongest source word is the gold-aligned one: ``weights`` (B, H, T, S) cross-attention,
    ``gold`` (B, T) the aligned source position of each target word (-1 where none), ``mask`` (B, T) real positions.
    Returns (H,) the fraction of scored target words whose argmax is the gold position."""
    scored = mask & (gold >= 0)
    hits = (weights.argmax(-1) == gold.unsqueeze(1)) & scored.unsqueeze(1)
    return hits.sum((0, 2)).float() / scored.sum().clamp_min(1)


def agreement_pairs(sentence: str) -> list[tuple[int, int]]:
    """(target position of each verb, source position of its subject's noun): the verb's ending agrees with that
    noun's class, which in the translation sits before the whole object phrase."""
    aligned, pairs, at = alignment(sentence), [], 0
    for i, clause in enumerate(parse(sentence)):
        at += 1 if i else 0  # the "and" before it
        noun = at + len(clause.subject.source()) - 1
        verb = at + len(clause.subject.source()) + (clause.adverb is not None)
        pairs.append((aligned.index(verb), noun))
        at += len(clause.source())
    return pairs
