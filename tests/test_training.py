"""The training loop, History and checkpoints: determinism, early stopping, clear errors, hash checks."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from attnmem import seed_everything, show_source
from attnmem.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from attnmem.training import History, Target, TrainingError, fit


def _regression_problem():
    weight = torch.tensor([[2.0, -1.0]])

    def batches(generator: torch.Generator):
        x = torch.randn(32, 2, generator=generator)
        return x, x @ weight.T

    def loss_fn(model, batch):
        x, y = batch
        loss = ((model(x) - y) ** 2).mean()
        return loss, {"abs_error": (model(x) - y).abs().mean()}

    def evaluate(model):
        x = torch.randn(256, 2, generator=torch.Generator().manual_seed(99))
        with torch.no_grad():
            return {"mse": float(((model(x) - x @ weight.T) ** 2).mean())}

    return batches, loss_fn, evaluate


def test_fit_learns_and_is_deterministic():
    batches, loss_fn, evaluate = _regression_problem()
    runs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = nn.Linear(2, 1)
        untrained = evaluate(model)["mse"]
        history = fit(model, loss_fn, batches, steps=200, lr=0.05, seed=5, evaluate=evaluate, eval_every=50,
                      progress=False)
        runs.append((model.weight.detach().clone(), history))
    torch.testing.assert_close(runs[0][0], runs[1][0], rtol=0, atol=0)
    history = runs[0][1]
    assert untrained > 1.0 and history.final["mse"] < 1e-3
    assert [e["step"] for e in history.evals] == [50, 100, 150, 200]
    assert "abs_error" in history.train[-1] and history.steps == 200 and history.seconds > 0


def test_fit_sets_the_learning_rate_of_each_step_from_its_schedule():
    batches, loss_fn, _ = _regression_problem()
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    seen = []

    def recording_loss(model, batch):
        seen.append(optimizer.param_groups[0]["lr"])  # the rate the previous step was taken with
        return loss_fn(model, batch)

    fit(model, recording_loss, batches, steps=4, optimizer=optimizer, lr_schedule=lambda step: 0.1 / step,
        progress=False)
    assert seen[1:] == [0.1, 0.05, 0.1 / 3] and optimizer.param_groups[0]["lr"] == 0.025


def test_fit_keeps_the_weights_of_the_best_evaluation():
    batches, loss_fn, _ = _regression_problem()
    model = nn.Linear(2, 1)
    scores = iter([0.2, 0.9, 0.4])
    weights_at = {}

    def evaluate(model):
        score = next(scores)
        weights_at[score] = model.weight.detach().clone()
        return {"score": score}

    history = fit(model, loss_fn, batches, steps=30, lr=0.05, evaluate=evaluate, eval_every=10,
                  keep_best="score", progress=False)
    assert history.best_step == 20 and [e["step"] for e in history.evals] == [10, 20, 30]
    torch.testing.assert_close(model.weight, weights_at[0.9], rtol=0, atol=0)
    assert not torch.equal(weights_at[0.9], weights_at[0.4])
    assert len(history.eval_seconds) == 3 and history.eval_seconds == sorted(history.eval_seconds)
    with pytest.raises(TrainingError, match="keep_best metric 'missing'"):
        fit(nn.Linear(2, 1), loss_fn, batches, steps=10, evaluate=lambda m: {"score": 0.0}, eval_every=5,
            keep_best="missing", progress=False)
    with pytest.raises(ValueError, match="needs an evaluate function"):
        fit(nn.Linear(2, 1), loss_fn, batches, steps=10, keep_best="score", progress=False)


def test_fit_stops_early_at_target():
    batches, loss_fn, evaluate = _regression_problem()
    history = fit(nn.Linear(2, 1), loss_fn, batches, steps=2000, lr=0.05, evaluate=evaluate, eval_every=20,
                  target=Target("mse", 1e-2, mode="min"), progress=False)
    assert history.stopped_early and history.steps < 2000
    assert history.evals[-1]["mse"] <= 1e-2
    assert "stopped early" in history.summary()


def test_fit_cycles_an_iterable_and_clips_gradients():
    model = nn.Linear(1, 1)
    data = [(torch.ones(4, 1), torch.full((4, 1), 1e6))]
    before = model.weight.detach().clone()
    fit(model, lambda m, b: ((m(b[0]) - b[1]) ** 2).mean(), data, steps=3, lr=0.1, clip_norm=1e-3, progress=False,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    assert (model.weight.detach() - before).abs().max() <= 3 * 0.1 * 1e-3 + 1e-9


def test_fit_reports_a_non_finite_loss():
    model = nn.Linear(1, 1)
    with pytest.raises(TrainingError, match="the loss became nan at step 1; lower the learning rate"):
        fit(model, lambda m, b: m(b).sum() * float("nan"), [torch.ones(1, 1)], steps=5, progress=False)


def test_fit_errors():
    model = nn.Linear(1, 1)
    with pytest.raises(TrainingError, match="must return a scalar tensor"):
        fit(model, lambda m, b: m(b), [torch.ones(3, 1)], steps=1, progress=False)
    with pytest.raises(TrainingError, match="batches is empty"):
        fit(model, lambda m, b: m(b).sum(), [], steps=1, progress=False)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        fit(model, lambda m, b: m(b).sum(), [torch.ones(1, 1)], steps=0)
    with pytest.raises(ValueError, match="a target or keep_best needs an evaluate function"):
        fit(model, lambda m, b: m(b).sum(), [torch.ones(1, 1)], steps=1, target=Target("x", 1.0))
    with pytest.raises(TrainingError, match="target metric 'accuracy' is not among the evaluation metrics"):
        fit(model, lambda m, b: m(b).sum(), [torch.ones(1, 1)], steps=2, eval_every=1, progress=False,
            evaluate=lambda m: {"mse": 1.0}, target=Target("accuracy", 0.9))
    with pytest.raises(ValueError, match="mode must be 'max' or 'min'"):
        Target("accuracy", 0.9, mode="up")


def test_history_plot_and_empty_history():
    import matplotlib

    matplotlib.use("Agg")
    batches, loss_fn, evaluate = _regression_problem()
    history = fit(nn.Linear(2, 1), loss_fn, batches, steps=30, evaluate=evaluate, eval_every=10, progress=False)
    figure = history.plot()
    assert len(figure.axes) == 2
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert legend == ["training loss, each record", "mean of the last 10"]  # which curve is raw, which smoothed
    with pytest.raises(ValueError, match="this History is empty"):
        History().plot()


def test_seed_everything_repeats_and_rejects_bad_seeds():
    seed_everything(7)
    first = torch.rand(3)
    seed_everything(7)
    torch.testing.assert_close(first, torch.rand(3))
    with pytest.raises(ValueError, match="non-negative int"):
        seed_everything(-1)


def test_show_source_shows_real_code_and_refuses_builtins():
    source = show_source(fit)
    assert str(source).startswith("def fit(") and "_check_gradients(model, clip_norm, step, loss)" in str(source)
    assert "<div" in source._repr_html_()
    method = show_source(History.summary)
    assert str(method).startswith("def summary")
    with pytest.raises(TypeError, match="show_source needs a function"):
        show_source(len)


def test_checkpoint_round_trip(tmp_path):
    model = nn.Linear(3, 2)
    record = save_checkpoint(tmp_path / "m.pt", model, {"command": "make it"})
    manifest = json.loads((tmp_path / "m.json").read_text())
    assert manifest["sha256"] == record["sha256"] and manifest["parameters"] == 8
    other = nn.Linear(3, 2)
    state, loaded_manifest = load_checkpoint(tmp_path / "m.pt", other)
    torch.testing.assert_close(other.weight, model.weight)
    assert loaded_manifest["command"] == "make it"


def test_checkpoint_corrupted_names_file_and_command(tmp_path):
    save_checkpoint(tmp_path / "m.pt", nn.Linear(3, 2), {"command": "python -m attnmem.zoo train m"})
    data = bytearray((tmp_path / "m.pt").read_bytes())
    data[-20] ^= 0xFF
    (tmp_path / "m.pt").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"m\.pt is corrupted.*Rebuild it with: python -m attnmem.zoo train m"):
        load_checkpoint(tmp_path / "m.pt")


def test_checkpoint_mismatched_model(tmp_path):
    save_checkpoint(tmp_path / "m.pt", nn.Linear(3, 2))
    with pytest.raises(CheckpointError, match=r"does not match the model Linear \(wrong shapes: bias"):
        load_checkpoint(tmp_path / "m.pt", nn.Linear(3, 4))
    with pytest.raises(CheckpointError, match="missing 0.bias, 0.weight.*unexpected bias, weight"):
        load_checkpoint(tmp_path / "m.pt", nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2)))


def test_checkpoint_missing_files_and_bad_manifest(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nothing.pt")
    torch.save({}, tmp_path / "bare.pt")
    with pytest.raises(CheckpointError, match="no manifest"):
        load_checkpoint(tmp_path / "bare.pt")
    (tmp_path / "bare.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="is not valid JSON"):
        load_checkpoint(tmp_path / "bare.pt")
    with pytest.raises(ValueError, match="must end in .pt"):
        save_checkpoint(tmp_path / "m.pth", nn.Linear(1, 1))


def test_checkpoint_refuses_pickled_objects(tmp_path):
    """weights_only=True: a file holding arbitrary Python objects is refused even when its hash matches."""
    import hashlib

    torch.save({"weight": torch.ones(1), "payload": History()}, tmp_path / "evil.pt")
    digest = hashlib.sha256((tmp_path / "evil.pt").read_bytes()).hexdigest()
    (tmp_path / "evil.json").write_text(json.dumps({"sha256": digest}))
    with pytest.raises(CheckpointError, match="could not be read"):
        load_checkpoint(tmp_path / "evil.pt")
