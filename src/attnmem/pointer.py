"""Pointer networks: attention over the inputs *is* the output (Vinyals, Fortunato & Jaitly 2015).

A sequence-to-sequence model with attention (chapter 3) mixes the encoder's states into a context and then chooses
a word from a fixed vocabulary. A pointer network stops at the attention weights: at decoding step i they are the
distribution over the input positions, so the answer is "input number j", for any number of inputs (Eq. 3):

    u_j^i = v · tanh(W_1 e_j + W_2 d_i),        p(C_i | C_1..C_{i-1}, P) = softmax(u^i),

with the encoder states e_j, the decoder state d_i and chapter 1's additive score (``attention.AdditiveScore``).
A *mask* removes the positions already chosen (and padding) before the softmax, so no index comes twice; it can be
switched off to see what goes wrong without it. A model that ``closes`` (the convex hull) keeps its first choice
available and ends when it points there again.

The decoder's input at each step is the embedding of the point chosen last (a learned vector at the first step).
``forward`` is teacher forcing; ``greedy`` and ``beam`` decode, and all three return the pointer distributions as
data (``Pointed``).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from attnmem.attention import AdditiveScore, masked_softmax

__all__ = ["PointerDecoding", "PointerNetwork", "Encoded", "Pointed", "pointer_distribution", "chosen_mask",
           "repeated_indices"]


class Encoded(NamedTuple):
    """What the encoder hands the decoder."""

    states: Tensor  # (B, N, H) e_j; zero past lengths
    keys: Tensor  # (B, N, A) W_1 e_j, computed once
    points: Tensor  # (B, N, H) the embedded input points (fed back as decoder inputs)
    real: Tensor  # (B, N) bool: True at real (not padding) positions
    final: tuple[Tensor, Tensor]  # the encoder LSTM's last (h, c), each (B, H): the decoder's first state


class Pointed(NamedTuple):
    """Decoded (or teacher-forced) output: the positions chosen and the pointer distribution of every step."""

    indices: Tensor  # (B, T) long: the position chosen at each step; -1 after the output ended
    lengths: Tensor  # (B,) long: the number of steps of each output (the closing step included)
    distributions: Tensor  # (B, T, N): p(C_i | ...) over the input positions; zero rows after the output ended


def pointer_distribution(query: Tensor, keys: Tensor, v: Tensor, w_query: Tensor, available: Tensor) -> Tensor:
    """Eq. 3 for one step: ``softmax(v · tanh(W_1 e_j + W_2 d_i))`` over the available positions.

    ``query`` is d_i (B, H), ``keys`` the precomputed W_1 e_j (B, N, A); ``available`` (B, N) is False at positions
    that are masked (chosen before, or padding), which get exactly zero probability.
    """
    scores = torch.tanh(keys + (query @ w_query).unsqueeze(1)) @ v  # u_j, (B, N)
    return masked_softmax(scores, available)


def chosen_mask(indices: Tensor, size: int, keep_first: bool) -> Tensor:
    """(B, T, N) bool: True at the positions chosen *before* each step; with ``keep_first`` the first choice stays
    available, so a closing model can point at it again. ``indices`` is (B, T) with -1 past the end."""
    chosen = nn.functional.one_hot(indices.clamp_min(0), size).bool() & (indices >= 0).unsqueeze(-1)
    before = torch.cumsum(chosen.long(), 1).bool()
    before = torch.cat([torch.zeros_like(before[:, :1]), before[:, :-1]], 1)
    if keep_first:
        before = before & ~chosen[:, :1]
    return before


def repeated_indices(indices: Tensor, lengths: Tensor, closes: bool) -> Tensor:
    """(B,) how many outputs repeat a position already output (a closing model's last step not counted)."""
    counts = torch.zeros(indices.shape[0], dtype=torch.long)
    for b in range(indices.shape[0]):
        steps = indices[b, : int(lengths[b])].tolist()
        if closes and len(steps) > 1 and steps[-1] == steps[0]:
            steps = steps[:-1]
        counts[b] = len(steps) - len(set(steps))
    return counts


def _shape(t: object) -> str:
    return str(tuple(t.shape)) if isinstance(t, Tensor) else type(t).__name__


def _check_inputs(model: "PointerDecoding", points: Tensor, lengths: Tensor, targets: Tensor | None = None) -> None:
    """Clear errors for inputs that do not fit the model (kept out of the code the chapter shows)."""
    if not isinstance(points, Tensor) or points.dim() != 3 or points.shape[-1] != model.input_size:
        raise ValueError(f"points must be a (batch, n, {model.input_size}) tensor, got {_shape(points)}; a single "
                         f"example is points.unsqueeze(0), and a task's PointBatch has them ready")
    if not points.is_floating_point():
        raise TypeError(f"points must hold floating point numbers, got {points.dtype}; use points.float()")
    if not isinstance(lengths, Tensor) or lengths.shape != (points.shape[0],) or lengths.dtype != torch.long:
        raise ValueError(f"lengths must be a LongTensor with one number of points per example, shape "
                         f"({points.shape[0]},), got {_shape(lengths)}")
    if bool((lengths < 1).any()) or bool((lengths > points.shape[1]).any()):
        raise ValueError(f"lengths must be between 1 and {points.shape[1]} (the padded width), got {lengths.tolist()}")
    if targets is None:
        return
    if not isinstance(targets, Tensor) or targets.dim() != 2 or targets.shape[0] != points.shape[0] or \
            targets.dtype != torch.long:
        raise ValueError(f"targets must be a (batch, steps) LongTensor of positions with the batch of points "
                         f"{tuple(points.shape)}, got {_shape(targets)}")
    if bool((targets < -1).any()) or bool((targets >= lengths.unsqueeze(1)).any()):
        raise ValueError("targets must be positions 0 .. n-1 of their example's points, or -1 after the output "
                         "ends; one points past its example's length")


class PointerDecoding(nn.Module):
    """Greedy and beam decoding for any pointer model that provides ``encode``, ``step`` and the hooks ``_begin``
    (the first step's input and state), ``_fed`` (the next step's input from a chosen index) and ``_repeat``
    (the encoding of every example repeated k times, for the beam). ``closes`` and ``mask_chosen`` as below."""

    input_size: int
    closes: bool
    mask_chosen: bool

    def _max_steps(self, lengths: Tensor) -> Tensor:
        return lengths + 1 if self.closes else lengths

    @torch.no_grad()
    def greedy(self, points: Tensor, lengths: Tensor, mask_chosen: bool | None = None) -> Pointed:
        """Choose the most probable position at every step. Without ``closes`` an output has one step per point;
        with it, the output ends when the first choice is chosen again (or after n + 1 steps)."""
        _check_inputs(self, points, lengths)
        mask_chosen = self.mask_chosen if mask_chosen is None else mask_chosen
        encoded = self.encode(points, lengths)
        batch, size = encoded.real.shape
        limit = self._max_steps(lengths)
        chosen = torch.zeros(batch, size, dtype=torch.bool)
        done = torch.zeros(batch, dtype=torch.bool)
        fed, state = self._begin(encoded)
        indices, rows = [], []
        for i in range(int(limit.max())):
            available = encoded.real & ~chosen if mask_chosen else encoded.real
            distribution, state = self.step(fed, state, encoded, available)
            index = distribution.argmax(-1).masked_fill(done, -1)
            indices.append(index)
            rows.append(distribution.masked_fill(done.unsqueeze(1), 0.0))
            first = indices[0]
            live = ~done
            chosen[live, index[live]] = True
            if self.closes:
                chosen[live, first[live]] = False
                done = done | (i > 0) & (index == first)
            done = done | (i + 1 >= limit)
            fed = self._fed(encoded, index)
            if bool(done.all()):
                break
        indices_t = torch.stack(indices, 1)
        return Pointed(indices_t, (indices_t >= 0).sum(1), torch.stack(rows, 1))

    @torch.no_grad()
    def beam(self, points: Tensor, lengths: Tensor, beam_size: int = 5, mask_chosen: bool | None = None) -> Pointed:
        """Beam search per example: keep the ``beam_size`` most probable partial outputs at every step, and return
        the most probable complete one (ties to the first found). For models that do not close (sorting, tours),
        every output has one step per point, so their log-probabilities compare fairly."""
        _check_inputs(self, points, lengths)
        if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
            raise ValueError(f"beam_size must be a positive int, got {beam_size!r}")
        mask_chosen = self.mask_chosen if mask_chosen is None else mask_chosen
        encoded = self.encode(points, lengths)
        batch, size = encoded.real.shape
        k = beam_size
        flat = self._repeat(encoded, k)  # row b * k + beam
        limit = self._max_steps(lengths).repeat_interleave(k)
        score = torch.full((batch, k), float("-inf"))
        score[:, 0] = 0.0
        chosen = torch.zeros(batch * k, size, dtype=torch.bool)
        done = torch.zeros(batch * k, dtype=torch.bool)
        fed, state = self._begin(flat)
        history = torch.zeros(batch * k, 0, dtype=torch.long)
        dists = torch.zeros(batch * k, 0, size)
        for i in range(int(limit.max())):
            available = flat.real & ~chosen if mask_chosen else flat.real
            distribution, state = self.step(fed, state, flat, available)
            log_p = distribution.clamp_min(1e-30).log().masked_fill(~available, float("-inf"))
            log_p[done] = float("-inf")
            log_p[done, 0] = 0.0  # a finished output continues once, with nothing added
            total = (score.reshape(-1, 1) + log_p).reshape(batch, k * size)
            score, best = total.topk(k, dim=-1)
            parent = (best // size + torch.arange(batch).unsqueeze(1) * k).flatten()
            index = (best % size).flatten()
            was_done = done[parent]
            index = index.masked_fill(was_done, -1)
            state = tuple(s[parent] for s in state)
            chosen, history, dists = chosen[parent], history[parent], dists[parent]
            distribution = distribution[parent].masked_fill(was_done.unsqueeze(1), 0.0)
            history = torch.cat([history, index.unsqueeze(1)], 1)
            dists = torch.cat([dists, distribution.unsqueeze(1)], 1)
            rows = torch.arange(batch * k)[~was_done]
            chosen[rows, index[~was_done]] = True
            if self.closes:
                chosen[rows, history[~was_done, 0]] = False
                done = was_done | (i > 0) & (index == history[:, 0])
            else:
                done = was_done.clone()
            done = done | (i + 1 >= limit)
            fed = self._fed(flat, index)
            if bool(done.all()):
                break
        top = torch.arange(batch) * k  # topk sorts, so beam 0 is the best
        indices = history[top]
        return Pointed(indices, (indices >= 0).sum(1), dists[top])


class PointerNetwork(PointerDecoding):
    """An LSTM encoder over the input points and an LSTM decoder whose additive attention is the output.

    ``input_size`` is the size of a point (2 on the plane, 1 for numbers); ``mask_chosen`` removes positions already
    chosen; ``closes`` keeps the first choice available and ends the output when the model points at it again;
    ``attention`` is the width of the pointer's additive score (the size of v; default ``hidden``).
    """

    def __init__(self, input_size: int = 2, hidden: int = 128, mask_chosen: bool = True, closes: bool = False,
                 attention: int | None = None) -> None:
        super().__init__()
        self.input_size, self.hidden, self.mask_chosen, self.closes = input_size, hidden, mask_chosen, closes
        self.embed = nn.Linear(input_size, hidden)
        self.encoder = nn.LSTM(hidden, hidden, batch_first=True)
        self.decoder = nn.LSTMCell(hidden, hidden)
        self.first_input = nn.Parameter(torch.zeros(hidden))
        self.pointer = AdditiveScore(hidden, hidden, attention or hidden)

    def encode(self, points: Tensor, lengths: Tensor) -> Encoded:
        """Run the encoder LSTM over each example's real points."""
        embedded = self.embed(points)
        packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        states, (h, c) = self.encoder(packed)
        states, _ = pad_packed_sequence(states, batch_first=True, total_length=points.shape[1])
        real = torch.arange(points.shape[1]) < lengths.unsqueeze(1)
        return Encoded(states, states @ self.pointer.w_key, embedded, real, (h[0], c[0]))

    def step(self, previous: Tensor, state: tuple[Tensor, Tensor], encoded: Encoded,
             available: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """One decoding step: the previous choice's embedding in, the pointer distribution over positions out."""
        h, c = self.decoder(previous, state)
        distribution = pointer_distribution(h, encoded.keys, self.pointer.v, self.pointer.w_query, available)
        return distribution, (h, c)

    def _begin(self, encoded: Encoded) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """The first step is fed a learned vector and starts from the encoder's final state."""
        return self.first_input.expand(encoded.states.shape[0], -1), encoded.final

    def _repeat(self, encoded: Encoded, k: int) -> Encoded:
        return Encoded(*(t.repeat_interleave(k, 0) for t in encoded[:4]),
                       tuple(t.repeat_interleave(k, 0) for t in encoded.final))

    def _fed(self, encoded: Encoded, index: Tensor) -> Tensor:
        """The embedding of the point chosen at the last step, one per example (B, H)."""
        return encoded.points[torch.arange(index.shape[0]), index.clamp_min(0)]

    def forward(self, points: Tensor, lengths: Tensor, targets: Tensor) -> Pointed:
        """Teacher forcing: step i is fed the true choice of step i-1 and masks the true choices before it."""
        _check_inputs(self, points, lengths, targets)
        encoded = self.encode(points, lengths)
        available = encoded.real.unsqueeze(1).expand(-1, targets.shape[1], -1)
        if self.mask_chosen:
            available = available & ~chosen_mask(targets, points.shape[1], self.closes)
        (fed, state), rows = self._begin(encoded), []
        for i in range(targets.shape[1]):
            distribution, state = self.step(fed, state, encoded, available[:, i])
            rows.append(distribution)
            fed = self._fed(encoded, targets[:, i])
        return Pointed(targets, (targets >= 0).sum(1), torch.stack(rows, 1))
