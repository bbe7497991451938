"""Neural Turing machines: a controller that reads and writes an external memory through attention.

Graves, Wayne & Danihelka (2014), "Neural Turing Machines", Section 3. A memory ``M`` of ``N`` rows (locations)
of width ``W`` is read and written by heads. Each head emits, at every step, a key ``k``, a key strength ``beta``,
an interpolation gate ``g``, a shift distribution ``s`` and a sharpening exponent ``gamma``, and turns them into a
weighting over the ``N`` locations in four stages, one function each:

1. ``content_addressing``  w^c_i = softmax_i(beta * cos(k, M_i))                      (Eqs. 5-6)
2. ``interpolate``         w^g = g * w^c + (1 - g) * w_{t-1}                          (Eq. 7)
3. ``shift``               w~_i = sum_j w^g_j s(i - j)   (circular convolution)       (Eq. 8)
4. ``sharpen``             w_i = w~_i^gamma / sum_j w~_j^gamma                        (Eq. 9)

A read head returns r = sum_i w_i M_i (Eq. 2); a write head first erases, M_i <- M_i (1 - w_i e), then adds,
M_i <- M_i + w_i a (Eqs. 3-4). Every stage is numerically safe: the cosine has an epsilon inside both norms (a
zero key or an all-zero memory gives a uniform weighting, never NaN) and sharpening is computed as a softmax of
``gamma * log w``, which is exactly w^gamma / sum w^gamma but cannot overflow. ``beta`` and ``gamma`` are clamped to
at most 1e6. The memory starts as a small constant (1e-6), which Collier & Beel (2018), "Implementing Neural
Turing Machines", found to converge about twice as fast as learned or random initialisation.

``NTM`` is batched over sequences and runs exactly these functions; its ``forward`` returns an ``NTMOutput`` with
the logits and, per step, the head weightings, the reads and the writes as data. ``LSTMBaseline`` is the
memory-less comparison.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from attnmem import checks


__all__ = [
    "MAX_SHARPNESS",
    "NTM",
    "Addressing",
    "HeadParameters",
    "LSTMBaseline",
    "NTMOutput",
    "NTMState",
    "address",
    "content_addressing",
    "interpolate",
    "read_memory",
    "sharpen",
    "shift",
    "write_memory",
]

#: The largest key strength beta and sharpening exponent gamma that addressing accepts (larger ones are clamped).
MAX_SHARPNESS = 1e6
_EPS = 1e-8


def content_addressing(memory: Tensor, key: Tensor, beta: Tensor) -> Tensor:
    """Content weighting (Graves et al. 2014, Eqs. 5-6): softmax over locations of ``beta * cos(key, M_i)``.

    ``memory`` (B, N, W), ``key`` (B, H, W) for H heads, ``beta`` (B, H) >= 0; returns (B, H, N).
    """
    checks.content_arguments(memory, key, beta)
    dot = torch.bmm(key, memory.transpose(1, 2))  # (B, H, N)
    # 1 / sqrt(|x|^2 + eps^2): about 1 / (|x| + eps), and finite, with a zero gradient, at x = 0
    inverse_key_norm = torch.rsqrt(key.square().sum(-1) + _EPS**2)  # (B, H)
    inverse_memory_norm = torch.rsqrt(memory.square().sum(-1) + _EPS**2)  # (B, N)
    strength = beta.clamp(0.0, MAX_SHARPNESS) * inverse_key_norm
    return torch.softmax(dot * strength.unsqueeze(-1) * inverse_memory_norm.unsqueeze(1), dim=-1)


def interpolate(content: Tensor, previous: Tensor, gate: Tensor) -> Tensor:
    """Interpolation gate (Eq. 7): ``g * w^c + (1 - g) * w_prev``; ``gate`` (B, H) in [0, 1], weightings (B, H, N)."""
    checks.interpolation_arguments(content, previous, gate)
    return torch.lerp(previous, content, gate.unsqueeze(-1))


def shift(weights: Tensor, shift_weights: Tensor) -> Tensor:
    """Rotation by a circular convolution (Eq. 8): ``w~_i = sum_k w_{i-k} s_k`` over shifts k = -r..r.

    ``weights`` (B, H, N); ``shift_weights`` (B, H, 2r + 1), a distribution over the shifts -r, ..., 0, ..., r in
    that order (so all mass on the last entry moves every weight one location forward). Needs r <= N.
    """
    checks.shift_arguments(weights, shift_weights)
    radius, size = shift_weights.shape[-1] // 2, weights.shape[-1]
    # Pad circularly once, padded_j = w_{(j - r) mod N}; then the slice that starts at r - k holds w_{i-k} at entry i,
    # and the convolution is 2r + 1 weighted slices: no index arithmetic, no loop over locations.
    padded = torch.cat([weights[..., size - radius :], weights, weights[..., :radius]], dim=-1)
    terms = [padded[..., radius - k : radius - k + size] * s_k.unsqueeze(-1)
             for k, s_k in zip(range(-radius, radius + 1), shift_weights.unbind(-1))]
    return sum(terms[1:], terms[0])


def sharpen(weights: Tensor, gamma: Tensor) -> Tensor:
    """Sharpening (Eq. 9): ``w^gamma / sum w^gamma`` with ``gamma`` (B, H) >= 1, computed as softmax(gamma log w).

    The log of each weight is taken after clamping to the smallest positive float, so it is finite even where w
    is zero, and the softmax subtracts the row's largest entry before exponentiating, so the result is a
    distribution for any gamma up to ``MAX_SHARPNESS``.
    """
    checks.sharpening_arguments(weights, gamma)
    logs = torch.log(weights.clamp_min(torch.finfo(weights.dtype).tiny))
    return torch.softmax(gamma.clamp(1.0, MAX_SHARPNESS).unsqueeze(-1) * logs, dim=-1)


class HeadParameters(NamedTuple):
    """What a controller emits for H heads at one step (already squashed into their valid ranges)."""

    key: Tensor  # (B, H, W)
    beta: Tensor  # (B, H) >= 0
    gate: Tensor  # (B, H) in [0, 1]
    shift: Tensor  # (B, H, 2r + 1), a distribution over shifts -r..r
    gamma: Tensor  # (B, H) >= 1


class Addressing(NamedTuple):
    """Every stage of one addressing step, (B, H, N) each: the pipeline of Graves et al. (2014), Figure 2."""

    content: Tensor
    gated: Tensor
    shifted: Tensor
    weights: Tensor  # the final, sharpened weighting


def address(memory: Tensor, params: HeadParameters, previous: Tensor) -> Addressing:
    """Run the four stages: content -> interpolation -> shift -> sharpening."""
    content = content_addressing(memory, params.key, params.beta)
    gated = interpolate(content, previous, params.gate)
    shifted = shift(gated, params.shift)
    return Addressing(content, gated, shifted, sharpen(shifted, params.gamma))


def read_memory(memory: Tensor, weights: Tensor) -> Tensor:
    """Reads (Eq. 2): ``r = sum_i w_i M_i`` for R read heads; ``weights`` (B, R, N) -> (B, R, W)."""
    checks.read_arguments(memory, weights)
    return weights @ memory


def write_memory(memory: Tensor, weights: Tensor, erase: Tensor, add: Tensor) -> Tensor:
    """Erase then add (Eqs. 3-4) for W write heads: ``M <- M ∘ prod_h (1 - w_h e_h^T) + sum_h w_h a_h^T``.

    ``weights`` (B, W, N); ``erase`` (B, W, width) in [0, 1]; ``add`` (B, W, width). Returns the new memory.
    """
    checks.write_arguments(memory, weights, erase, add)
    w, e, a = weights.unsqueeze(-1), erase.unsqueeze(-2), add.unsqueeze(-2)  # w_h as columns, e_h and a_h as rows
    erased = memory * (1 - w * e).prod(dim=1)  # Eq. 3: M_i ∘ prod_h (1 - w_h(i) e_h)
    return erased + (w * a).sum(dim=1)  # Eq. 4: + sum_h w_h(i) a_h


class NTMState(NamedTuple):
    """The recurrent state carried from one step to the next."""

    memory: Tensor  # (B, N, W)
    read_weights: Tensor  # (B, R, N)
    write_weights: Tensor  # (B, Wh, N)
    reads: Tensor  # (B, R, W)
    controller: tuple[Tensor, ...]  # LSTM (h, c), or () for the feed-forward controller


class NTMOutput(NamedTuple):
    """What ``NTM.forward`` returns: logits and, per step, what the heads did (all batch first, time second)."""

    logits: Tensor  # (B, T, outputs)
    read_weights: Tensor  # (B, T, R, N)
    write_weights: Tensor  # (B, T, Wh, N)
    reads: Tensor  # (B, T, R, W)
    erases: Tensor  # (B, T, Wh, W)
    adds: Tensor  # (B, T, Wh, W)
    memory: Tensor  # (B, N, W) the memory after the last step


class NTM(nn.Module):
    """A neural Turing machine with an LSTM or feed-forward controller (Graves et al. 2014, Figure 1).

    At each step the controller sees the input and the previous reads; one linear layer maps its output to the
    parameters of every head; all heads are addressed on the current memory, the read heads read, the write heads
    erase and add; the output layer sees the controller output and the new reads.
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        memory_size: int = 128,
        memory_width: int = 20,
        controller: str = "lstm",
        controller_size: int = 100,
        read_heads: int = 1,
        write_heads: int = 1,
        shift_radius: int = 1,
        memory_init: float = 1e-6,
    ) -> None:
        super().__init__()
        checks.positive_sizes(input_size=input_size, output_size=output_size, memory_size=memory_size,
                              memory_width=memory_width, controller_size=controller_size, read_heads=read_heads,
                              write_heads=write_heads)
        checks.model_numbers("this NTM's memory of one sequence", memory_size * memory_width,
                             "use a smaller memory_size or memory_width")
        if controller not in ("lstm", "feedforward"):
            raise ValueError(f"controller must be 'lstm' or 'feedforward', got {controller!r}")
        if not 0 <= shift_radius <= memory_size:
            raise ValueError(f"shift_radius must be in [0, memory_size={memory_size}], got {shift_radius}")
        self.input_size, self.output_size = input_size, output_size
        self.memory_size, self.memory_width = memory_size, memory_width
        self.read_heads, self.write_heads = read_heads, write_heads
        self.shift_size = 2 * shift_radius + 1
        self.memory_init = float(memory_init)
        self.controller_kind = controller
        controller_input = input_size + read_heads * memory_width
        if controller == "lstm":
            self.controller: nn.Module = nn.LSTMCell(controller_input, controller_size)
        else:
            self.controller = nn.Sequential(nn.Linear(controller_input, controller_size), nn.Tanh())
        self.per_head = memory_width + 3 + self.shift_size  # key, beta, gate, shift, gamma
        heads = read_heads + write_heads
        self.head_layer = nn.Linear(controller_size, heads * self.per_head + write_heads * 2 * memory_width)
        self.output_layer = nn.Linear(controller_size + read_heads * memory_width, output_size)

    def initial_state(self, batch_size: int, memory_size: int | None = None) -> NTMState:
        """Memory filled with ``memory_init``; every head focused on location 0; zero controller state.

        ``memory_size`` overrides the number of locations: no weight depends on it, so a machine trained with a
        small memory runs unchanged with a larger one (how it copies sequences longer than its training memory).
        """
        size = self.memory_size if memory_size is None else memory_size
        if isinstance(size, bool) or not isinstance(size, int) or size < self.shift_size // 2 or size < 1:
            raise ValueError(f"memory_size must be a positive int of at least the shift radius, got {size!r}")
        checks.model_numbers(f"a memory of {size:,} locations for {batch_size:,} sequences",
                             batch_size * size * self.memory_width, "use a smaller memory_size or batch")
        like = {"device": self.head_layer.weight.device, "dtype": self.head_layer.weight.dtype}
        memory = torch.full((batch_size, size, self.memory_width), self.memory_init, **like)
        focus = torch.zeros(batch_size, 1, size, **like)
        focus[..., 0] = 1.0
        reads = torch.full((batch_size, self.read_heads, self.memory_width), self.memory_init, **like)
        controller: tuple[Tensor, ...] = ()
        if self.controller_kind == "lstm":
            hidden = self.controller.hidden_size  # type: ignore[union-attr]
            controller = (torch.zeros(batch_size, hidden, **like), torch.zeros(batch_size, hidden, **like))
        return NTMState(memory, focus.expand(-1, self.read_heads, -1), focus.expand(-1, self.write_heads, -1),
                        reads, controller)

    def head_parameters(self, hidden: Tensor) -> tuple[HeadParameters, Tensor, Tensor]:
        """Split the head layer's output into squashed parameters for all heads, plus erase and add vectors."""
        batch, heads, width = hidden.shape[0], self.read_heads + self.write_heads, self.memory_width
        # one split per tensor instead of one slice per parameter: fewer small ops, forward and backward
        per_head, writes = self.head_layer(hidden).split([heads * self.per_head, self.write_heads * 2 * width], 1)
        key, beta, gate, shifts, gamma = per_head.view(batch, heads, self.per_head).split(
            [width, 1, 1, self.shift_size, 1], dim=-1)
        params = HeadParameters(key, F.softplus(beta).squeeze(-1), torch.sigmoid(gate).squeeze(-1),
                                torch.softmax(shifts, -1), 1.0 + F.softplus(gamma).squeeze(-1))
        erase, add = writes.view(batch, self.write_heads, 2, width).unbind(2)
        return params, torch.sigmoid(erase), torch.tanh(add)

    def advance(self, x: Tensor, state: NTMState) -> tuple[Tensor, NTMState, Tensor]:
        """One time step without the output layer: returns (the controller output h (B, controller_size), the new
        state, erase/add vectors (B, Wh, 2, W)). The output layer sees h and the new reads (``step``)."""
        controller_input = torch.cat([x, state.reads.flatten(1)], dim=1)
        if self.controller_kind == "lstm":
            h, c = self.controller(controller_input, state.controller)
            controller_state: tuple[Tensor, ...] = (h, c)
        else:
            h, controller_state = self.controller(controller_input), ()
        params, erase, add = self.head_parameters(h)
        previous = torch.cat([state.read_weights, state.write_weights], dim=1)
        weights = address(state.memory, params, previous).weights
        read_weights, write_weights = weights.split([self.read_heads, self.write_heads], dim=1)
        reads = read_memory(state.memory, read_weights)
        memory = write_memory(state.memory, write_weights, erase, add)
        erase_add = torch.stack([erase, add], dim=2)
        return h, NTMState(memory, read_weights, write_weights, reads, controller_state), erase_add

    def step(self, x: Tensor, state: NTMState) -> tuple[Tensor, NTMState, Tensor]:
        """One time step: returns (logits (B, outputs), the new state, erase/add vectors (B, Wh, 2, W))."""
        h, state, erase_add = self.advance(x, state)
        return self.output_layer(torch.cat([h, state.reads.flatten(1)], dim=1)), state, erase_add

    def forward(self, inputs: Tensor, memory_size: int | None = None) -> NTMOutput:
        """Run over ``inputs`` (B, T, input_size) from the initial state (with ``memory_size`` locations).

        The same numbers as ``step`` at every time step, but the output layer runs once over all steps (one matrix
        product instead of T small ones, forward and backward)."""
        checks.step_inputs(inputs, self.input_size)
        state = self.initial_state(inputs.shape[0], memory_size)
        hidden, read_w, write_w, reads, writes = [], [], [], [], []
        for x in inputs.unbind(1):
            h, state, erase_add = self.advance(x, state)
            hidden.append(h)
            read_w.append(state.read_weights)
            write_w.append(state.write_weights)
            reads.append(state.reads)
            writes.append(erase_add)
        reads_over_time, erase_adds = torch.stack(reads, 1), torch.stack(writes, dim=1)
        logits = self.output_layer(torch.cat([torch.stack(hidden, 1), reads_over_time.flatten(2)], dim=2))
        return NTMOutput(logits, torch.stack(read_w, 1), torch.stack(write_w, 1), reads_over_time,
                         erase_adds[:, :, :, 0], erase_adds[:, :, :, 1], state.memory)


class LSTMBaseline(nn.Module):
    """A stacked LSTM with a linear read-out: the memory-less baseline of Graves et al. (2014), Section 4."""

    def __init__(self, input_size: int, output_size: int, hidden_size: int = 128, layers: int = 1) -> None:
        super().__init__()
        self.input_size = input_size
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=layers, batch_first=True)
        self.output_layer = nn.Linear(hidden_size, output_size)

    def forward(self, inputs: Tensor) -> Tensor:
        """``inputs`` (B, T, input_size) -> logits (B, T, output_size)."""
        checks.step_inputs(inputs, self.input_size)
        return self.output_layer(self.lstm(inputs)[0])
