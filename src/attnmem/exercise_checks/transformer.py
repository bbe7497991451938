"""Checkers for chapter 10, the Transformer (Vaswani et al. 2017).

- ``ex-10-multihead``: multi-head attention from single-head pieces (Sec. 3.2.2), output and every head's weights,
  compared with ``attnmem.transformer.multi_head_attention``;
- ``ex-10-causal``: the decoder's causal mask (Sec. 3.2.3);
- ``ex-10-sinusoidal``: the sinusoidal positional encoding (Sec. 3.5).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from attnmem.exercises import Mismatch, call, exercise, expect_close, expect_distribution, expect_gradient, projection
from attnmem.transformer import (
    MultiHeadAttention,
    Positions,
    causal_mask,
    merge_heads,
    multi_head_attention,
    sinusoidal_encoding,
    split_heads,
)

__all__: list[str] = []


def _linear(weight: Tensor) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    layer.weight = nn.Parameter(weight.T.contiguous(), requires_grad=False)
    return layer


def _multi_head_reference(queries: Tensor, memory: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor, w_o: Tensor,
                          heads: int, mask: Tensor | None) -> tuple[Tensor, Tensor]:
    """x @ W for each (d_model, d_model) matrix, then the package's multi-head attention."""
    out = multi_head_attention(queries, memory, *(_linear(w) for w in (w_q, w_k, w_v, w_o)), heads, mask)
    return out.context, out.weights


def _multi_head_cases(generator: torch.Generator) -> list[dict[str, Any]]:
    def randn(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=generator)

    def weights(d: int) -> dict[str, Tensor]:
        return {name: randn(d, d) / math.sqrt(d) for name in ("w_q", "w_k", "w_v", "w_o")}

    padded = torch.tensor([5, 3, 1])
    return [
        {"queries": randn(2, 4, 8), "memory": randn(2, 6, 8), **weights(8), "heads": 2, "mask": None},
        {"queries": randn(3, 4, 12), "memory": randn(3, 5, 12), **weights(12), "heads": 3,
         "mask": (torch.arange(5) < padded.unsqueeze(1))[:, None, None, :]},
        {"queries": randn(1, 5, 8), "memory": randn(1, 5, 8), **weights(8), "heads": 4,
         "mask": torch.ones(5, 5, dtype=torch.bool).tril()},
        {"queries": randn(2, 3, 6), "memory": randn(2, 7, 6), **weights(6), "heads": 1, "mask": None},
    ]


@exercise(
    "ex-10-multihead",
    function="my_multi_head",
    title="Multi-head attention from single-head pieces",
    checks=(
        "two, three, four heads and one head",
        "a padding mask (B, 1, 1, S) and a causal mask (T, T)",
        "every head's weights (B, heads, queries, keys) are distributions, zero at masked keys",
        "the output after the output projection W^O",
        "gradients reach the queries and the projection matrices",
    ),
    forbidden=(multi_head_attention, MultiHeadAttention, split_heads, merge_heads),
)
def _check_multi_head(fn: Callable[..., Any]) -> None:
    generator = torch.Generator().manual_seed(2017)
    for inputs in _multi_head_cases(generator):
        got = call(fn, **inputs)
        if not isinstance(got, tuple) or len(got) != 2:
            raise Mismatch(f"my_multi_head should return two things, (output, weights); it returned "
                           f"{type(got).__name__}")
        output, weights = got
        expected_output, expected_weights = _multi_head_reference(**inputs)
        d = inputs["queries"].shape[-1] // inputs["heads"]
        expect_close(weights, expected_weights, "your attention weights", inputs, slips={
            "scale the scores by 1 / sqrt(d_k), where d_k = d_model / heads is the size of one head, not d_model.":
                _scaled_weights(inputs, math.sqrt(inputs["queries"].shape[-1]) / math.sqrt(d)),
            "each head needs the scale 1 / sqrt(d_k): without it the scores are too large.":
                _scaled_weights(inputs, 1 / math.sqrt(d)),
        } if inputs["heads"] > 1 else None)
        expect_distribution(weights.detach(), "your attention weights", inputs)
        expect_close(output, expected_output, "your outputs", inputs)
    inputs = _multi_head_cases(generator)[1]
    leaves = {"queries": inputs["queries"].requires_grad_(True), "w_q": inputs["w_q"].requires_grad_(True)}
    output, _ = call(fn, **inputs)
    expect_gradient(output * projection(output.shape, 3), "your outputs", leaves)


def _scaled_weights(inputs: dict[str, Any], factor: float) -> Tensor:
    """The weights a reader gets when the scores are multiplied by ``factor`` on the way."""
    heads, mask = inputs["heads"], inputs["mask"]
    q = split_heads(inputs["queries"] @ inputs["w_q"], heads)
    k = split_heads(inputs["memory"] @ inputs["w_k"], heads)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) * factor
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(-1)


@exercise(
    "ex-10-causal",
    function="my_causal_mask",
    title="The causal mask",
    checks=("a bool tensor (length, length)", "True where a position may look: itself and the positions before it",
            "lengths 1, 2, 5 and 30"),
    forbidden=(causal_mask,),
)
def _check_causal(fn: Callable[..., Any]) -> None:
    for length in (1, 2, 5, 30):
        inputs = {"length": length}
        got = call(fn, **inputs)
        if not isinstance(got, Tensor) or got.dtype != torch.bool:
            raise Mismatch(f"for length {length} my_causal_mask returned "
                           f"{got.dtype if isinstance(got, Tensor) else type(got).__name__}; it should be a bool "
                           f"tensor (True = may look), as masked_softmax expects")
        expected = causal_mask(length)
        expect_close(got.float(), expected.float(), "your mask", inputs, slips={
            "row i is the query and column j the key: position i may look at j <= i (lower triangle), not j >= i.":
                expected.T.float(),
            "a position may look at itself too: keep the diagonal.": expected.tril(-1).float(),
        })


@exercise(
    "ex-10-sinusoidal",
    function="my_sinusoidal",
    title="The sinusoidal positional encoding",
    checks=("shape (length, d_model)", "sine in the even columns, cosine in the odd ones",
            "wavelengths 10000^(2i/d_model)", "several lengths and widths"),
    forbidden=(sinusoidal_encoding, Positions),
)
def _check_sinusoidal(fn: Callable[..., Any]) -> None:
    for length, d_model in ((5, 4), (50, 16), (1, 2), (120, 64)):
        inputs = {"length": length, "d_model": d_model}
        got = call(fn, **inputs)
        expected = sinusoidal_encoding(length, d_model)
        position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
        i = torch.arange(0, d_model, 2, dtype=torch.float32)
        halves = torch.cat([torch.sin(position / 10000 ** (i / d_model)), torch.cos(position / 10000 ** (i / d_model))],
                           1)
        swapped = torch.empty_like(expected)
        swapped[:, 0::2], swapped[:, 1::2] = expected[:, 1::2], expected[:, 0::2]
        every = torch.empty_like(expected)
        every[:, 0::2] = torch.sin(position / 10000 ** (2 * i / d_model))
        every[:, 1::2] = torch.cos(position / 10000 ** (2 * i / d_model))
        expect_close(got, expected, "your encodings", inputs, atol=1e-4, slips={
            "interleave: column 2i holds the sine and column 2i+1 the cosine of the same frequency, not all sines "
            "then all cosines.": halves,
            "sine in the even columns (2i), cosine in the odd ones (2i+1).": swapped,
            "the exponent is 2i/d_model where 2i is the even column's index; you doubled it.": every,
        })
