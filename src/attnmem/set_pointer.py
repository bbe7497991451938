"""A pointer network that reads a *set*: a self-attention encoder and a decoder without recurrence.

The LSTM pointer network (``attnmem.pointer``, Vinyals, Fortunato & Jaitly 2015) reads the points as a sequence and
carries a decoder state from step to step. Neither fits a set problem: the input order means nothing, and the next
vertex of a convex hull (or the next city of a tour, if we stay greedy) depends only on the set, the point chosen
last and the point chosen first. So, after Vinyals, Bengio & Kudlur (2016, "Order matters", Sec. 4: a read of the
set that does not depend on its order) and Kool, van Hoof & Welling (2019, "Attention, learn to solve routing
problems!", Sec. 3):

- **Encoder** (Kool et al. Eq. 1-4): the points embedded linearly, then chapter 10's self-attention layers
  (``attnmem.transformer.EncoderLayer``) with no position encoding, so permuting the points permutes the states
  h_j and changes nothing else; padding is masked.
- **Context** (Kool et al. Eq. 5): the query of step i is q_i = W_c [h_mean; h_first; h_last], the mean of the states
  and the states of the first and of the last chosen point (learned vectors in their place before anything was
  chosen). It does not depend on earlier queries, so teacher forcing computes every step in one batched pass.
- **Glimpse** (Kool et al. Eq. 6, after Bello et al. 2016): q_i reads the states of the available points with
  multi-head attention, g_i = MHA(q_i, h, h), before pointing.
- **Pointer** (Vinyals et al. 2015, Eq. 3): chapter 1's additive score u_ij = v · tanh(W_1 h_j + W_2 g_i), softmax
  over the available positions: the same mask, the same ``closes`` behaviour and the same ``Pointed`` output as
  ``PointerNetwork``. With ``relative`` the score also sees where each candidate lies from the last chosen point,
  u_ij = v · tanh(W_1 h_j + W_2 g_i + W_3 phi_ij), with phi_ij the offset r = x_j - x_last and its direction
  r / |r| in the frame of the last move (``relative_features``): the next hull vertex is the point of the smallest
  turn, and a direction is a division no sum of tanh units makes exactly. The decoding state is then the first and
  the one-before-last choice, still no recurrence.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from attnmem.attention import AdditiveScore, masked_softmax
from attnmem.pointer import Pointed, PointerDecoding, _check_inputs, chosen_mask
from attnmem.transformer import EncoderLayer, MultiHeadAttention, padding_mask

__all__ = ["SetEncoded", "SetPointerNetwork", "relative_features"]


class SetEncoded(NamedTuple):
    """What the set encoder hands the decoder (every field batch first, so a beam can repeat them)."""

    states: Tensor  # (B, N, d) h_j
    keys: Tensor  # (B, N, A) W_1 h_j, computed once
    mean: Tensor  # (B, d) the mean of the real states
    points: Tensor  # (B, N, input_size) the input points (for the relative score)
    real: Tensor  # (B, N) bool: True at real (not padding) positions


def _unit(v: Tensor) -> Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-6)


def relative_features(points: Tensor, last: Tensor, previous: Tensor, heading: Tensor) -> Tensor:
    """phi (B, T, N, 5): where each point lies from the last chosen one, r = x_j - x_last, in the frame of the last
    move e = (x_last - x_previous) / |x_last - x_previous| (``heading``, a unit 2-vector, before there is a move):
    [r . e, r x e_perp, |r|, and the same two for r / |r|]. ``points`` (B, N, 2); ``last``, ``previous`` (B, T)
    with -1 where nothing was chosen yet: at the first step every r is zero."""
    batch = torch.arange(points.shape[0]).unsqueeze(1)
    x_last, x_previous = points[batch, last.clamp_min(0)], points[batch, previous.clamp_min(0)]  # (B, T, 2)
    move = torch.where((previous >= 0).unsqueeze(-1), _unit(x_last - x_previous), _unit(heading))
    r = (points.unsqueeze(1) - x_last.unsqueeze(2)) * (last >= 0)[..., None, None]  # (B, T, N, 2)
    along, left = move[..., None, 0:1], move[..., None, 1:2]  # (B, T, 1, 1)

    def in_frame(v: Tensor) -> Tensor:  # components along the move and to its left
        return torch.cat([v[..., 0:1] * along + v[..., 1:2] * left, v[..., 1:2] * along - v[..., 0:1] * left], -1)

    length = r.norm(dim=-1, keepdim=True)
    return torch.cat([in_frame(r), length, in_frame(r / length.clamp_min(1e-6))], -1)


class SetPointerNetwork(PointerDecoding):
    """Self-attention encoder over the set, a context query (mean, first, last), a glimpse and an additive pointer.

    ``input_size``, ``mask_chosen`` and ``closes`` as in ``PointerNetwork``; ``d_model``, ``heads``, ``layers`` and
    ``d_ff`` size chapter 10's encoder layers; ``attention`` is the width of the pointer's score (default
    ``d_model``); ``glimpse`` and ``relative`` switch the glimpse and the relative score on.
    """

    def __init__(self, input_size: int = 2, d_model: int = 128, heads: int = 8, layers: int = 3, d_ff: int = 512,
                 mask_chosen: bool = True, closes: bool = False, attention: int | None = None, glimpse: bool = True,
                 relative: bool = False) -> None:
        super().__init__()
        self.input_size, self.mask_chosen, self.closes, self.relative = input_size, mask_chosen, closes, relative
        self.embed = nn.Linear(input_size, d_model)
        self.layers = nn.ModuleList(EncoderLayer(d_model, heads, d_ff, 0.0) for _ in range(layers))
        self.final_norm = nn.LayerNorm(d_model)  # pre-norm layers leave their output unnormalised
        self.placeholder = nn.Parameter(torch.randn(2, d_model))  # h_first, h_last before the first choice
        self.context = nn.Linear(3 * d_model, d_model, bias=False)
        self.glimpse = MultiHeadAttention(d_model, heads) if glimpse else None
        width = attention or d_model
        self.pointer = AdditiveScore(d_model, d_model, width)
        if relative and input_size != 2:
            raise ValueError(f"the relative score is for points on the plane (input_size 2), got {input_size}")
        self.w_relative = nn.Linear(5, width, bias=False) if relative else None
        self.heading = nn.Parameter(torch.tensor([0.0, -1.0])) if relative else None  # learned; starts downwards

    def encode(self, points: Tensor, lengths: Tensor) -> SetEncoded:
        """Self-attention over each example's real points; the order of the points does not matter."""
        real = torch.arange(points.shape[1]) < lengths.unsqueeze(1)
        x = self.embed(points)
        for layer in self.layers:
            x, _ = layer(x, padding_mask(lengths, points.shape[1]))
        states = self.final_norm(x) * real.unsqueeze(-1)
        mean = states.sum(1) / lengths.unsqueeze(1)
        return SetEncoded(states, states @ self.pointer.w_key, mean, points, real)

    def point(self, encoded: SetEncoded, first: Tensor, last: Tensor, previous: Tensor, available: Tensor) -> Tensor:
        """The pointer distributions (B, T, N) of T steps at once, given the first, the last and the one-before-last
        chosen positions (B, T) (-1: none yet) and the available positions (B, T, N)."""
        batch = torch.arange(first.shape[0]).unsqueeze(1)

        def state_at(index: Tensor, slot: int) -> Tensor:
            chosen = encoded.states[batch, index.clamp_min(0)]
            return torch.where((index >= 0).unsqueeze(-1), chosen, self.placeholder[slot])

        mean = encoded.mean.unsqueeze(1).expand(-1, first.shape[1], -1)
        query = self.context(torch.cat([mean, state_at(first, 0), state_at(last, 1)], -1))  # q_i, (B, T, d)
        if self.glimpse is not None:
            query = self.glimpse(query, encoded.states, available.unsqueeze(1)).context  # g_i
        hidden = encoded.keys.unsqueeze(1) + (query @ self.pointer.w_query).unsqueeze(2)  # (B, T, N, A)
        if self.w_relative is not None:
            hidden = hidden + self.w_relative(relative_features(encoded.points, last, previous, self.heading))
        return masked_softmax(torch.tanh(hidden) @ self.pointer.v, available)

    def forward(self, points: Tensor, lengths: Tensor, targets: Tensor) -> Pointed:
        """Teacher forcing in one pass: step i points given the true first choice and the true choice of step i-1,
        with the true choices before it masked."""
        _check_inputs(self, points, lengths, targets)
        encoded = self.encode(points, lengths)
        available = encoded.real.unsqueeze(1).expand(-1, targets.shape[1], -1)
        if self.mask_chosen:
            available = available & ~chosen_mask(targets, points.shape[1], self.closes)
        none = torch.full_like(targets[:, :1], -1)
        last = torch.cat([none, targets[:, :-1].clamp_min(0)], 1)
        previous = torch.cat([none, last[:, :-1]], 1)
        first = torch.cat([none, targets[:, :1].expand(-1, targets.shape[1] - 1)], 1)
        return Pointed(targets, (targets >= 0).sum(1), self.point(encoded, first, last, previous, available))

    # --- the hooks of PointerDecoding's greedy and beam: the decoding state is the first choice and the one before
    # the last (-1: none yet) ---
    def step(self, previous: Tensor, state: tuple[Tensor, Tensor], encoded: SetEncoded,
             available: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """One decoding step: ``previous`` is the index chosen last (-1 at the first step), ``state`` holds the
        index chosen first and the one chosen before ``previous``."""
        first = torch.where(state[0] >= 0, state[0], previous)
        distribution = self.point(encoded, *(t.unsqueeze(1) for t in (first, previous, state[1], available)))
        return distribution[:, 0], (first, previous)

    def _begin(self, encoded: SetEncoded) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        none = torch.full((encoded.states.shape[0],), -1, dtype=torch.long)
        return none, (none, none)

    def _fed(self, encoded: SetEncoded, index: Tensor) -> Tensor:
        return index

    def _repeat(self, encoded: SetEncoded, k: int) -> SetEncoded:
        return SetEncoded(*(t.repeat_interleave(k, 0) for t in encoded))
