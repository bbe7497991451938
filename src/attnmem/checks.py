"""Argument checks for the functions the chapters show, kept apart so that those functions read as their equations.

Each shown function starts with one call here (``checks.shift_arguments(weights, shift_weights)``), then the maths.
A check raises a ``ValueError`` or ``TypeError`` that says what was wrong and how to fix it; it never changes a
value.
"""
from __future__ import annotations

import math

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
    "memnet_config",
    "memnet_inputs",
    "MAX_MODEL_NUMBERS",
    "MAX_LOOP_STEPS",
    "model_numbers",
    "loop_bounds",
    "token_ids",
    "token_lists",
    "expression_inputs",
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


def softmax_arguments(scores: Tensor, mask: Tensor | None, dim: int = -1) -> None:
    """Scores are floating point with at least one position along ``dim``; a mask is boolean and broadcasts."""
    if not isinstance(scores, Tensor) or not scores.is_floating_point():
        raise TypeError("scores must be a floating point torch.Tensor")
    if scores.dim() == 0 or scores.shape[dim] == 0:
        raise AttentionShapeError(f"scores {shape_text(scores)} have no positions along dim {dim}: a softmax needs "
                                  f"at least one position to weigh (is the source or the memory empty?)")
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
    if keys.shape[-2] == 0:
        raise AttentionShapeError(f"keys {shape_text(keys)} have no positions: attention needs at least one key "
                                  f"to look at")
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


# ---- memory networks (chapter 5) ----------------------------------------------------------------------------


def memnet_config(vocab_size: int, dim: int, hops: int, memory_size: int, encoding: str, tying: str,
                  position_scale: float = 2.0) -> None:
    """A memory network's sizes are positive, its encoding and tying are ones the paper names, its position
    weights have a finite positive scale, and it fits."""
    if isinstance(position_scale, bool) or not isinstance(position_scale, (int, float)) \
            or not math.isfinite(position_scale) or position_scale <= 0:
        raise ValueError(f"position_scale multiplies the position weights l_kj; it must be a finite positive number "
                         f"(1: the paper's printed weights, 2: the authors' released code), got {position_scale!r}")
    if encoding not in ("bow", "position"):
        raise ValueError(f"encoding must be one of ('bow', 'position'), got {encoding!r}")
    if tying not in ("adjacent", "layerwise"):
        raise ValueError(f"tying must be one of ('adjacent', 'layerwise'), got {tying!r}")
    positive_sizes(vocab_size=vocab_size, dim=dim, hops=hops, memory_size=memory_size)
    model_numbers("this memory network", (hops + 1) * (vocab_size + memory_size) * dim + vocab_size * dim + dim * dim,
                  "use a smaller vocab_size, dim, hops or memory_size")


def memnet_inputs(memory: Tensor, memory_mask: Tensor, times: Tensor, query: Tensor, vocab_size: int) -> None:
    """A batch of stories and questions as ``attnmem.tasks.babi.BabiBatch`` holds them, in the model's vocabulary."""
    if not isinstance(memory, Tensor) or memory.dim() != 3:
        raise ValueError(f"memory must be (batch, slots, words) word indices, got shape {shape_text(memory)}")
    batch, slots, _ = memory.shape
    if not isinstance(memory_mask, Tensor) or memory_mask.shape != (batch, slots) or memory_mask.dtype != torch.bool:
        raise ValueError(f"memory_mask must be a bool tensor of shape {(batch, slots)}, got "
                         f"{shape_text(memory_mask)} {getattr(memory_mask, 'dtype', '')}")
    if not isinstance(times, Tensor) or times.shape != (batch, slots) or times.dtype != torch.long:
        raise ValueError(f"times must be a torch.long tensor of shape {(batch, slots)} like the memory slots, got "
                         f"{shape_text(times)} {getattr(times, 'dtype', '')}")
    if not isinstance(query, Tensor) or query.dim() != 2 or query.shape[0] != batch:
        raise ValueError(f"query must be (batch, words) with batch {batch}, got shape {shape_text(query)}")
    for name, t in (("memory", memory), ("query", query)):
        if t.dtype != torch.long:
            raise TypeError(f"{name} must hold word indices (torch.long), got {t.dtype}")
        token_ids(name, t, vocab_size, "model's")
    if times.numel() and int(times.min()) < 0:
        raise ValueError(f"times holds {int(times.min())}; a slot's age counts back from 0 (the latest sentence)")


# ---- sizes and loops with a stated limit --------------------------------------------------------------------

#: The most numbers a model may hold: its parameters, or the memory of one sequence for an NTM. 10**8 is 400 MB as
#: float32, over a hundred times the book's largest model; a config past it is a slip (``hidden=10**6``), refused
#: before anything is allocated.
MAX_MODEL_NUMBERS = 10**8

#: The most steps allowed to a loop that waits for an end token or a halting unit (``max_length`` of greedy and beam
#: decoding, ``max_steps`` of ACT's pondering, ``steps`` of the fixed-step baseline), so that a model that never ends
#: stops after a bounded time.
MAX_LOOP_STEPS = 10_000


def model_numbers(what: str, numbers: int, fix: str) -> None:
    """Refuse a model of more than ``MAX_MODEL_NUMBERS`` numbers before it is built; ``fix`` says what to shrink."""
    if numbers > MAX_MODEL_NUMBERS:
        raise ValueError(f"{what} would hold about {numbers:,} numbers ({numbers * 4 / 2**30:,.1f} GiB as float32), "
                         f"over the limit of {MAX_MODEL_NUMBERS:,} (attnmem.checks.MAX_MODEL_NUMBERS); {fix}")


def loop_bounds(**values: int) -> None:
    """Each value is a positive int of at most ``MAX_LOOP_STEPS`` (``loop_bounds(max_length=100)``)."""
    positive_sizes(**values)
    for name, value in values.items():
        if value > MAX_LOOP_STEPS:
            raise ValueError(f"{name}={value:,} is over the limit of {MAX_LOOP_STEPS:,} steps "
                             f"(attnmem.checks.MAX_LOOP_STEPS); a loop that waits for an end token or a halting "
                             f"unit needs a bound it can reach")


def token_ids(name: str, ids: Tensor, vocab_size: int, vocabulary: str) -> None:
    """Every id in ``ids`` is a valid index of a vocabulary of ``vocab_size`` tokens (``vocabulary`` names it)."""
    if ids.numel() == 0:
        return
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= vocab_size:
        wrong = low if low < 0 else high
        raise ValueError(f"{name} holds id {wrong}, outside the {vocabulary} vocabulary of {vocab_size} tokens "
                         f"(ids 0..{vocab_size - 1}); encode with the vocabulary the model was built for")


def token_lists(name: str, rows: object) -> None:
    """``rows`` is a sequence of token lists, not of strings (a string would be scored letter by letter)."""
    for i, row in enumerate(rows):  # type: ignore[attr-defined]
        if isinstance(row, str) or not all(isinstance(token, str) for token in row):
            raise TypeError(f"{name}[{i}] must be a list of tokens (strings), got {row!r}; split a sentence into "
                            f"its words first: sentence.split()")


def expression_inputs(tokens: object, values: object, variable_ids: list[int]) -> None:
    """Expressions (B, L) of token ids, each with at least one variable, and their values (B, len(variable_ids))."""
    count = len(variable_ids)
    if not (isinstance(tokens, Tensor) and isinstance(values, Tensor) and tokens.dim() == 2
            and values.shape == (tokens.shape[0], count)):
        raise ValueError(f"need tokens (B, L) and values (B, {count}); got {shape_text(tokens)} and "
                         f"{shape_text(values)}")
    has_variable = torch.isin(tokens, torch.tensor(variable_ids)).any(-1)
    if not bool(has_variable.all()):
        row = int((~has_variable).nonzero()[0])
        raise ValueError(f"expression {row} of the batch has no variable (it is all padding or operators): a "
                         f"program takes its operands from the variables, so every expression needs one")
