"""Argument checks for the functions the chapters show, kept apart so that those functions read as their equations.

Each shown function starts with one call here (``checks.shift_arguments(weights, shift_weights)``), then the maths.
A check raises a ``ValueError`` or ``TypeError`` that says what was wrong and how to fix it; it never changes a
value.
"""
from __future__ import annotations

import torch
from torch import Tensor

from attnmem.tasks import check_positive

__all__ = [
    "AttentionShapeError",
    "shape_text",
    "positive_sizes",
    "sequence",
    "query_and_keys",
    "softmax_arguments",
    "general_weight",
    "additive_weights",
    "keys_and_values",
    "content_arguments",
    "interpolation_arguments",
    "shift_arguments",
    "sharpening_arguments",
    "read_arguments",
    "write_arguments",
    "step_inputs",
]

#: Every positive-size check in the package is this one (``positive_sizes(batch_size=0)`` raises, naming the size).
positive_sizes = check_positive


class AttentionShapeError(ValueError):
    """Raised when the tensors given to an attention function do not fit together."""


def shape_text(t: object) -> str:
    """A tensor's shape as ``(2, 3)``, or the type of anything that is not a tensor."""
    return "(" + ", ".join(str(s) for s in t.shape) + ")" if isinstance(t, Tensor) else type(t).__name__


# ---- attention (chapter 1) ----------------------------------------------------------------------------------


def sequence(name: str, t: object, meaning: str) -> None:
    """``t`` is a floating point tensor with at least two dimensions, ``meaning`` in words."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {meaning}, got {type(t).__name__}")
    if t.dim() < 2:
        raise AttentionShapeError(
            f"{name} has shape {shape_text(t)} but needs at least two dimensions {meaning}; "
            f"for a single vector use {name}.unsqueeze(0)"
        )
    if not t.is_floating_point():
        raise TypeError(f"{name} must hold floating point numbers, got dtype {t.dtype}; use {name}.float()")


def query_and_keys(query: Tensor, keys: Tensor, *, same_size: bool) -> None:
    """Query and keys are sequences whose batch dimensions broadcast (and whose sizes agree, for dot scores)."""
    sequence("query", query, "(..., queries, d_query)")
    sequence("keys", keys, "(..., positions, d_key)")
    if same_size and query.shape[-1] != keys.shape[-1]:
        raise AttentionShapeError(
            f"query has {query.shape[-1]} features per vector but keys have {keys.shape[-1]}: dot-product "
            f"scores need equal sizes (query {shape_text(query)}, keys {shape_text(keys)}); "
            f"use general_scores or additive_scores to compare vectors of different sizes"
        )
    try:
        torch.broadcast_shapes(query.shape[:-2], keys.shape[:-2])
    except RuntimeError:
        raise AttentionShapeError(
            f"the batch dimensions of query {shape_text(query)} and keys {shape_text(keys)} do not broadcast; "
            f"they must agree on everything but the last two dimensions"
        ) from None


def softmax_arguments(scores: Tensor, mask: Tensor | None) -> None:
    """Scores are floating point; a mask is boolean and broadcasts to them."""
    if not isinstance(scores, Tensor) or not scores.is_floating_point():
        raise TypeError("scores must be a floating point torch.Tensor")
    if mask is None:
        return
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(f"mask must be a bool tensor (True = visible), got {got}; use mask.bool()")
    try:
        torch.broadcast_shapes(mask.shape, scores.shape)
    except RuntimeError:
        raise AttentionShapeError(
            f"mask of shape {shape_text(mask)} does not broadcast to the scores {shape_text(scores)}; "
            f"a key-padding mask usually has shape (batch, 1, positions)"
        ) from None


def general_weight(query: Tensor, keys: Tensor, weight: Tensor) -> None:
    """Bilinear scores: ``weight`` is ``(d_query, d_key)``."""
    query_and_keys(query, keys, same_size=False)
    expected = (query.shape[-1], keys.shape[-1])
    if weight.dim() != 2 or tuple(weight.shape) != expected:
        raise AttentionShapeError(
            f"weight has shape {shape_text(weight)} but must be (d_query, d_key) = {expected} "
            f"for query {shape_text(query)} and keys {shape_text(keys)}"
        )


def additive_weights(query: Tensor, keys: Tensor, w_query: Tensor, w_key: Tensor, v: Tensor) -> None:
    """Additive scores: ``w_query`` (d_query, hidden), ``w_key`` (d_key, hidden), ``v`` (hidden,)."""
    query_and_keys(query, keys, same_size=False)
    hidden = v.shape[-1] if v.dim() == 1 else None
    if (hidden is None or tuple(w_query.shape) != (query.shape[-1], hidden)
            or tuple(w_key.shape) != (keys.shape[-1], hidden)):
        raise AttentionShapeError(
            f"additive scores need w_query (d_query, hidden), w_key (d_key, hidden) and v (hidden,); got "
            f"w_query {shape_text(w_query)}, w_key {shape_text(w_key)}, v {shape_text(v)} for query "
            f"{shape_text(query)} and keys {shape_text(keys)}"
        )


def keys_and_values(keys: Tensor, values: Tensor) -> None:
    """Every key has exactly one value."""
    sequence("values", values, "(..., positions, d_value)")
    sequence("keys", keys, "(..., positions, d_key)")
    if values.shape[-2] != keys.shape[-2]:
        raise AttentionShapeError(
            f"keys have {keys.shape[-2]} positions but values have {values.shape[-2]} "
            f"(keys {shape_text(keys)}, values {shape_text(values)}); every key needs exactly one value"
        )


# ---- neural Turing machine addressing (chapter 6) -----------------------------------------------------------


def content_arguments(memory: Tensor, key: Tensor, beta: Tensor) -> None:
    """Memory (B, N, W), one key (B, H, W) and one strength (B, H) per head."""
    if memory.dim() != 3:
        raise ValueError(f"memory must be (batch, locations, width), got {shape_text(memory)}")
    if not (key.dim() == 3 and key.shape[0] == memory.shape[0] and key.shape[2] == memory.shape[2]):
        raise ValueError(f"key must be (batch, heads, width) = ({memory.shape[0]}, H, {memory.shape[2]}) to match "
                         f"the memory {shape_text(memory)}, got {shape_text(key)}")
    if beta.shape != key.shape[:2]:
        raise ValueError(f"beta must be (batch, heads) = {tuple(key.shape[:2])}, got {shape_text(beta)}")


def interpolation_arguments(content: Tensor, previous: Tensor, gate: Tensor) -> None:
    """Two weightings of one shape (B, H, N) and one gate (B, H) per head."""
    if content.shape != previous.shape:
        raise ValueError(f"content {shape_text(content)} and previous weighting {shape_text(previous)} must have "
                         "the same shape")
    if gate.shape != content.shape[:2]:
        raise ValueError(f"gate must be (batch, heads) = {tuple(content.shape[:2])}, got {shape_text(gate)}")


def shift_arguments(weights: Tensor, shift_weights: Tensor) -> None:
    """A weighting (B, H, N) and a distribution over an odd number 2r + 1 <= 2N + 1 of shifts (B, H, 2r + 1)."""
    if weights.dim() != 3:
        raise ValueError(f"weights must be (batch, heads, locations), got {shape_text(weights)}")
    if not (shift_weights.dim() == 3 and shift_weights.shape[:2] == weights.shape[:2]
            and shift_weights.shape[2] % 2 == 1):
        raise ValueError(f"shift_weights must be (batch, heads, 2r + 1) with batch and heads "
                         f"{tuple(weights.shape[:2])}, got {shape_text(shift_weights)}")
    radius = shift_weights.shape[-1] // 2
    if radius > weights.shape[-1]:
        raise ValueError(f"a shift radius of {radius} needs at least {radius} locations, "
                         f"the weighting has {weights.shape[-1]}")


def sharpening_arguments(weights: Tensor, gamma: Tensor) -> None:
    """One exponent (B, H) per head of the weighting (B, H, N)."""
    if gamma.shape != weights.shape[:2]:
        raise ValueError(f"gamma must be (batch, heads) = {tuple(weights.shape[:2])}, got {shape_text(gamma)}")


def read_arguments(memory: Tensor, weights: Tensor) -> None:
    """Read weightings (B, R, N) over the memory's locations."""
    if not (weights.dim() == 3 and weights.shape[0] == memory.shape[0] and weights.shape[2] == memory.shape[1]):
        raise ValueError(f"read weights must be (batch, heads, locations) matching memory {shape_text(memory)}, "
                         f"got {shape_text(weights)}")


def write_arguments(memory: Tensor, weights: Tensor, erase: Tensor, add: Tensor) -> None:
    """Write weightings (B, W, N) over the memory's locations, and erase and add vectors (B, W, width)."""
    if not (weights.dim() == 3 and weights.shape[0] == memory.shape[0] and weights.shape[2] == memory.shape[1]):
        raise ValueError(f"write weights must be (batch, heads, locations) matching memory {shape_text(memory)}, "
                         f"got {shape_text(weights)}")
    expected = (*weights.shape[:2], memory.shape[2])
    if not (erase.shape == expected and add.shape == expected):
        raise ValueError(f"erase and add must be (batch, heads, width) = {expected}, "
                         f"got {shape_text(erase)} and {shape_text(add)}")


# ---- recurrent models (chapters 7 and 8) --------------------------------------------------------------------


def step_inputs(inputs: object, input_size: int) -> None:
    """A (batch, steps, input_size) tensor with at least one sequence of one step."""
    if not isinstance(inputs, Tensor) or inputs.dim() != 3 or inputs.shape[-1] != input_size:
        raise ValueError(
            f"inputs must be a (batch, steps, {input_size}) tensor, got {shape_text(inputs)}; a single vector x "
            f"of one step is x.view(1, 1, -1), and a model for inputs of another size is built with that size"
        )
    if inputs.shape[0] == 0 or inputs.shape[1] == 0:
        raise ValueError(f"inputs {shape_text(inputs)} are empty: give at least one sequence of one step")
