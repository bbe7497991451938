"""The fused NTM heads (one autograd node, hand-written backward) against autograd through the readable functions."""
from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from attnmem.ntm import _EPS, MAX_SHARPNESS, NTM, HeadParameters, address, read_memory, write_memory
from attnmem.ntm_fused import fused_heads


def _readable(raw: torch.Tensor, memory: torch.Tensor, previous_read: torch.Tensor, previous_write: torch.Tensor,
              shift_size: int) -> tuple[torch.Tensor, ...]:
    """The same step built from the chapter's functions, differentiated by autograd: the read and write weightings,
    the reads and the new memory."""
    previous = torch.cat([previous_read, previous_write], 1)
    batch, heads, width, read_heads = raw.shape[0], previous.shape[1], memory.shape[2], previous_read.shape[1]
    per_head, writes = raw.split([raw.shape[1] - 2 * width, 2 * width], 1)
    key, beta, gate, shifts, gamma = per_head.reshape(batch, heads, -1).split([width, 1, 1, shift_size, 1], -1)
    params = HeadParameters(key, F.softplus(beta).squeeze(-1), torch.sigmoid(gate).squeeze(-1),
                            torch.softmax(shifts, -1), 1.0 + F.softplus(gamma).squeeze(-1))
    erase, add = writes.reshape(batch, 1, 2, width).unbind(2)
    read_weights, write_weights = address(memory, params, previous).weights.split([read_heads, 1], 1)
    reads = read_memory(memory, read_weights)
    return read_weights, write_weights, reads, write_memory(memory, write_weights, torch.sigmoid(erase),
                                                            torch.tanh(add))


def _inputs(seed: int, batch: int = 3, locations: int = 7, width: int = 5, read_heads: int = 1,
            shift_size: int = 3, raw_scale: float = 1.0, zero_memory: bool = False) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    heads = read_heads + 1
    raw = raw_scale * torch.randn(batch, heads * (width + 3 + shift_size) + 2 * width, generator=generator,
                                  dtype=torch.float64)
    memory = torch.randn(batch, locations, width, generator=generator, dtype=torch.float64)
    if zero_memory:
        memory.zero_()
    previous = torch.randn(batch, heads, locations, generator=generator, dtype=torch.float64).softmax(-1)
    previous_read, previous_write = previous.split([read_heads, 1], 1)
    return (raw.requires_grad_(), memory.requires_grad_(), previous_read.contiguous().requires_grad_(),
            previous_write.contiguous().requires_grad_())


def _both(inputs: tuple[torch.Tensor, ...], shift_size: int, seed: int) -> tuple[list, list]:
    """Outputs and input gradients (for a random weighting of the outputs) of both versions."""
    fused = fused_heads(*inputs, shift_size, _EPS, MAX_SHARPNESS)[:4]
    readable = _readable(*inputs, shift_size)
    generator = torch.Generator().manual_seed(seed + 1)
    directions = [torch.randn(out.shape, generator=generator, dtype=out.dtype) for out in readable]
    grads = [torch.autograd.grad(sum((o * d).sum() for o, d in zip(outs, directions)), inputs)
             for outs in (fused, readable)]
    return [fused, readable], grads


@pytest.mark.parametrize("read_heads, shift_size", [(1, 3), (2, 3), (1, 1), (1, 5)])
def test_values_and_gradients_equal_autograd_through_the_readable_functions(read_heads: int, shift_size: int) -> None:
    for seed in range(3):
        inputs = _inputs(seed, read_heads=read_heads, shift_size=shift_size)
        (fused, readable), (fused_grads, readable_grads) = _both(inputs, shift_size, seed)
        for ours, theirs in zip(fused, readable):
            torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
        for ours, theirs in zip(fused_grads, readable_grads):
            torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-12)


def test_the_hand_written_backward_passes_a_numerical_gradient_check() -> None:
    inputs = _inputs(7, batch=2, locations=6, width=4)
    assert torch.autograd.gradcheck(lambda *x: fused_heads(*x, 3, _EPS, MAX_SHARPNESS)[:4], inputs)


@pytest.mark.parametrize("raw_scale, zero_memory", [(1.0, True), (30.0, False), (1e4, False), (1e4, True)])
def test_zero_memory_and_extreme_head_outputs_stay_finite_and_agree(raw_scale: float, zero_memory: bool) -> None:
    inputs = _inputs(3, raw_scale=raw_scale, zero_memory=zero_memory)
    (fused, readable), (fused_grads, readable_grads) = _both(inputs, 3, 3)
    for tensor in [*fused, *fused_grads]:
        assert torch.isfinite(tensor).all()
    for ours, theirs in zip(fused[:2], readable[:2]):
        torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-12)
    for ours, theirs in zip(fused_grads, readable_grads):
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-9)


def test_a_one_hot_previous_weighting_like_the_initial_state() -> None:
    raw, memory, _, _ = _inputs(5)
    previous = torch.zeros(3, 1, 7, dtype=torch.float64)
    previous[..., 0] = 1.0
    inputs = (raw, memory, previous.clone().requires_grad_(), previous.clone().requires_grad_())
    (fused, readable), (fused_grads, readable_grads) = _both(inputs, 3, 5)
    for ours, theirs in zip(fused[:2], readable[:2]):
        torch.testing.assert_close(ours, theirs)
    for ours, theirs in zip(fused_grads, readable_grads):
        torch.testing.assert_close(ours, theirs)


def test_a_fused_ntm_trains_exactly_like_the_readable_one() -> None:
    torch.manual_seed(0)
    fused = NTM(4, 3, memory_size=10, memory_width=6, controller_size=8).double()
    readable = NTM(4, 3, memory_size=10, memory_width=6, controller_size=8, fused=False).double()
    readable.load_state_dict(fused.state_dict())
    inputs = torch.randn(2, 6, 4, dtype=torch.float64)
    outputs = [model(inputs) for model in (fused, readable)]
    for ours, theirs in zip(*outputs):
        torch.testing.assert_close(ours, theirs)
    for model, out in zip((fused, readable), outputs):
        (out.logits.square().sum() + out.memory.sum()).backward()
    for (name, ours), theirs in zip(fused.named_parameters(), readable.parameters()):
        torch.testing.assert_close(ours.grad, theirs.grad, msg=name)


def test_several_write_heads_run_the_readable_functions() -> None:
    assert NTM(4, 3, write_heads=1).fused and not NTM(4, 3, write_heads=2).fused
    assert not NTM(4, 3, fused=False).fused
