"""Chapter 1's attention pooling: Nadaraya–Watson against hand computation, masks, learning, errors."""
from __future__ import annotations

import math

import pytest
import torch

from attnmem import pooling
from attnmem.tasks.regression import sample_regression, true_function
from attnmem.training import fit


def test_nadaraya_watson_by_hand():
    x_train, y_train = torch.tensor([0.0, 1.0]), torch.tensor([2.0, 4.0])
    estimate, weights = pooling.nadaraya_watson(torch.tensor([0.0]), x_train, y_train, bandwidth=1.0)
    a, b = 1.0, math.exp(-0.5)
    torch.testing.assert_close(weights, torch.tensor([[a / (a + b), b / (a + b)]]))
    torch.testing.assert_close(estimate, torch.tensor([(2 * a + 4 * b) / (a + b)]))


def test_leave_one_out_hides_each_point_from_itself():
    data = sample_regression(10, seed=0)
    _, weights = pooling.nadaraya_watson(data.x, data.x, data.y, 0.01, pooling.leave_one_out_mask(10))
    assert (weights.diagonal() == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(10))


def test_extreme_bandwidths_stay_finite():
    data = sample_regression(20, seed=1)
    for bandwidth in (1e-6, 1e6):
        estimate, weights = pooling.nadaraya_watson(torch.linspace(0, 5, 7), data.x, data.y, bandwidth)
        assert torch.isfinite(estimate).all() and torch.isfinite(weights).all()


@pytest.mark.learning
def test_learned_bandwidth_beats_average_pooling():
    data = sample_regression(80, seed=2)
    model = pooling.KernelRegression(2.0)
    mask = pooling.leave_one_out_mask(80)
    fit(model, lambda m, _: ((m(data.x, data.x, data.y, mask).context - data.y) ** 2).mean(), [None],
        steps=100, lr=0.05, progress=False)
    grid = torch.linspace(0, 5, 100)
    with torch.no_grad():
        learned = ((model(grid, data.x, data.y).context - true_function(grid)) ** 2).mean()
    average = ((data.y.mean() - true_function(grid)) ** 2).mean()
    assert 0.02 < model.bandwidth < 1.0
    assert learned < 0.2 * average


def test_errors():
    with pytest.raises(ValueError, match="bandwidth must be positive"):
        pooling.KernelRegression(0.0)
    with pytest.raises(ValueError, match="bandwidth must be positive"):
        pooling.nadaraya_watson(torch.zeros(2), torch.zeros(3), torch.zeros(3), -1.0)
    with pytest.raises(ValueError, match="x_train has 3 points but y_train has 2"):
        pooling.nadaraya_watson(torch.zeros(2), torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="x_query is empty"):
        pooling.nadaraya_watson(torch.zeros(0), torch.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match="n must be a positive int"):
        sample_regression(0, seed=0)
    with pytest.raises(ValueError, match="noise must be a finite non-negative number"):
        sample_regression(3, seed=0, noise=-1)
