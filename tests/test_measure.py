"""Memory measurement: exact byte counts for known operations, views free, and the same count every run."""
from __future__ import annotations

import torch

from attnmem import attention
from attnmem.measure import allocated_bytes


def test_each_new_tensor_counts_its_bytes():
    x = torch.ones(100, 10)
    assert allocated_bytes(lambda: x + x) == 100 * 10 * 4
    assert allocated_bytes(lambda: (x * x).sum()) == 100 * 10 * 4 + 4
    assert allocated_bytes(lambda: x + 1) == 100 * 10 * 4 + 8  # the Python number becomes a 0-d double tensor


def test_views_and_in_place_operations_count_nothing():
    x = torch.ones(100, 10)
    assert allocated_bytes(lambda: x.t()[3:7].unsqueeze(0)) == 0
    assert allocated_bytes(lambda: x.mul_(x)) == 0


def test_internal_copies_count():
    x = torch.ones(100, 10).t()  # not contiguous, so view(-1) cannot work and reshape copies
    assert allocated_bytes(lambda: x.reshape(-1)) == 100 * 10 * 4


def test_an_attention_pass_counts_the_same_every_run():
    torch.manual_seed(0)
    score = attention.AdditiveScore(16, 16, 8)
    q, k = torch.randn(1, 30, 16), torch.randn(1, 30, 16)
    with torch.no_grad():
        counts = {allocated_bytes(lambda: attention.attend(q, k, k, score=score)) for _ in range(3)}
    assert len(counts) == 1
    assert counts.pop() >= 30 * 30 * 8 * 4  # the tanh layer's vector for every pair
