"""Tests for the neural Turing machine: each addressing stage by hand, invariants under hypothesis, heads, model."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attnmem.ntm import (
    NTM,
    Addressing,
    HeadParameters,
    LSTMBaseline,
    NTMOutput,
    address,
    content_addressing,
    interpolate,
    read_memory,
    sharpen,
    shift,
    write_memory,
)
from attnmem.tasks.algorithmic import copy_task, sequence_loss
from attnmem.training.ntm import evaluate_bit_errors, start_from_copy, train_on_task

# --- each stage against hand-computed values -------------------------------------------------------------------


def test_content_addressing_by_hand():
    memory = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])
    key = torch.tensor([[[2.0, 0.0]]])  # cosine ignores the key's length
    weights = content_addressing(memory, key, torch.tensor([[1.0]]))
    scores = torch.tensor([1.0, 0.0, 1 / math.sqrt(2)])
    torch.testing.assert_close(weights[0, 0], torch.softmax(scores, 0))
    sharp = content_addressing(memory, key, torch.tensor([[50.0]]))
    assert sharp[0, 0].argmax() == 0 and sharp[0, 0, 0] > 0.99


def test_interpolate_by_hand():
    content = torch.tensor([[[1.0, 0.0, 0.0]]])
    previous = torch.tensor([[[0.0, 0.0, 1.0]]])
    out = interpolate(content, previous, torch.tensor([[0.25]]))
    torch.testing.assert_close(out, torch.tensor([[[0.25, 0.0, 0.75]]]))


def test_shift_by_hand_including_the_wrap_around():
    one_hot = torch.tensor([[[0.0, 1.0, 0.0, 0.0]]])
    forward, stay, backward = (torch.tensor([[s]]) for s in ([0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]))
    torch.testing.assert_close(shift(one_hot, forward), torch.tensor([[[0.0, 0.0, 1.0, 0.0]]]))
    torch.testing.assert_close(shift(one_hot, stay), one_hot)
    torch.testing.assert_close(shift(one_hot, backward), torch.tensor([[[1.0, 0.0, 0.0, 0.0]]]))
    last = torch.tensor([[[0.0, 0.0, 0.0, 1.0]]])
    torch.testing.assert_close(shift(last, forward), torch.tensor([[[1.0, 0.0, 0.0, 0.0]]]))
    blur = shift(one_hot, torch.tensor([[[0.1, 0.8, 0.1]]]))
    torch.testing.assert_close(blur, torch.tensor([[[0.1, 0.8, 0.1, 0.0]]]))
    # a radius of 2: shift by +2
    torch.testing.assert_close(shift(one_hot, torch.tensor([[[0.0, 0.0, 0.0, 0.0, 1.0]]])), last)


def test_shift_matches_the_definition_for_every_radius():
    generator = torch.Generator().manual_seed(0)
    for radius in range(4):
        weights = torch.softmax(torch.randn(2, 3, 7, generator=generator), -1)
        shifts = torch.softmax(torch.randn(2, 3, 2 * radius + 1, generator=generator), -1)
        expected = torch.zeros_like(weights)
        for i in range(7):  # Eq. 8 as written: w~_i = sum_k w_{(i - k) mod N} s_k
            for k in range(-radius, radius + 1):
                expected[..., i] += weights[..., (i - k) % 7] * shifts[..., k + radius]
        torch.testing.assert_close(shift(weights, shifts), expected)


def test_content_addressing_is_scale_free_down_to_the_initial_memory():
    # rows as small as the initial memory (1e-6 per cell) must give the same cosines as large ones: the epsilon
    # guarding the norms may not dominate them
    generator = torch.Generator().manual_seed(1)
    memory, key = torch.randn(2, 5, 4, generator=generator), torch.randn(2, 2, 4, generator=generator)
    beta = torch.full((2, 2), 3.0)
    torch.testing.assert_close(content_addressing(1e-6 * memory, key, beta), content_addressing(memory, key, beta),
                               rtol=1e-4, atol=1e-6)


def test_sharpen_by_hand():
    weights = torch.tensor([[[0.2, 0.3, 0.5]]])
    out = sharpen(weights, torch.tensor([[2.0]]))
    torch.testing.assert_close(out, torch.tensor([[[0.04, 0.09, 0.25]]]) / 0.38)
    torch.testing.assert_close(sharpen(weights, torch.tensor([[1.0]])), weights)


def test_address_runs_the_four_stages_in_order():
    memory = torch.randn(2, 6, 4)
    params = HeadParameters(torch.randn(2, 3, 4), torch.rand(2, 3) * 5, torch.rand(2, 3),
                            torch.softmax(torch.randn(2, 3, 3), -1), 1 + torch.rand(2, 3) * 3)
    previous = torch.softmax(torch.randn(2, 3, 6), -1)
    stages = address(memory, params, previous)
    assert isinstance(stages, Addressing)
    content = content_addressing(memory, params.key, params.beta)
    gated = interpolate(content, previous, params.gate)
    torch.testing.assert_close(stages.content, content)
    torch.testing.assert_close(stages.gated, gated)
    torch.testing.assert_close(stages.shifted, shift(gated, params.shift))
    torch.testing.assert_close(stages.weights, sharpen(stages.shifted, params.gamma))


# --- invariants: always a distribution, never NaN --------------------------------------------------------------

extreme = st.one_of(st.floats(0.0, 1e30), st.sampled_from([0.0, 1e-30, 1.0, 1e6, 1e12, 3e38]))


def _is_distribution(w: torch.Tensor) -> None:
    assert torch.isfinite(w).all()
    assert (w >= 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]), atol=1e-5, rtol=0)


@settings(max_examples=60, deadline=None)
@given(beta=extreme, gamma=extreme, gate=st.floats(0.0, 1.0), seed=st.integers(0, 10_000),
       zero_memory=st.booleans(), zero_key=st.booleans(), locations=st.integers(1, 9))
def test_every_stage_gives_a_distribution_without_nan(beta, gamma, gate, seed, zero_memory, zero_key, locations):
    generator = torch.Generator().manual_seed(seed)
    memory = torch.zeros(2, locations, 3) if zero_memory else torch.randn(2, locations, 3, generator=generator)
    key = torch.zeros(2, 2, 3) if zero_key else torch.randn(2, 2, 3, generator=generator) * 1e3
    key.requires_grad_(True)
    previous = torch.softmax(torch.randn(2, 2, locations, generator=generator) * 10, -1)
    radius = min(1, locations)
    shifts = torch.softmax(torch.randn(2, 2, 2 * radius + 1, generator=generator) * 10, -1)
    params = HeadParameters(key, torch.full((2, 2), beta), torch.full((2, 2), gate), shifts,
                            torch.full((2, 2), max(gamma, 1.0)))
    stages = address(memory, params, previous)
    for weights in stages:
        _is_distribution(weights)
    stages.weights[..., 0].sum().backward()
    assert torch.isfinite(key.grad).all()


def test_zero_memory_and_zero_key_give_a_uniform_content_weighting():
    weights = content_addressing(torch.zeros(1, 4, 3), torch.zeros(1, 1, 3), torch.tensor([[100.0]]))
    torch.testing.assert_close(weights, torch.full((1, 1, 4), 0.25))


def test_sharpen_of_weights_with_exact_zeros_and_huge_gamma():
    weights = torch.tensor([[[0.0, 0.5, 0.5, 0.0]]], requires_grad=True)
    out = sharpen(weights, torch.tensor([[1e30]]))
    torch.testing.assert_close(out, torch.tensor([[[0.0, 0.5, 0.5, 0.0]]]))
    out[..., 1].sum().backward()
    assert torch.isfinite(weights.grad).all()


# --- reading and writing ---------------------------------------------------------------------------------------


def test_read_is_the_weighted_sum_of_rows():
    memory = torch.arange(12.0).view(1, 4, 3)
    weights = torch.tensor([[[0.5, 0.0, 0.5, 0.0]]])
    torch.testing.assert_close(read_memory(memory, weights), torch.tensor([[[3.0, 4.0, 5.0]]]))
    two_heads = torch.softmax(torch.randn(2, 2, 4), -1)
    rows = torch.randn(2, 4, 3)
    expected = torch.stack([torch.stack([sum(two_heads[b, h, i] * rows[b, i] for i in range(4)) for h in range(2)])
                            for b in range(2)])
    torch.testing.assert_close(read_memory(rows, two_heads), expected)


def test_write_erases_then_adds():
    memory = torch.ones(1, 3, 2)
    weights = torch.tensor([[[0.0, 1.0, 0.0]]])
    erase = torch.tensor([[[1.0, 0.0]]])
    add = torch.tensor([[[5.0, 7.0]]])
    out = write_memory(memory, weights, erase, add)
    torch.testing.assert_close(out, torch.tensor([[[1.0, 1.0], [5.0, 8.0], [1.0, 1.0]]]))
    half = write_memory(memory, torch.tensor([[[0.5, 0.5, 0.0]]]), torch.ones(1, 1, 2), torch.zeros(1, 1, 2))
    torch.testing.assert_close(half, torch.tensor([[[0.5, 0.5], [0.5, 0.5], [1.0, 1.0]]]))


def test_two_write_heads_multiply_their_erases_and_sum_their_adds():
    memory = torch.full((1, 2, 1), 4.0)
    weights = torch.tensor([[[1.0, 0.0], [0.5, 0.5]]])
    erase = torch.tensor([[[0.5], [0.5]]])
    add = torch.tensor([[[1.0], [2.0]]])
    out = write_memory(memory, weights, erase, add)
    # row 0: 4 * (1 - .5)(1 - .25) + 1 + 1 = 3.5; row 1: 4 * (1 - .25) + 1 = 4
    torch.testing.assert_close(out, torch.tensor([[[3.5], [4.0]]]))


# --- the model -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("controller", ["lstm", "feedforward"])
def test_ntm_returns_logits_and_head_activity_as_data(controller):
    torch.manual_seed(0)
    model = NTM(5, 3, memory_size=10, memory_width=4, controller=controller, controller_size=16,
                read_heads=2, write_heads=1)
    out = model(torch.rand(2, 7, 5))
    assert isinstance(out, NTMOutput)
    assert out.logits.shape == (2, 7, 3)
    assert out.read_weights.shape == (2, 7, 2, 10) and out.write_weights.shape == (2, 7, 1, 10)
    assert out.reads.shape == (2, 7, 2, 4) and out.erases.shape == out.adds.shape == (2, 7, 1, 4)
    assert out.memory.shape == (2, 10, 4)
    _is_distribution(out.read_weights)
    _is_distribution(out.write_weights)
    assert ((out.erases >= 0) & (out.erases <= 1)).all()


def test_forward_gives_the_logits_and_state_of_step_by_step():
    """forward runs the output layer once over all steps; step runs it at each step: the same numbers."""
    torch.manual_seed(0)
    model = NTM(5, 3, memory_size=10, memory_width=4, controller_size=16, read_heads=2).double()
    inputs = torch.rand(2, 6, 5, dtype=torch.float64)
    out = model(inputs)
    state = model.initial_state(2)
    for t in range(6):
        logits, state, erase_add = model.step(inputs[:, t], state)
        torch.testing.assert_close(out.logits[:, t], logits, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(out.read_weights[:, t], state.read_weights, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(out.reads[:, t], state.reads, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(out.adds[:, t], erase_add[:, :, 1], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.memory, state.memory, rtol=1e-12, atol=1e-12)


def test_memory_starts_as_a_small_constant_and_can_be_resized():
    model = NTM(5, 3, memory_size=10, memory_width=4, memory_init=1e-6)
    state = model.initial_state(2)
    assert torch.equal(state.memory, torch.full((2, 10, 4), 1e-6))
    assert model(torch.rand(1, 3, 5), memory_size=40).read_weights.shape[-1] == 40


def test_gradients_reach_the_controller_and_are_finite():
    torch.manual_seed(0)
    model = NTM(9, 8, memory_size=16, memory_width=6, controller_size=20)
    batch = copy_task(4, 1, 5, seed=0)
    sequence_loss(model(batch.inputs).logits, batch).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    assert model.controller.weight_ih.grad.abs().sum() > 0


def test_the_same_seed_gives_the_same_model_output():
    outputs = []
    for _ in range(2):
        torch.manual_seed(3)
        outputs.append(NTM(9, 8, memory_size=8)(copy_task(2, seed=1).inputs).logits)
    assert torch.equal(*outputs)


def test_lstm_baseline_shapes():
    assert LSTMBaseline(9, 8, 16)(torch.rand(3, 5, 9)).shape == (3, 5, 8)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: NTM(9, 8, controller="gru"), "controller must be 'lstm' or 'feedforward'"),
        (lambda: NTM(0, 8), "input_size must be a positive int"),
        (lambda: NTM(9, 8, memory_width=2.5), "memory_width must be a positive int"),
        (lambda: NTM(9, 8, memory_size=4, shift_radius=5), "shift_radius must be in"),
        (lambda: NTM(9, 8)(torch.rand(2, 3, 7)), r"inputs must be a \(batch, steps, 9\) tensor"),
        (lambda: NTM(9, 8)(torch.rand(2, 9)), r"inputs must be a \(batch, steps, 9\) tensor"),
        (lambda: NTM(9, 8)(torch.rand(2, 0, 9)), "at least one sequence of one step"),
        (lambda: NTM(9, 8).initial_state(2, memory_size=0), "memory_size must be a positive int"),
        (lambda: LSTMBaseline(9, 8)(torch.rand(2, 3, 4)), r"inputs must be a \(batch, steps, 9\) tensor"),
        (lambda: content_addressing(torch.rand(2, 4), torch.rand(2, 1, 4), torch.ones(2, 1)), "memory must be"),
        (lambda: content_addressing(torch.rand(2, 5, 4), torch.rand(2, 1, 3), torch.ones(2, 1)), "key must be"),
        (lambda: content_addressing(torch.rand(2, 5, 4), torch.rand(2, 1, 4), torch.ones(2)), "beta must be"),
        (lambda: interpolate(torch.rand(1, 1, 4), torch.rand(1, 1, 5), torch.ones(1, 1)), "same shape"),
        (lambda: interpolate(torch.rand(1, 1, 4), torch.rand(1, 1, 4), torch.ones(1)), "gate must be"),
        (lambda: shift(torch.rand(1, 1, 4), torch.rand(1, 1, 2)), "shift_weights must be"),
        (lambda: shift(torch.rand(1, 1, 2), torch.rand(1, 1, 7)), "needs at least 3 locations"),
        (lambda: sharpen(torch.rand(1, 2, 4), torch.ones(1, 1)), "gamma must be"),
        (lambda: read_memory(torch.rand(1, 4, 3), torch.rand(1, 1, 5)), "read weights must be"),
        (lambda: write_memory(torch.rand(1, 4, 3), torch.rand(1, 1, 5), torch.rand(1, 1, 3), torch.rand(1, 1, 3)),
         "write weights must be"),
        (lambda: write_memory(torch.rand(1, 4, 3), torch.rand(1, 1, 4), torch.rand(1, 1, 2), torch.rand(1, 1, 3)),
         "erase and add must be"),
    ],
)
def test_bad_input_says_what_is_wrong(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.learning
def test_ntm_learns_to_copy_short_sequences_in_seconds():
    torch.manual_seed(0)
    model = NTM(9, 8, memory_size=8, memory_width=8, controller_size=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-2)
    generator = torch.Generator().manual_seed(0)
    test = copy_task(200, 1, 5, seed=99)
    chance = float(evaluate_bit_errors(model, test).mean())
    for _ in range(200):
        batch = copy_task(32, 1, 5, seed=generator)
        loss = sequence_loss(model(batch.inputs).logits, batch)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
    learned = float(evaluate_bit_errors(model, test).mean())
    assert chance > 5 and learned < 2.0, (chance, learned)


def test_repeat_copy_starts_as_the_copy_machine():
    torch.manual_seed(0)
    copy_model = NTM(9, 8, memory_size=8, memory_width=4, controller_size=16)
    repeat_model = NTM(10, 9, memory_size=8, memory_width=4, controller_size=16)
    start_from_copy(copy_model, repeat_model)
    inputs = torch.rand(2, 5, 9)
    with_count = torch.cat([inputs, torch.randn(2, 5, 1)], dim=-1)  # any repeat count: its weights start at zero
    with torch.no_grad():
        torch.testing.assert_close(repeat_model(with_count).logits[..., :8], copy_model(inputs).logits)


SMALL_COPY = {"model": "ntm", "task": "copy", "memory_size": 8, "memory_width": 4, "controller_size": 16,
              "train": {"min_len": 1, "max_len": 3}, "batch_size": 4, "lr": 1e-2, "max_steps": 2, "eval_every": 2,
              "target_bits": 0.0, "validation_size": 8}


def test_compiled_training_falls_back_to_the_readable_path_with_a_warning(monkeypatch):
    def no_compiler(*args, **kwargs):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(torch, "compile", no_compiler)
    with pytest.warns(RuntimeWarning, match="torch.compile is unavailable.*no C\\+\\+ compiler"):
        model, facts = train_on_task({**SMALL_COPY, "compile": True}, seed=0, progress=False)
    plain, plain_facts = train_on_task(SMALL_COPY, seed=0, progress=False)
    assert not facts["compiled"] and "advance" not in vars(model)
    assert facts["validation_curve"] == plain_facts["validation_curve"]
    for name, value in plain.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value, rtol=0, atol=0)
