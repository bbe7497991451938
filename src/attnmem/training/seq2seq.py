"""Training the chapter 2-4 encoder-decoders on the synthetic translation task, and the zoo's measurement of them."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from attnmem.seq2seq import Seq2Seq, accuracy_by_length, build_model, evaluate_pairs, sequence_loss
from attnmem.tasks.translation import SyntheticTranslation, sample_pairs
from attnmem.training import fit

__all__ = ["train_synthetic", "evaluate_synthetic"]


def train_synthetic(config: dict[str, Any], seed: int, progress: bool = True) -> tuple[Seq2Seq, dict[str, Any]]:
    """Train ``build_model(config)`` on fresh synthetic batches (lengths ``min_length``..``max_length``).

    ``config["clause_counts"]`` (default ``"natural"``) says how training sentences are drawn: ``"even"`` spreads the
    number of clauses evenly over what each length allows, so the many-clause sentences that make up most long
    test sentences are not rare in training (``tasks.translation.sample_clauses``). Test sentences stay natural.

    The learning rate decays linearly from ``lr`` to ``lr / 10`` over the run. Every ``eval_every`` steps exact
    match is measured on 100 held-out (natural) sentences of the training lengths (a validation set: its seed is not the
    zoo tests with); the weights with the best score are kept. The facts returned keep that curve (step, seconds,
    exact match), so time-to-quality can be read off the manifest.
    """
    order, reverse = config.get("order", "reordered"), config.get("reverse_source", False)
    task = SyntheticTranslation(config["min_length"], config["max_length"], order, reverse,
                                config.get("clause_counts", "natural"))
    held_out = sample_pairs(100, config["min_length"], config["max_length"], seed + 1000, order)
    torch.manual_seed(seed)
    model = build_model(config)

    def evaluate(model: nn.Module) -> dict[str, float]:
        return {"exact_match": evaluate_pairs(model, held_out, task.src_vocab, task.tgt_vocab, reverse)["exact_match"]}

    history = fit(model, sequence_loss, task.batches(config["batch_size"]), steps=config["steps"], lr=config["lr"],
                  lr_schedule=lambda step: config["lr"] * (1 - 0.9 * (step - 1) / config["steps"]), seed=seed,
                  progress=progress, evaluate=evaluate, eval_every=config["eval_every"], keep_best="exact_match",
                  desc=f"seq2seq ({config['attention']})")
    curve = [[e["step"], round(seconds, 1), e["exact_match"]]
             for e, seconds in zip(history.evals, history.eval_seconds)]
    return model, {"steps": history.steps, "final_loss": round(history.train[-1]["loss"], 5),
                   "training_curve": curve, "kept_step": history.best_step}


def evaluate_synthetic(model: Seq2Seq, config: dict[str, Any], seed: int) -> dict[str, float]:
    """Exact match over training lengths, at the longest training length, and at 1.5x it; BLEU over the range."""
    order, reverse = config.get("order", "reordered"), config.get("reverse_source", False)
    task = SyntheticTranslation(order=order, reverse_source=reverse)
    longest, n = config["max_length"], config.get("eval_n", 300)
    pairs = sample_pairs(n, config["min_length"], longest, seed, order)
    in_range = evaluate_pairs(model, pairs, task.src_vocab, task.tgt_vocab, reverse)
    at = accuracy_by_length(model, [longest, int(1.5 * longest)], n, seed, order, reverse)
    return {"exact_match": in_range["exact_match"], "bleu": in_range["bleu"],
            f"exact_match_len{longest}": at[longest]["exact_match"],
            f"exact_match_len{int(1.5 * longest)}": at[int(1.5 * longest)]["exact_match"]}
