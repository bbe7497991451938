"""Attention: invariants on random inputs (hypothesis), hand-computed values, gradients and error messages."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attnmem import attention
from attnmem.attention import AttentionShapeError

shapes = st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 7), st.integers(1, 6))


def _tensors(seed: int, batch: int, queries: int, positions: int, d: int, scale: float = 1.0):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(batch, queries, d, generator=g), scale * torch.randn(batch, positions, d, generator=g),
            torch.randn(batch, positions, 3, generator=g), g)


@settings(max_examples=60, deadline=None)
@given(shapes, st.integers(0, 10_000), st.sampled_from([0.01, 1.0, 30.0, 1e4]))
def test_weights_are_distributions_and_respect_the_mask(shape, seed, scale):
    batch, queries, positions, d = shape
    q, k, v, g = _tensors(seed, batch, queries, positions, d, scale)
    mask = torch.rand(batch, 1, positions, generator=g) > 0.4
    for score in (attention.dot_scores, attention.scaled_dot_scores):
        context, weights = attention.attend(q, k, v, mask, score=score)
        assert torch.isfinite(weights).all() and torch.isfinite(context).all()
        assert (weights >= 0).all()
        assert (weights.masked_select(~mask.expand_as(weights)) == 0).all()
        visible_rows = mask.any(-1).expand(batch, queries)
        sums = weights.sum(-1)
        torch.testing.assert_close(sums[visible_rows], torch.ones_like(sums[visible_rows]))
        assert (sums[~visible_rows] == 0).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=9), st.integers(0, 1000))
def test_masked_softmax_never_nan(values, seed):
    scores = torch.tensor(values)
    mask = torch.rand(len(values), generator=torch.Generator().manual_seed(seed)) > 0.5
    weights = attention.masked_softmax(scores, mask)
    assert torch.isfinite(weights).all()
    assert math.isclose(float(weights.sum()), 1.0 if mask.any() else 0.0, abs_tol=1e-5)


def test_fully_masked_row_gives_zeros_and_finite_gradients():
    scores = torch.randn(2, 4, requires_grad=True)
    mask = torch.tensor([[True, False, True, False], [False] * 4])
    weights = attention.masked_softmax(scores, mask)
    assert (weights[1] == 0).all()
    (weights * torch.arange(4.0)).sum().backward()
    assert torch.isfinite(scores.grad).all() and (scores.grad[1] == 0).all()


def test_hand_computed_dot_attention():
    q = torch.tensor([[1.0, 0.0]])
    k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    v = torch.tensor([[10.0], [20.0]])
    context, weights = attention.attend(q, k, v, score=attention.dot_scores)
    e = math.e
    torch.testing.assert_close(weights, torch.tensor([[e / (e + 1), 1 / (e + 1)]]))
    torch.testing.assert_close(context, torch.tensor([[10 * e / (e + 1) + 20 / (e + 1)]]))


def test_scaled_dot_divides_by_sqrt_d():
    q, k = torch.randn(3, 16), torch.randn(5, 16)
    torch.testing.assert_close(attention.scaled_dot_scores(q, k), attention.dot_scores(q, k) / 4)


def test_general_with_identity_is_dot():
    q, k = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
    torch.testing.assert_close(attention.general_scores(q, k, torch.eye(4)), attention.dot_scores(q, k))


def test_additive_matches_a_loop():
    q, k = torch.randn(3, 5), torch.randn(4, 2)
    wq, wk, v = torch.randn(5, 6), torch.randn(2, 6), torch.randn(6)
    scores = attention.additive_scores(q, k, wq, wk, v)
    for i in range(3):
        for j in range(4):
            torch.testing.assert_close(scores[i, j], torch.tanh(q[i] @ wq + k[j] @ wk) @ v)


@pytest.mark.parametrize("module", [attention.DotScore(), attention.ScaledDotScore(), attention.GeneralScore(4, 4),
                                    attention.AdditiveScore(4, 4, 8)])
def test_gradients_reach_query_keys_and_parameters(module):
    q = torch.randn(2, 3, 4, requires_grad=True)
    k = torch.randn(2, 5, 4, requires_grad=True)
    v = torch.randn(2, 5, 2, requires_grad=True)
    context, _ = attention.Attention(module)(q, k, v)
    context.pow(2).sum().backward()
    for tensor in (q, k, v, *module.parameters()):
        assert tensor.grad is not None and tensor.grad.abs().sum() > 0


def test_error_query_and_key_sizes_differ():
    with pytest.raises(AttentionShapeError, match="query has 4 features per vector but keys have 3.*general_scores"):
        attention.dot_scores(torch.randn(2, 4), torch.randn(5, 3))


def test_error_single_vector_query():
    with pytest.raises(AttentionShapeError, match=r"needs at least two dimensions.*query.unsqueeze\(0\)"):
        attention.attend(torch.randn(4), torch.randn(5, 4), torch.randn(5, 2))


def test_error_values_and_keys_count_differ():
    with pytest.raises(AttentionShapeError, match="keys have 5 positions but values have 6"):
        attention.attend(torch.randn(2, 4), torch.randn(5, 4), torch.randn(6, 2))


def test_error_batch_dims_do_not_broadcast():
    with pytest.raises(AttentionShapeError, match="batch dimensions"):
        attention.dot_scores(torch.randn(2, 3, 4), torch.randn(3, 5, 4))


def test_error_mask_not_bool():
    with pytest.raises(TypeError, match="mask must be a bool tensor"):
        attention.masked_softmax(torch.randn(2, 3), torch.ones(2, 3))


def test_error_mask_shape():
    with pytest.raises(AttentionShapeError, match="does not broadcast to the scores"):
        attention.masked_softmax(torch.randn(2, 3), torch.ones(2, 4, dtype=torch.bool))


def test_error_integer_inputs():
    with pytest.raises(TypeError, match="floating point"):
        attention.dot_scores(torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        attention.dot_scores([[1.0]], torch.ones(2, 1))


def test_error_general_weight_shape():
    with pytest.raises(AttentionShapeError, match=r"must be \(d_query, d_key\) = \(4, 3\)"):
        attention.general_scores(torch.randn(2, 4), torch.randn(5, 3), torch.randn(3, 4))


def test_error_additive_parameter_shapes():
    with pytest.raises(AttentionShapeError, match="additive scores need"):
        attention.additive_scores(torch.randn(2, 4), torch.randn(5, 3), torch.randn(4, 6), torch.randn(4, 6),
                                  torch.randn(6))
