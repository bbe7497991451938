"""One NTM step's heads as a single autograd node with a hand-written backward pass.

``attnmem.ntm`` builds the addressing of Graves, Wayne & Danihelka (2014), Section 3, as four readable functions
(Eqs. 5-9) plus reading and writing (Eqs. 2-4), and lets autograd differentiate them. That costs about forty small
operations forward and, recorded by autograd, as many again backward, each on tensors of a few thousand numbers:
on a CPU the bookkeeping, not the arithmetic, dominated the step (about 6x the LSTM controller's own cost).

``FusedHeads`` computes the same numbers from the head layer's raw output, the memory and the previous weightings,
and returns the new weightings, the reads and the new memory. Its ``backward`` applies the chain rule by hand,
stage by stage in reverse, with the textbook derivatives:

* softmax:   dL/dz = y * (dL/dy - sum(y * dL/dy))                 (content, shift distribution, sharpening)
* cosine:    cos = (k . M_i) |k|^-1 |M_i|^-1, so a norm's factor x / |x| contributes -x |x|^-3 (k . x) terms
* lerp:      w^g = w_prev + g (w^c - w_prev)
* rotation:  the adjoint of a circular convolution by s is the convolution by s reflected
* write:     M' = M * (1 - w e^T) + w a^T

``tests/test_ntm_fused.py`` checks the values and every gradient against autograd through the readable
functions, in double precision, including zero memory, zero keys and extreme sharpening. The clamps at
``MAX_SHARPNESS`` are treated as identities backward: they only bind where a softmax is already one-hot, where its
gradient is zero either way. One write head only (the NTM uses this node then; with several it falls back).
``attnmem.ntm`` passes its constants in (the cosine's ``eps`` and ``max_sharpness``), so the two cannot drift.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

__all__ = ["FusedHeads", "fused_heads"]


def _softmax_backward(y: Tensor, grad: Tensor) -> Tensor:
    """Gradient at the input of ``y = softmax(z, -1)``."""
    return y * (grad - (y * grad).sum(-1, keepdim=True))


def _row_sums(x: Tensor) -> Tensor:
    """(B, N, W) -> (B, N, 1), the sums over the last axis, as one matrix-vector product (faster than ``sum(-1)``
    over a short last axis)."""
    return torch.mv(x.reshape(-1, x.shape[-1]), x.new_ones(x.shape[-1])).view(*x.shape[:-1], 1)


def _rotate(x: Tensor, weights: Tensor) -> Tensor:
    """Circular convolution ``y_i = sum_k weights_k x_{i-k}`` over k = -r..r (Eq. 8); x (B, H, N), weights (B, H, 2r+1)."""
    size, radius = x.shape[-1], weights.shape[-1] // 2
    padded = torch.cat([x[..., size - radius :], x, x[..., :radius]], dim=-1)  # padded_j = x_{(j - r) mod N}
    out = padded[..., 2 * radius : 2 * radius + size] * weights[..., :1]  # k = -r reads x_{i+r}
    for k in range(-radius + 1, radius + 1):
        out = torch.addcmul(out, padded[..., radius - k : radius - k + size], weights[..., k + radius : k + radius + 1])
    return out


class FusedHeads(torch.autograd.Function):
    """Addressing (Eqs. 5-9), reading (Eq. 2) and one write head (Eqs. 3-4) of an NTM step, differentiated by hand.

    Inputs: ``raw`` (B, H * P + 2 * width), the head layer's output, laid out as ``NTM.head_parameters`` reads it
    (per head: key, beta, gate, shift logits, gamma; then erase and add logits of the write head); ``memory``
    (B, N, width); ``previous_read`` (B, R, N) and ``previous_write`` (B, 1, N), last step's weightings, as the
    NTM's state keeps them. Outputs: the read and write weightings (B, R, N) and (B, 1, N), the reads (B, R, width),
    the new memory (B, N, width), and the erase and add vectors (B, 1, 2, width) (for inspection; no gradient flows
    back through them).

    The memory-sized tensors (B x N x width numbers) dominate the cost, so each is touched as few times as possible:
    the write is M' = M - w (e * M - a)^T, two passes, with ``e * M - a`` kept for the backward pass.
    """

    @staticmethod
    def forward(ctx: Any, raw: Tensor, memory: Tensor, previous_read: Tensor, previous_write: Tensor,
                shift_size: int, eps: float, max_sharpness: float) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        previous = torch.cat([previous_read, previous_write], 1)  # (B, H, N), read heads first
        batch, heads, _ = previous.shape
        read_heads, width = previous_read.shape[1], memory.shape[2]
        per_head = raw[:, : raw.shape[1] - 2 * width].view(batch, heads, -1)
        key, beta_logit, gate_logit, shift_logits, gamma_logit = per_head.split([width, 1, 1, shift_size, 1], -1)
        beta = F.softplus(beta_logit).clamp_max(max_sharpness)  # (B, H, 1), like every per-head scalar below
        gate = torch.sigmoid(gate_logit)
        shifts = torch.softmax(shift_logits, -1)
        gamma = (1.0 + F.softplus(gamma_logit)).clamp_max(max_sharpness)
        erase, add = raw[:, raw.shape[1] - 2 * width :].view(batch, 1, 2, width).unbind(2)  # (B, 1, width) each
        erase, add = torch.sigmoid(erase), torch.tanh(add)

        # content addressing, Eqs. 5-6
        inverse_key_norm = torch.rsqrt(key.square().sum(-1, keepdim=True) + eps**2)  # (B, H, 1)
        scratch = memory * memory  # a memory-sized buffer, reused below for e * M - a
        inverse_memory_norm = torch.rsqrt(_row_sums(scratch) + eps**2).transpose(1, 2)  # (B, 1, N)
        cosine = torch.bmm(key, memory.transpose(1, 2)) * (inverse_key_norm * inverse_memory_norm)
        content = torch.softmax(beta * cosine, -1)
        # interpolation, Eq. 7; rotation, Eq. 8; sharpening, Eq. 9 as softmax(gamma log w)
        gated = torch.lerp(previous, content, gate)
        shifted = _rotate(gated, shifts)
        logs = torch.log(shifted.clamp_min(torch.finfo(shifted.dtype).tiny))
        weights = torch.softmax(gamma * logs, -1)
        # read, Eq. 2; erase then add, Eqs. 3-4: M' = M * (1 - w e^T) + w a^T = M - w (e * M - a)^T
        write_column = weights[:, read_heads:].transpose(1, 2)  # (B, N, 1)
        reads = torch.bmm(weights[:, :read_heads], memory)
        erased_minus_added = torch.addcmul(-add, memory, erase, out=scratch)  # e * M - a, (B, N, width)
        new_memory = torch.addcmul(memory, write_column, erased_minus_added, value=-1.0)

        ctx.read_heads = read_heads
        ctx.save_for_backward(memory, previous, key, inverse_key_norm, inverse_memory_norm, cosine, beta,
                              beta_logit, content, gate, gated, shifts, shifted, logs, gamma, gamma_logit, weights,
                              erased_minus_added, erase, add)
        erase_add = torch.stack([erase, add], 2)
        ctx.mark_non_differentiable(erase_add)
        read_weights, write_weights = weights.split([read_heads, 1], 1)
        return read_weights.contiguous(), write_weights.contiguous(), reads, new_memory, erase_add

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_read_weights: Tensor, grad_write_weights: Tensor, grad_reads: Tensor,
                 grad_memory: Tensor, _grad_erase_add: Tensor) -> tuple[Tensor | None, ...]:
        (memory, previous, key, inverse_key_norm, inverse_memory_norm, cosine, beta, beta_logit, content, gate,
         gated, shifts, shifted, logs, gamma, gamma_logit, weights, erased_minus_added, erase,
         add) = ctx.saved_tensors
        read_heads = ctx.read_heads
        grad_weights = torch.cat([grad_read_weights, grad_write_weights], 1)
        read_weights, write_row = weights[:, :read_heads], weights[:, read_heads:]  # (B, R, N), (B, 1, N)

        # write: M' = M - w t^T with t = e * M - a (one memory-sized scratch buffer for the products)
        scratch = grad_memory * erased_minus_added
        grad_write = -_row_sums(scratch).transpose(1, 2)  # (B, 1, N)
        grad_erase = -torch.bmm(write_row, torch.mul(grad_memory, memory, out=scratch))  # (B, 1, width)
        grad_add = torch.bmm(write_row, grad_memory)
        # read: r = w M
        grad_weights = grad_weights + torch.cat([torch.bmm(grad_reads, memory.transpose(1, 2)), grad_write], 1)

        # sharpening: w = softmax(gamma * log w~)
        grad_sharp = _softmax_backward(weights, grad_weights)
        grad_gamma = (grad_sharp * logs).sum(-1, keepdim=True)
        tiny = torch.finfo(shifted.dtype).tiny
        grad_shifted = torch.where(shifted >= tiny, grad_sharp * gamma / shifted.clamp_min(tiny), 0.0)
        # rotation: its adjoint is the rotation by the reflected shifts; d/ds_k = sum_i grad_i w^g_{i-k}
        grad_gated = _rotate(grad_shifted, shifts.flip(-1))
        radius = shifts.shape[-1] // 2
        grad_shifts = torch.cat([(grad_shifted * gated.roll(k, -1)).sum(-1, keepdim=True)
                                 for k in range(-radius, radius + 1)], -1)
        # interpolation: w^g = w_prev + g (w^c - w_prev)
        grad_previous = grad_gated * (1.0 - gate)
        grad_gate = (grad_gated * (content - previous)).sum(-1, keepdim=True)
        # content: w^c = softmax(beta * cos), cos = (k . M_i) / (|k| |M_i|)
        grad_logits = _softmax_backward(content, grad_gated * gate)
        grad_beta = (grad_logits * cosine).sum(-1, keepdim=True)
        grad_cosine = grad_logits * beta
        grad_dot = grad_cosine * (inverse_key_norm * inverse_memory_norm)  # d/d(k . M_i)
        grad_cos_cos = grad_cosine * cosine
        grad_key = torch.bmm(grad_dot, memory) - (grad_cos_cos.sum(-1, keepdim=True) * inverse_key_norm.square()) * key
        grad_memory_in = None
        if ctx.needs_input_grad[1]:  # not for the first step, whose memory is a constant
            # through the write, M * (1 - w e^T); then the read and the content dot products in one product; then
            # the memory's norms
            grad_memory_in = torch.addcmul(grad_memory, write_row.transpose(1, 2),
                                           torch.mul(grad_memory, erase, out=scratch), value=-1.0)
            grad_memory_in.baddbmm_(torch.cat([read_weights, grad_dot], 1).transpose(1, 2),
                                    torch.cat([grad_reads, key], 1))
            norm_term = (grad_cos_cos.sum(1, keepdim=True) * inverse_memory_norm.square()).transpose(1, 2)
            grad_memory_in.addcmul_(norm_term, memory, value=-1.0)

        # through the squashing functions back to the head layer's raw output
        per_head = torch.cat([grad_key, grad_beta * torch.sigmoid(beta_logit), grad_gate * gate * (1.0 - gate),
                              _softmax_backward(shifts, grad_shifts), grad_gamma * torch.sigmoid(gamma_logit)], -1)
        grad_writes = torch.cat([grad_erase * erase * (1.0 - erase), grad_add * (1.0 - add.square())], -1)
        grad_raw = torch.cat([per_head.flatten(1), grad_writes.flatten(1)], 1)
        grad_previous_read, grad_previous_write = grad_previous.split([read_heads, 1], 1)
        return grad_raw, grad_memory_in, grad_previous_read, grad_previous_write, None, None, None


def fused_heads(raw: Tensor, memory: Tensor, previous_read: Tensor, previous_write: Tensor, shift_size: int,
                eps: float, max_sharpness: float) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``FusedHeads.apply``: (read weightings, write weighting, reads, new memory, erase and add vectors) of one
    NTM step."""
    return FusedHeads.apply(raw, memory, previous_read, previous_write, shift_size, eps, max_sharpness)
