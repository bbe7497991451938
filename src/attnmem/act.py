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
probabilities as data. The zoo recipes train both on parity, and sweep τ.
"""
from __future__ import annotations

import time
from typing import Any, NamedTuple, Union

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from attnmem.tasks.algorithmic import ParityBatch, parity_batch

__all__ = [
    "ACTOutput",
    "make_cell",
    "AdaptiveRNN",
    "FixedStepRNN",
    "halting_distribution",
    "ponder_cost",
    "parity_loss",
    "evaluate_parity",
    "curriculum_nonzeros",
    "decayed_lr",
    "train_parity",
    "TAU_SWEEP",
    "TauSweep",
    "ACT_PARITY_RECIPE",
    "ACT_PARITY_FIXED_RECIPE",
    "ACT_PARITY_TAU_SWEEP_RECIPE",
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


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def _check_inputs(inputs: Tensor, input_size: int) -> None:
    if not isinstance(inputs, Tensor) or inputs.dim() != 3 or inputs.shape[-1] != input_size:
        shape = tuple(inputs.shape) if isinstance(inputs, Tensor) else type(inputs).__name__
        raise ValueError(
            f"inputs must be a (batch, steps, {input_size}) tensor, got {shape}; a single vector x of one step "
            f"is x.view(1, 1, -1)"
        )
    if inputs.shape[0] == 0 or inputs.shape[1] == 0:
        raise ValueError(f"inputs {tuple(inputs.shape)} are empty: give at least one sequence of one step")


class _Recurrent(nn.Module):
    """The parts both networks share: a cell that reads [x, flag], a linear output layer, the state layout."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, cell: str) -> None:
        super().__init__()
        _check_sizes(input_size=input_size, hidden_size=hidden_size, output_size=output_size)
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
        _check_sizes(max_steps=max_steps)
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
        _check_inputs(inputs, self.input_size)
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
        _check_sizes(steps=steps)
        self.steps = steps

    def forward(self, inputs: Tensor, state: State | None = None) -> ACTOutput:
        _check_inputs(inputs, self.input_size)
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


# --- parity (Graves 2016, Section 3.1) -------------------------------------------------------------------------


def parity_loss(model: nn.Module, batch: ParityBatch, tau: float = 0.0) -> tuple[Tensor, dict[str, float]]:
    """Binary cross-entropy on the parity bit plus τ times the ponder cost."""
    if tau < 0:
        raise ValueError(f"the time penalty tau must be non-negative, got {tau}")
    result = model(batch.inputs)
    if result.outputs.shape != (*batch.targets.shape, 1):
        raise ValueError(
            f"a parity model needs one output per input, shape {(*batch.targets.shape, 1)}; got "
            f"{tuple(result.outputs.shape)}: build it with output_size=1"
        )
    task = F.binary_cross_entropy_with_logits(result.outputs.squeeze(-1), batch.targets)
    ponder = ponder_cost(result)
    loss = task + tau * ponder if tau > 0 else task
    return loss, {"task_loss": float(task.detach()), "ponder": float(ponder.detach())}


def evaluate_parity(model: nn.Module, length: int, seed: int, n: int = 5000) -> dict[str, float]:
    """Accuracy and pondering on ``n`` fresh parity vectors; does pondering grow with the non-zero count?

    ``steps_corr_nonzeros`` is the Pearson correlation between the step count N and the number of non-zero
    entries; ``steps_easy`` and ``steps_hard`` are the mean N on the quarter of inputs with the fewest and the
    most non-zero entries.
    """
    batch = parity_batch(n, length, seed)
    with torch.no_grad():
        result = model(batch.inputs)
    correct = ((result.outputs.squeeze(-1) > 0).float() == batch.targets).float()
    steps = result.steps.squeeze(1).float()
    nonzeros = batch.nonzeros.float()
    spread = steps.std() * nonzeros.std()
    correlation = float(((steps - steps.mean()) * (nonzeros - nonzeros.mean())).mean() / spread) if spread > 0 else 0.0
    return {
        "accuracy": float(correct.mean()),
        "mean_steps": float(steps.mean()),
        "mean_ponder": float(result.ponder.mean()),
        "steps_corr_nonzeros": correlation,
        "steps_easy": float(steps[nonzeros <= length / 4].mean()),
        "steps_hard": float(steps[nonzeros > 3 * length / 4].mean()),
    }


def build_parity_model(config: dict[str, Any]) -> nn.Module:
    """An ``AdaptiveRNN`` (``config["act"]``) or the ``FixedStepRNN`` baseline for parity vectors."""
    if config["act"]:
        return AdaptiveRNN(config["length"], config["hidden"], 1, config["cell"], config["max_steps"],
                           halting_bias=config["halting_bias"])
    return FixedStepRNN(config["length"], config["hidden"], 1, config["cell"], steps=1)


def curriculum_nonzeros(step: int, length: int, curriculum: int) -> int:
    """The most non-zero entries a parity vector may have at training ``step``: 2 at the start, growing
    linearly to ``length`` over ``curriculum`` steps (0: the paper's full range from the start)."""
    if curriculum <= 0:
        return length
    return min(length, 2 + (length - 2) * step // curriculum)


def decayed_lr(step: int, steps: int, lr: float, lr_final: float) -> float:
    """The learning rate at ``step`` of ``steps``: linear from ``lr`` down to ``lr_final`` (equal: constant)."""
    return lr + (lr_final - lr) * min(1.0, step / steps)


def train_parity(config: dict[str, Any], seed: int, progress: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """Train on fresh parity batches with Adam until the step budget or the accuracy target is reached.

    Three training choices of ours, not in the paper (which trained far longer):

    - a curriculum: over the first ``config["curriculum"]`` steps the vectors have at most 2, then more and
      more non-zero entries (``curriculum_nonzeros``), until they have the paper's 1..L; the length stays L;
    - the learning rate decays linearly from ``config["lr"]`` to ``config["lr_final"]`` over the run;
    - the time penalty starts at zero and ramps up linearly over ``config["tau_warmup"]`` steps. Adam scales
      every gradient to a similar size, so while the parity loss still gives the halting unit no signal, even a
      tiny τ would shrink the pondering to a single step, from which parity cannot be learned.
    """
    from attnmem.training import Target, fit

    torch.manual_seed(seed)
    model = build_parity_model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    tau, warmup, step = config["tau"], config["tau_warmup"], [0]
    length, curriculum, batches = config["length"], config.get("curriculum", 0), [0]

    def loss_fn(model: nn.Module, batch: ParityBatch) -> tuple[Tensor, dict[str, float]]:
        step[0] += 1
        for group in optimizer.param_groups:  # fit calls this once a step, before the optimizer step
            group["lr"] = decayed_lr(step[0], config["steps"], config["lr"], config.get("lr_final", config["lr"]))
        return parity_loss(model, batch, tau * min(1.0, step[0] / warmup) if warmup else tau)

    def next_batch(generator: torch.Generator) -> ParityBatch:
        most = curriculum_nonzeros(batches[0], length, curriculum)
        batches[0] += 1
        return parity_batch(config["batch_size"], length, generator, max_nonzeros=most)

    history = fit(
        model,
        loss_fn,
        next_batch,
        steps=config["steps"],
        optimizer=optimizer,
        seed=seed,
        evaluate=lambda m: evaluate_parity(m, config["length"], seed + 1000, n=2000),
        eval_every=config["eval_every"],
        target=Target("accuracy", config["target_accuracy"]) if config.get("target_accuracy") else None,
        progress=progress,
        desc=f"parity L={config['length']} {'ACT tau=' + str(tau) if config['act'] else 'fixed 1 step'}",
    )
    return model, {"steps": history.steps, "stopped_early": history.stopped_early}


def _evaluate(model: nn.Module, config: dict[str, Any], seed: int) -> dict[str, float]:
    return evaluate_parity(model, config["length"], seed, n=10000)


# --- the τ sweep: several ACT networks, one per time penalty, in one small checkpoint --------------------------

TAU_SWEEP: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 3e-2, 1e-1)


def _tau_key(tau: float) -> str:
    return f"tau_{tau:g}".replace(".", "p").replace("-", "m")


class TauSweep(nn.Module):
    """One ``AdaptiveRNN`` per time penalty τ, trained alike; ``sweep[tau]`` is the model for that τ."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.taus = tuple(config["taus"])
        self.models = nn.ModuleDict({_tau_key(t): build_parity_model({**config, "act": True}) for t in self.taus})

    def __getitem__(self, tau: float) -> nn.Module:
        if _tau_key(tau) not in self.models:
            raise KeyError(f"the sweep has no model for tau={tau:g}; it has tau in {', '.join(f'{t:g}' for t in self.taus)}")
        return self.models[_tau_key(tau)]

    def forward(self, inputs: Tensor) -> ACTOutput:
        raise TypeError("a TauSweep holds one model per tau: call sweep[tau](inputs) instead")


def train_tau_sweep(config: dict[str, Any], seed: int, progress: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """Train one ACT network per τ with the same seed and budget; record each one's training time."""
    sweep = TauSweep(config)
    seconds = {}
    for tau in sweep.taus:
        start = time.perf_counter()
        model, _ = train_parity({**config, "act": True, "tau": tau}, seed, progress)
        sweep.models[_tau_key(tau)].load_state_dict(model.state_dict())
        seconds[f"{tau:g}"] = round(time.perf_counter() - start, 1)
    return sweep, {"seconds_per_tau": seconds}


def _evaluate_sweep(sweep: nn.Module, config: dict[str, Any], seed: int) -> dict[str, float]:
    metrics = {}
    for tau in sweep.taus:
        found = evaluate_parity(sweep[tau], config["length"], seed, n=5000)
        metrics.update({f"{name}@{tau:g}": value for name, value in found.items()
                        if name in ("accuracy", "mean_steps", "mean_ponder")})
    return metrics


def _recipes() -> tuple[Any, Any, Any]:
    from attnmem.zoo import Recipe

    base = {"length": 16, "hidden": 128, "cell": "lstm", "max_steps": 12, "batch_size": 128, "lr": 3e-3,
            "lr_final": 1e-4, "steps": 15000, "eval_every": 500, "halting_bias": -1.0, "tau_warmup": 6000,
            "curriculum": 4000}
    act = Recipe(
        name="act_parity",
        summary="LSTM with adaptive computation time on parity of 16-entry vectors (chapter 8)",
        chapter="08_adaptive_computation_time",
        config={**base, "act": True, "tau": 1e-3, "target_accuracy": 0.99},
        seed=8,
        build=build_parity_model,
        train=train_parity,
        evaluate=_evaluate,
        tolerance={"accuracy": 0.01, "mean_steps": 0.15, "mean_ponder": 0.15, "steps_corr_nonzeros": 0.05,
                   "steps_easy": 0.2, "steps_hard": 0.2},
    )
    fixed = Recipe(
        name="act_parity_fixed",
        summary="the same LSTM with one fixed step per input on the same parity task and budget (chapter 8 baseline)",
        chapter="08_adaptive_computation_time",
        config={**base, "act": False, "tau": 0.0, "target_accuracy": 0.99},
        seed=8,
        build=build_parity_model,
        train=train_parity,
        evaluate=_evaluate,
        tolerance={"accuracy": 0.02, "mean_steps": 1e-6, "mean_ponder": 1e-6, "steps_corr_nonzeros": 1e-6,
                   "steps_easy": 1e-6, "steps_hard": 1e-6},
    )
    sweep_config = {"length": 8, "hidden": 64, "cell": "rnn", "max_steps": 20, "batch_size": 128, "lr": 1e-2,
                    "steps": 5000, "eval_every": 500, "halting_bias": -1.0, "tau_warmup": 1000,
                    "taus": list(TAU_SWEEP), "target_accuracy": None}
    sweep = Recipe(
        name="act_parity_tau_sweep",
        summary=f"ACT on parity of 8-entry vectors with time penalties tau in {', '.join(f'{t:g}' for t in TAU_SWEEP)} (chapter 8)",
        chapter="08_adaptive_computation_time",
        config=sweep_config,
        seed=8,
        build=TauSweep,
        train=train_tau_sweep,
        evaluate=_evaluate_sweep,
        tolerance={**{f"accuracy@{t:g}": 0.02 for t in TAU_SWEEP}, **{f"mean_steps@{t:g}": 0.15 for t in TAU_SWEEP},
                   **{f"mean_ponder@{t:g}": 0.15 for t in TAU_SWEEP}},
    )
    return act, fixed, sweep


ACT_PARITY_RECIPE, ACT_PARITY_FIXED_RECIPE, ACT_PARITY_TAU_SWEEP_RECIPE = _recipes()
