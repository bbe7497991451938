"""Tests for adaptive computation time (attnmem.act) and its tasks (parity, addition)."""
from __future__ import annotations

import pytest
import torch

from attnmem.act import AdaptiveRNN, FixedStepRNN, halting_distribution, make_cell, ponder_cost
from attnmem.tasks.algorithmic import (
    ADDITION_BLANK,
    addition_batch,
    parity_batch,
    parity_from_string,
    parity_targets,
)
from attnmem.training import fit
from attnmem.training.act import (
    TauSweep,
    build_parity_model,
    curriculum_nonzeros,
    decayed_lr,
    evaluate_parity,
    parity_loss,
    settle_pondering,
)

CELLS = ["rnn", "gru", "lstm"]


def _model(cell: str = "rnn", seed: int = 0, **kwargs) -> AdaptiveRNN:
    torch.manual_seed(seed)
    return AdaptiveRNN(6, 16, 2, cell, **{"max_steps": 8, "halting_bias": -1.5, **kwargs})


# --- halting invariants -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", CELLS)
def test_halting_probabilities_sum_to_one_and_steps_are_bounded(cell: str) -> None:
    model = _model(cell)
    result = model(torch.randn(5, 3, 6))
    assert result.outputs.shape == (5, 3, 2)
    assert result.halting.shape == (5, 3, 8)
    torch.testing.assert_close(result.halting.sum(-1), torch.ones(5, 3))
    assert bool((result.halting >= 0).all())
    assert bool((result.steps >= 1).all()) and bool((result.steps <= model.max_steps).all())
    assert bool((result.remainders > 0).all()) and bool((result.remainders <= 1).all())
    torch.testing.assert_close(result.ponder, result.steps.float() + result.remainders)
    # the probability after step N is zero, and the step N holds the remainder
    index = torch.arange(8).view(1, 1, 8)
    assert bool((result.halting[index >= result.steps.unsqueeze(-1)] == 0).all())
    last = result.halting.gather(-1, (result.steps - 1).unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(last, result.remainders)


def test_max_steps_forces_halting_with_the_remainder() -> None:
    model = _model(max_steps=3, halting_bias=-20.0)  # the halting unit says "go on" forever
    result = model(torch.randn(4, 2, 6))
    assert bool((result.steps == 3).all())
    assert bool((result.remainders > 0.99).all())
    torch.testing.assert_close(result.halting.sum(-1), torch.ones(4, 2))


def test_a_confident_halting_unit_stops_after_one_step_with_remainder_one() -> None:
    model = _model(halting_bias=20.0)
    result = model(torch.randn(3, 1, 6))
    assert bool((result.steps == 1).all())
    torch.testing.assert_close(result.remainders, torch.ones(3, 1))
    torch.testing.assert_close(result.ponder, torch.full((3, 1), 2.0))


def test_halting_distribution_by_hand() -> None:
    # h = 0.3, 0.5, 0.3: the sum passes 0.99 at step 3, which gets R = 1 - 0.8 = 0.2
    p = halting_distribution(torch.tensor([0.3, 0.5, 0.3, 0.9]))
    torch.testing.assert_close(p, torch.tensor([0.3, 0.5, 0.2, 0.0]))
    # epsilon lets one step of 0.995 halt at once
    torch.testing.assert_close(halting_distribution(torch.tensor([0.995, 0.2])), torch.tensor([1.0, 0.0]))
    # max_steps cuts it short
    torch.testing.assert_close(halting_distribution(torch.tensor([0.1, 0.1, 0.1]), max_steps=2),
                               torch.tensor([0.1, 0.9, 0.0]))


def test_model_matches_the_plain_halting_distribution() -> None:
    model = _model()
    x = torch.randn(1, 1, 6)
    result = model(x)
    # recompute the halting units along the same ponder steps by hand
    state, units = model.initial_state(1), []
    for n in range(model.max_steps):
        state = model.step(x[:, 0], state, first=n == 0)
        units.append(torch.sigmoid(model.halting_unit(state)).squeeze(-1))
    expected = halting_distribution(torch.stack(units, dim=-1), model.epsilon)
    torch.testing.assert_close(result.halting[:, 0], expected)


def test_output_is_the_probability_weighted_mean_of_step_outputs() -> None:
    model = _model()
    x = torch.randn(2, 1, 6)
    result = model(x)
    state, outputs = model.initial_state(2), []
    for n in range(model.max_steps):
        state = model.step(x[:, 0], state, first=n == 0)
        outputs.append(model.output(state))
    expected = (result.halting[:, 0].unsqueeze(-1) * torch.stack(outputs, dim=1)).sum(1)
    torch.testing.assert_close(result.outputs[:, 0], expected)


# --- gradients, batching, extremes ------------------------------------------------------------------------------


def test_ponder_cost_gradient_reaches_the_halting_unit_through_the_remainder() -> None:
    model = _model()
    result = model(torch.randn(4, 1, 6))
    assert bool((result.steps > 1).all())  # so R = 1 - Σ h depends on the halting unit
    ponder_cost(result).backward()
    assert model.halting_unit.weight.grad is not None
    assert float(model.halting_unit.weight.grad.abs().sum()) > 0
    # raising the halting bias lowers R, so the cost falls: dP/db < 0 (N has no gradient)
    assert float(model.halting_unit.bias.grad) < 0


@pytest.mark.parametrize("cell", CELLS)
def test_a_batch_gives_the_same_result_as_its_items_one_by_one(cell: str) -> None:
    model = _model(cell, halting_bias=0.0)
    x = 2 * torch.randn(6, 4, 6)
    whole = model(x)
    assert len(set(whole.steps.flatten().tolist())) > 1  # the items really halt at different steps
    for i in range(6):
        alone = model(x[i : i + 1])
        torch.testing.assert_close(alone.outputs, whole.outputs[i : i + 1])
        torch.testing.assert_close(alone.halting, whole.halting[i : i + 1])
        assert torch.equal(alone.steps, whole.steps[i : i + 1])


@pytest.mark.parametrize("tau", [0.0, 1e6])
def test_no_nan_at_zero_or_huge_tau(tau: float) -> None:
    torch.manual_seed(0)
    model = AdaptiveRNN(6, 16, 1, "rnn", max_steps=8, halting_bias=-1.5)
    batch = parity_batch(8, 6, seed=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(5):
        loss, _ = parity_loss(model, batch, tau)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        assert torch.isfinite(loss)
        assert all(torch.isfinite(p).all() for p in model.parameters())


def test_fixed_step_baseline_reads_like_act_that_halts_last() -> None:
    torch.manual_seed(0)
    model = FixedStepRNN(6, 16, 2, "gru", steps=3)
    result = model(torch.randn(2, 4, 6))
    assert bool((result.steps == 3).all())
    torch.testing.assert_close(result.halting.sum(-1), torch.ones(2, 4))
    torch.testing.assert_close(result.ponder, torch.full((2, 4), 4.0))


def test_state_carries_across_input_steps() -> None:
    model = _model("lstm")
    x = torch.randn(2, 3, 6)
    whole = model(x)
    first = model(x[:, :2])
    rest = model(x[:, 2:], first.state)
    torch.testing.assert_close(rest.outputs, whole.outputs[:, 2:])


def test_tau_sweep_holds_one_model_per_tau() -> None:
    config = {"taus": [1e-3, 1e-2], "act": True, "length": 4, "hidden": 8, "cell": "rnn", "max_steps": 5,
              "halting_bias": 0.0}
    sweep = TauSweep(config)
    assert isinstance(sweep[1e-2], AdaptiveRNN)
    with pytest.raises(KeyError, match="no model for tau=0.5"):
        sweep[0.5]
    with pytest.raises(TypeError, match=r"sweep\[tau\]"):
        sweep(torch.zeros(1, 1, 4))


def test_cap_share_counts_the_inputs_that_ran_into_the_step_cap() -> None:
    never_halts = AdaptiveRNN(8, 16, 1, "rnn", max_steps=5, halting_bias=-20.0)
    halts_at_once = AdaptiveRNN(8, 16, 1, "rnn", max_steps=5, halting_bias=20.0)
    assert evaluate_parity(never_halts, 8, seed=0, n=200)["cap_share"] == 1.0
    at_once = evaluate_parity(halts_at_once, 8, seed=0, n=200)
    assert at_once["cap_share"] == 0.0 and at_once["mean_steps"] == 1.0
    config = {"act": False, "length": 8, "hidden": 16, "cell": "rnn", "fixed_steps": 3}
    fixed = build_parity_model(config)
    assert isinstance(fixed, FixedStepRNN) and fixed.steps == 3
    assert evaluate_parity(fixed, 8, seed=0, n=200)["mean_steps"] == 3.0


@pytest.mark.learning
def test_settling_with_a_larger_time_penalty_halts_before_the_cap() -> None:
    torch.manual_seed(0)
    model = AdaptiveRNN(4, 16, 1, "rnn", max_steps=8, halting_bias=-4.0)  # 8 * sigmoid(-4) < 1: always at the cap
    assert evaluate_parity(model, 4, seed=1, n=500)["cap_share"] == 1.0
    config = {"length": 4, "batch_size": 64, "settle_lr": 1e-2, "settle_steps": 300, "eval_every": 100,
              "target_accuracy": 0.0, "max_cap_share": 0.05}
    history = settle_pondering(model, config, seed=0, tau=0.1, progress=False)
    assert history.stopped_early  # it halted on its own before the budget ran out
    assert evaluate_parity(model, 4, seed=1, n=500)["cap_share"] <= 0.05


# --- bad input --------------------------------------------------------------------------------------------------


def test_errors_name_what_is_wrong() -> None:
    model = _model()
    with pytest.raises(ValueError, match=r"\(batch, steps, 6\)"):
        model(torch.zeros(2, 6))
    with pytest.raises(ValueError, match=r"\(batch, steps, 6\)"):
        model(torch.zeros(2, 1, 5))
    with pytest.raises(ValueError, match="empty"):
        model(torch.zeros(0, 1, 6))
    with pytest.raises(ValueError, match="unknown cell 'transformer'"):
        make_cell("transformer", 3, 4)
    with pytest.raises(ValueError, match="epsilon must be in"):
        AdaptiveRNN(3, 4, 1, epsilon=1.0)
    with pytest.raises(ValueError, match="max_steps must be a positive int"):
        AdaptiveRNN(3, 4, 1, max_steps=0)
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        AdaptiveRNN(3, 0, 1)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        FixedStepRNN(3, 4, 1, steps=0)
    with pytest.raises(ValueError, match="tau must be non-negative"):
        parity_loss(model, parity_batch(2, 6, seed=0), tau=-1.0)
    with pytest.raises(ValueError, match="one output per input"):
        parity_loss(model, parity_batch(2, 6, seed=0))
    with pytest.raises(ValueError, match="last dimension of ponder steps"):
        halting_distribution(torch.zeros(3, 0))


# --- the tasks --------------------------------------------------------------------------------------------------


def test_parity_batch_is_deterministic_and_well_formed() -> None:
    a, b = parity_batch(64, 16, seed=3), parity_batch(64, 16, seed=3)
    assert torch.equal(a.inputs, b.inputs)
    assert a.inputs.shape == (64, 1, 16) and a.targets.shape == (64, 1)
    assert set(a.inputs.unique().tolist()) <= {-1.0, 0.0, 1.0}
    torch.testing.assert_close(a.nonzeros, (a.inputs != 0).sum(dim=(1, 2)))
    assert int(a.nonzeros.min()) >= 1 and int(a.nonzeros.max()) <= 16
    torch.testing.assert_close(a.targets.squeeze(1), ((a.inputs == 1).sum(dim=(1, 2)) % 2).float())


def test_parity_curriculum_caps_the_non_zero_entries() -> None:
    assert torch.equal(parity_batch(32, 16, seed=4).inputs, parity_batch(32, 16, seed=4, max_nonzeros=16).inputs)
    easy = parity_batch(2000, 16, seed=4, max_nonzeros=3)
    assert easy.inputs.shape == (2000, 1, 16)
    assert set(easy.nonzeros.unique().tolist()) == {1, 2, 3}
    torch.testing.assert_close(easy.targets.squeeze(1), ((easy.inputs == 1).sum(dim=(1, 2)) % 2).float())
    assert [curriculum_nonzeros(step, 16, 4000) for step in (0, 1000, 2000, 4000, 9000)] == [2, 5, 9, 16, 16]
    assert curriculum_nonzeros(0, 16, 0) == 16  # no curriculum: the paper's distribution from the start
    assert decayed_lr(0, 100, 1e-2, 1e-3) == 1e-2 and abs(decayed_lr(100, 100, 1e-2, 1e-3) - 1e-3) < 1e-12
    with pytest.raises(ValueError, match=r"max_nonzeros must be an int in 1..length \(16\), got 17"):
        parity_batch(4, 16, seed=0, max_nonzeros=17)


def test_parity_from_string() -> None:
    batch = parity_from_string("+ - + 0 +", 8)
    assert batch.inputs.shape == (1, 1, 8)
    assert batch.inputs[0, 0].tolist() == [1, -1, 1, 0, 1, 0, 0, 0]
    assert float(batch.targets) == 1.0 and int(batch.nonzeros) == 4
    assert float(parity_targets(torch.tensor([1.0, 1.0, -1.0]))) == 0.0
    with pytest.raises(ValueError, match=r"only '\+', '-' and '0'.*\['x'\]"):
        parity_from_string("+x", 8)
    with pytest.raises(ValueError, match="has 3 entries but the model reads vectors of length 2"):
        parity_from_string("+-+", 2)
    with pytest.raises(ValueError, match="no '\\+' or '-' entry"):
        parity_from_string("000", 8)
    with pytest.raises(ValueError, match="length must be a positive int"):
        parity_batch(4, 0, seed=0)


def test_addition_batch_encodes_running_sums() -> None:
    batch = addition_batch(32, max_numbers=4, digits=3, seed=5)
    assert batch.inputs.shape == (32, 4, 30) and batch.targets.shape == (32, 4, 4) and batch.mask.shape == (32, 4)
    assert bool(batch.mask[:, 0].all())
    for i in range(32):
        total = 0
        for t in range(int(batch.mask[i].sum())):
            blocks = batch.inputs[i, t].view(3, 10)
            number = sum(int(block.argmax()) * 10**d for d, block in enumerate(blocks) if block.sum() > 0)
            total += number
            digits = [d for d in batch.targets[i, t].tolist() if d != ADDITION_BLANK]
            assert sum(d * 10**k for k, d in enumerate(digits)) == total
            assert batch.targets[i, t, len(digits):].eq(ADDITION_BLANK).all()
    assert torch.equal(addition_batch(4, seed=1).inputs, addition_batch(4, seed=1).inputs)
    with pytest.raises(ValueError, match="digits must be a positive int"):
        addition_batch(4, digits=0)


def test_act_runs_on_the_addition_sequence_task() -> None:
    batch = addition_batch(8, max_numbers=3, digits=2, seed=0)
    model = AdaptiveRNN(20, 16, 3 * 11, "lstm", max_steps=4)
    result = model(batch.inputs)
    assert result.outputs.shape == (8, 3, 33)
    assert float(ponder_cost(result, batch.mask).detach()) <= float(ponder_cost(result).detach()) + 1e-6


# --- learning ---------------------------------------------------------------------------------------------------


@pytest.mark.learning
def test_act_learns_parity_of_four_beyond_the_one_step_baseline() -> None:
    length = 4

    def train(model: torch.nn.Module, tau: float) -> float:
        fit(model, lambda m, b: parity_loss(m, b, tau), lambda g: parity_batch(64, length, g), steps=600, lr=1e-2,
            seed=0, progress=False)
        return evaluate_parity(model, length, seed=123, n=2000)["accuracy"]

    torch.manual_seed(0)
    act = train(AdaptiveRNN(length, 32, 1, "rnn", max_steps=6, halting_bias=-1.0), 1e-3)
    assert act > 0.95


# --- the chapter's coding exercises ---------------------------------------------------------------------------


def _halting_answer(units: torch.Tensor, epsilon: float) -> torch.Tensor:
    before = units.cumsum(-1) - units
    reached = before + units >= 1 - epsilon
    reached[..., -1] = True
    last = reached.float().argmax(-1, keepdim=True)
    p = torch.where(torch.arange(units.shape[-1]) < last, units, torch.zeros_like(units))
    return p.scatter(-1, last, 1 - before.gather(-1, last))


def _ponder_answer(units: torch.Tensor, epsilon: float) -> torch.Tensor:
    p = _halting_answer(units, epsilon)
    last = (p > 0).float().cumsum(-1).argmax(-1, keepdim=True)  # the last step with probability
    return (last + 1).squeeze(-1).float() + p.gather(-1, last).squeeze(-1)


def test_exercise_checkers_pass_right_answers_and_explain_wrong_ones() -> None:
    from attnmem.exercises import check

    assert check("ex-08-halting", _halting_answer).passed
    assert check("ex-08-ponder", _ponder_answer).passed

    def own_last_step(units, epsilon):
        p = _halting_answer(units, epsilon)
        return torch.where(p > 0, units, p)

    failed = check("ex-08-halting", own_last_step)
    assert not failed.passed and "remainder R = 1 - (sum of the earlier h)" in failed.message
    failed = check("ex-08-halting", lambda units, epsilon: _halting_answer(units, 0.0))
    assert not failed.passed and "1 - epsilon" in failed.message
    failed = check("ex-08-ponder", lambda units, epsilon: _ponder_answer(units, epsilon).detach())
    assert not failed.passed and "no gradient flows back" in failed.message

    def gradient_on_every_step(units, epsilon):  # the right values, but d rho / d h = +1 everywhere
        return _ponder_answer(units, epsilon).detach() + units.sum(-1) - units.sum(-1).detach()

    failed = check("ex-08-ponder", gradient_on_every_step)
    assert not failed.passed and "through R = 1 - sum_(n<N) h^n" in failed.message
    assert check("ex-08-ponder", lambda units, epsilon: None).status == "not written"


# --- the explorer -----------------------------------------------------------------------------------------------


def test_ponder_explorer_renders_three_ways_and_rejects_bad_input() -> None:
    from attnmem.viz.act import PonderExplorer

    torch.manual_seed(0)
    model = AdaptiveRNN(8, 16, 1, "rnn", max_steps=5, halting_bias=-1.0)
    explorer = PonderExplorer(model, 8, inputs=["+-", "++0-"])
    spec = explorer.view_spec()
    assert spec["kind"] == "frames" and len(spec["examples"]) == 3
    steps = int(explorer.run("+-")[0].steps)
    assert len(spec["examples"][0]["frames"]) == steps
    said = spec["examples"][0]["frames"][-1]["text"]
    assert ("halted by itself, the cap is 5" if steps < 5 else "ran into the cap") in said
    assert "attnmem-explorer" in explorer.to_html()
    assert explorer.to_png()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="at least one parity input"):
        PonderExplorer(model, 8, inputs=[])
    with pytest.raises(ValueError, match=r"only '\+', '-' and '0'"):
        explorer.run("+a")
