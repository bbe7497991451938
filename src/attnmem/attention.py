"""Attention as a soft, differentiable lookup.

A query is compared with every key by a *score function*; a softmax turns the scores into weights that are
non-negative and sum to one; the answer is the weighted mean of the values. Every model in the book uses this.

Shapes follow one convention: ``query`` is ``(..., queries, d_query)``, ``keys`` is ``(..., positions, d_key)``,
``values`` is ``(..., positions, d_value)``; scores and weights are ``(..., queries, positions)``; the leading
``...`` batch dimensions must broadcast. A boolean ``mask`` that broadcasts to the scores marks the positions a
query may look at (``True`` = visible).

Score functions (the names of Luong et al. 2015, Section 3.1, and Vaswani et al. 2017, Eq. 1):

- ``dot_scores``         q · k
- ``scaled_dot_scores``  q · k / sqrt(d)
- ``general_scores``     q W k          (Luong's "general", a bilinear form)
- ``additive_scores``    v · tanh(W_q q + W_k k)   (Bahdanau et al. 2015, Eq. 6 / Luong's "concat")
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch
from torch import Tensor, nn

from attnmem import checks
from attnmem.checks import AttentionShapeError

__all__ = [
    "AttentionShapeError",
    "Attended",
    "masked_softmax",
    "dot_scores",
    "scaled_dot_scores",
    "general_scores",
    "additive_scores",
    "attend",
    "DotScore",
    "ScaledDotScore",
    "GeneralScore",
    "AdditiveScore",
    "Attention",
]

ScoreFunction = Callable[[Tensor, Tensor], Tensor]


class Attended(NamedTuple):
    """What attention returns: the context vectors and the weights that made them."""

    context: Tensor  # (..., queries, d_value)
    weights: Tensor  # (..., queries, positions); each row is a distribution (or all zeros if fully masked)


def masked_softmax(scores: Tensor, mask: Tensor | None = None, dim: int = -1) -> Tensor:
    """Softmax over ``dim`` that gives masked positions exactly zero weight.

    ``mask`` is boolean and broadcasts to ``scores``; ``True`` marks a visible position. A row whose positions are
    all masked gets all-zero weights (not NaN), so padding rows are harmless downstream.
    """
    checks.softmax_arguments(scores, mask, dim)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    peak = scores.amax(dim=dim, keepdim=True).detach()
    peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
    exp = torch.exp(scores - peak)
    total = exp.sum(dim=dim, keepdim=True)
    return exp / total.clamp_min(torch.finfo(exp.dtype).tiny)


def dot_scores(query: Tensor, keys: Tensor) -> Tensor:
    """Dot-product scores q · k (Luong et al. 2015, "dot")."""
    checks.query_and_keys(query, keys, same_size=True)
    return query @ keys.transpose(-1, -2)


def scaled_dot_scores(query: Tensor, keys: Tensor) -> Tensor:
    """Scaled dot-product scores q · k / sqrt(d) (Vaswani et al. 2017, Eq. 1)."""
    checks.query_and_keys(query, keys, same_size=True)
    return query @ keys.transpose(-1, -2) / math.sqrt(query.shape[-1])


def general_scores(query: Tensor, keys: Tensor, weight: Tensor) -> Tensor:
    """Bilinear scores q W k (Luong et al. 2015, "general"); ``weight`` has shape ``(d_query, d_key)``."""
    checks.general_weight(query, keys, weight)
    return (query @ weight) @ keys.transpose(-1, -2)


def additive_scores(query: Tensor, keys: Tensor, w_query: Tensor, w_key: Tensor, v: Tensor) -> Tensor:
    """Additive scores v · tanh(W_q q + W_k k) (Bahdanau et al. 2015, Eq. 6; Luong's "concat").

    ``w_query`` is ``(d_query, hidden)``, ``w_key`` is ``(d_key, hidden)`` and ``v`` is ``(hidden,)``.
    """
    checks.additive_weights(query, keys, w_query, w_key, v)
    projected_query = (query @ w_query).unsqueeze(-2)  # (..., Q, 1, H)
    projected_keys = (keys @ w_key).unsqueeze(-3)  # (..., 1, K, H)
    return torch.tanh(projected_query + projected_keys) @ v  # (..., Q, K)


def attend(
    query: Tensor,
    keys: Tensor,
    values: Tensor,
    mask: Tensor | None = None,
    score: ScoreFunction = scaled_dot_scores,
) -> Attended:
    """Soft lookup: score the query against the keys, softmax, and average the values.

    Returns ``Attended(context, weights)``: ``context`` is ``(..., queries, d_value)`` and ``weights`` is
    ``(..., queries, positions)``. ``score`` is any function ``(query, keys) -> scores``, such as
    ``dot_scores`` or a ``GeneralScore`` / ``AdditiveScore`` module.
    """
    checks.keys_and_values(keys, values)
    scores = score(query, keys)
    weights = masked_softmax(scores, mask)
    return Attended(context=weights @ values, weights=weights)


class DotScore(nn.Module):
    """Parameter-free dot-product score, as a module so it can be swapped for the learned ones."""

    def forward(self, query: Tensor, keys: Tensor) -> Tensor:
        return dot_scores(query, keys)


class ScaledDotScore(nn.Module):
    """Parameter-free scaled dot-product score (Vaswani et al. 2017)."""

    def forward(self, query: Tensor, keys: Tensor) -> Tensor:
        return scaled_dot_scores(query, keys)


class GeneralScore(nn.Module):
    """Learned bilinear score q W k (Luong et al. 2015)."""

    def __init__(self, d_query: int, d_key: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(d_query, d_key))
        nn.init.xavier_uniform_(self.weight)

    def forward(self, query: Tensor, keys: Tensor) -> Tensor:
        return general_scores(query, keys, self.weight)


class AdditiveScore(nn.Module):
    """Learned additive score v · tanh(W_q q + W_k k) (Bahdanau et al. 2015)."""

    def __init__(self, d_query: int, d_key: int, hidden: int) -> None:
        super().__init__()
        checks.positive_sizes(d_query=d_query, d_key=d_key, hidden=hidden)
        self.w_query = nn.Parameter(torch.empty(d_query, hidden))
        self.w_key = nn.Parameter(torch.empty(d_key, hidden))
        self.v = nn.Parameter(torch.empty(hidden))
        nn.init.xavier_uniform_(self.w_query)
        nn.init.xavier_uniform_(self.w_key)
        nn.init.uniform_(self.v, -1 / math.sqrt(hidden), 1 / math.sqrt(hidden))

    def forward(self, query: Tensor, keys: Tensor) -> Tensor:
        return additive_scores(query, keys, self.w_query, self.w_key, self.v)


class Attention(nn.Module):
    """``attend`` with a (possibly learned) score module: ``Attention(AdditiveScore(8, 8, 16))(q, k, v, mask)``."""

    def __init__(self, score: nn.Module | None = None) -> None:
        super().__init__()
        self.score = score if score is not None else ScaledDotScore()

    def forward(self, query: Tensor, keys: Tensor, values: Tensor, mask: Tensor | None = None) -> Attended:
        return attend(query, keys, values, mask, score=self.score)
