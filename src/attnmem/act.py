"""Adaptive computation time: a recurrent network that learns how many steps to think (Graves 2016).

Equations are those of Graves (2016), "Adaptive Computation Time for Recurrent Neural Networks", Section 2.
At input step t the wrapped cell S runs for n = 1, 2, ... internal *ponder* steps on the same input, with a flag
bit that marks the first one (x_t^n = x_t + δ_{n,1}):

    s_t^n = S(s_t^{n-1}, x_t^n),   s_t^0 = s_{t-1}
    y_t^n = W_y s_t^n + b_y
    h_t^n = σ(W_h s_t^n + b_h)       the halting unit

It stops at N(t), the first n where the halting units add up to at least 1 - ε (or at ``max_steps``).
The last step gets the *remainder* R(t) = 1 - Σ_{n<N} h_t^n, the others their h_t^n, so the halting
probabilities p_t^n sum to one: an attention distribution over the number of steps. State and output are
the p-weighted means s_t = Σ_n p_t^n s_t^n and y_t = Σ_n p_t^n y_t^n. The *ponder cost*
ρ_t = N(t) + R(t) is added to the task loss with weight τ; N is a step count with no gradient,
so the cost is lowered through R, by pushing earlier halting units up.

``AdaptiveRNN`` wraps a tanh RNN, GRU or LSTM cell; ``FixedStepRNN`` is the same network with a fixed number of
steps and no halting unit (the paper's baseline). Both return an ``ACTOutput`` with the step counts and halting
probabilities as data. Training them on parity is ``attnmem.training.act``.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Union

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from attnmem import checks

__all__ = [
    "ACTOutput",
    "make_cell",
    "AdaptiveRNN",
    "FixedStepRNN",
    "halting_distribution",
    "ponder_cost",
]

State = Union[Tensor, "tuple[Tensor, Tensor]"]
CELLS = {"rnn": nn.RNNCell, "tanh": nn.RNNCell, "gru": nn.GRUCell, "lstm": nn.LSTMCell}


class ACTOutput(NamedTuple):
    """What an adaptive (or fixed-step) RNN returns: outputs, final state, and how long it pondered."""

    outputs: Tensor  # (B, T, output_size): y_t, the p-weighted mean of the step outputs
    state: Any  # the final state s_T: (B, hidden), or (h, c) for an LSTM
    steps: Tensor  # (B, T) long: N(t), the number of ponder steps taken for each input
    remainders: Tensor  # (B, T): R(t) in (0, 1], the halting probability given to the last step
    halting: Tensor  # (B, T, max_steps): p_t^n, zero after step N(t); each row sums to one
    ponder: Tensor  # (B, T): ρ_t = N(t) + R(t), the ponder cost of each input step


def make_cell(kind: str, input_size: int, hidden_size: int) -> nn.Module:
    """A recurrent cell by name: ``"rnn"`` (or ``"tanh"``), ``"gru"`` or ``"lstm"``."""
    if kind not in CELLS:
        raise ValueError(f"unknown cell {kind!r}; choose one of: {', '.join(CELLS)}")
    return CELLS[kind](input_size, hidden_size)


class _Recurrent(nn.Module):
    """The parts both networks share: a cell that reads [x, flag], a linear output layer, the state layout."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, cell: str) -> None:
        super().__init__()
        checks.positive_sizes(input_size=input_size, hidden_size=hidden_size, output_size=output_size)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.cell = make_cell(cell, input_size + 1, hidden_size)  # +1: the first-step flag
        self.is_lstm = isinstance(self.cell, nn.LSTMCell)
        self.output = nn.Linear(hidden_size, output_size)

    def initial_state(self, batch_size: int) -> State:
        zeros = torch.zeros(batch_size, self.hidden_size, device=self.output.weight.device)
        return (zeros, zeros.clone()) if self.is_lstm else zeros

    def hidden(self, state: State) -> Tensor:
        """The part of the state that the output and halting layers read (h for an LSTM, the state otherwise)."""
        return state[0] if self.is_lstm else state

    def step(self, x: Tensor, state: State, first: bool) -> State:
        flag = torch.full_like(x[:, :1], 1.0 if first else 0.0)
        return self.cell(torch.cat([x, flag], dim=-1), state)


def _weighted_add(total: State | None, state: State, weight: Tensor) -> State:
    w = weight.unsqueeze(-1)
    if isinstance(state, tuple):
        if total is None:
            return tuple(w * s for s in state)  # type: ignore[return-value]
        return tuple(t + w * s for t, s in zip(total, state))  # type: ignore[return-value]
    return w * state if total is None else total + w * state


class AdaptiveRNN(_Recurrent):
    """A recurrent cell with adaptive computation time (Graves 2016, Section 2).

    ``cell`` is ``"rnn"`` (tanh), ``"gru"`` or ``"lstm"``. ``epsilon`` lets a single step halt, and
    ``max_steps`` bounds the pondering (the last allowed step takes the remainder). ``halting_bias`` is the halting
    unit's initial bias: 0 starts every input at two steps, negative values at more.
    Each sequence in the batch halts on its own; a halted sequence gets halting probability zero for the
    remaining steps of the batch, so the batch computes exactly what its items would compute one by one.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        cell: str = "rnn",
        max_steps: int = 20,
        epsilon: float = 0.01,
        halting_bias: float = 1.0,
    ) -> None:
        super().__init__(input_size, hidden_size, output_size, cell)
        checks.loop_bounds(max_steps=max_steps)
        if not 0.0 < epsilon < 1.0:
            raise ValueError(f"epsilon must be in (0, 1), got {epsilon}; the paper uses 0.01")
        self.max_steps, self.epsilon = max_steps, epsilon
        self.halting_unit = nn.Linear(hidden_size, 1)
        nn.init.constant_(self.halting_unit.bias, halting_bias)

    def ponder_step(self, x: Tensor, state: State) -> tuple[Tensor, State, Tensor, Tensor, Tensor, Tensor]:
        """Ponder on one input step x (B, input_size): returns (y_t, s_t, N, R, p, ρ) for every sequence."""
        batch = x.shape[0]
        running = torch.ones(batch, dtype=torch.bool, device=x.device)
        cumulative = torch.zeros(batch, device=x.device)  # Σ h over the steps taken so far, excluding the last
        steps = torch.zeros(batch, dtype=torch.long, device=x.device)
        remainders = torch.zeros(batch, device=x.device)
        probabilities = []
        mean_state: State | None = None
        mean_output: Tensor | None = None
        for n in range(self.max_steps):
            state = self.step(x, state, first=n == 0)
            hidden = self.hidden(state)
            halt = torch.sigmoid(self.halting_unit(hidden)).squeeze(-1)
            last = n == self.max_steps - 1
            stops = running & ((cumulative + halt >= 1.0 - self.epsilon) | last)
            remainder = 1.0 - cumulative
            p = torch.where(stops, remainder, torch.where(running, halt, torch.zeros_like(halt)))
            probabilities.append(p)
            mean_state = _weighted_add(mean_state, state, p)
            output = self.output(hidden)
            mean_output = p.unsqueeze(-1) * output if mean_output is None else mean_output + p.unsqueeze(-1) * output
            remainders = torch.where(stops, remainder, remainders)
            steps = torch.where(stops, n + 1, steps)
            cumulative = cumulative + torch.where(running & ~stops, halt, torch.zeros_like(halt))
            running = running & ~stops
            if not bool(running.any()):
                break
        halting = F.pad(torch.stack(probabilities, dim=-1), (0, self.max_steps - len(probabilities)))
        return mean_output, mean_state, steps, remainders, halting, steps + remainders  # type: ignore[return-value]

    def forward(self, inputs: Tensor, state: State | None = None) -> ACTOutput:
        """Run over ``inputs`` (B, T, input_size), pondering at every input step; returns an ``ACTOutput``."""
        checks.step_inputs(inputs, self.input_size)
        state = self.initial_state(inputs.shape[0]) if state is None else state
        results = []
        for t in range(inputs.shape[1]):
            output, state, steps, remainders, probabilities, ponder = self.ponder_step(inputs[:, t], state)
            results.append((output, steps, remainders, probabilities, ponder))
        outputs, steps, remainders, halting, ponder = (torch.stack(parts, dim=1) for parts in zip(*results))
        return ACTOutput(outputs, state, steps, remainders, halting, ponder)


class FixedStepRNN(_Recurrent):
    """The baseline without ACT: the same cell runs exactly ``steps`` times per input (1 = a plain RNN).

    Its ``ACTOutput`` reads like a network that may only halt at the last step: N = ``steps``, R = 1, and all
    the halting probability on the last step, so plots and ponder costs treat both networks alike.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, cell: str = "rnn", steps: int = 1) -> None:
        super().__init__(input_size, hidden_size, output_size, cell)
        checks.loop_bounds(steps=steps)
        self.steps = steps

    def forward(self, inputs: Tensor, state: State | None = None) -> ACTOutput:
        checks.step_inputs(inputs, self.input_size)
        batch, length = inputs.shape[:2]
        state = self.initial_state(batch) if state is None else state
        outputs = []
        for t in range(length):
            for n in range(self.steps):
                state = self.step(inputs[:, t], state, first=n == 0)
            outputs.append(self.output(self.hidden(state)))
        halting = torch.zeros(batch, length, self.steps, device=inputs.device)
        halting[..., -1] = 1.0
        steps = torch.full((batch, length), self.steps, dtype=torch.long, device=inputs.device)
        ones = torch.ones(batch, length, device=inputs.device)
        return ACTOutput(torch.stack(outputs, dim=1), state, steps, ones, halting, steps + ones)


def halting_distribution(halting_units: Tensor, epsilon: float = 0.01, max_steps: int | None = None) -> Tensor:
    """The halting probabilities p^n from a row of halting-unit values h^1, h^2, ... (any leading dims).

    A reference for one step sequence, written plainly: the chapter builds it by hand and checks the model.
    """
    if halting_units.dim() < 1 or halting_units.shape[-1] == 0:
        raise ValueError(f"halting_units must have a last dimension of ponder steps, got {tuple(halting_units.shape)}")
    limit = halting_units.shape[-1] if max_steps is None else min(max_steps, halting_units.shape[-1])
    before = torch.cumsum(halting_units[..., :limit], dim=-1) - halting_units[..., :limit]  # Σ_{m<n} h^m
    reached = before + halting_units[..., :limit] >= 1.0 - epsilon
    reached[..., -1] = True
    first = reached.float().argmax(dim=-1, keepdim=True)  # N - 1
    index = torch.arange(limit, device=halting_units.device)
    p = torch.where(index < first, halting_units[..., :limit], torch.zeros_like(halting_units[..., :limit]))
    remainder = 1.0 - before.gather(-1, first)
    p = p.scatter(-1, first, remainder)
    return F.pad(p, (0, halting_units.shape[-1] - limit))


def ponder_cost(result: ACTOutput, mask: Tensor | None = None) -> Tensor:
    """P(x) = Σ_t ρ_t per sequence, averaged over the batch; ``mask`` (B, T) drops padded steps."""
    ponder = result.ponder if mask is None else result.ponder * mask.to(result.ponder.dtype)
    return ponder.sum(dim=1).mean()
