"""The zoo: names, the shipped checkpoints, training into a folder, verification and the command line."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from attnmem import zoo
from attnmem.checkpoint import CheckpointError
from attnmem.zoo.__main__ import main


def test_every_recipe_is_registered_under_its_name():
    for name in zoo.names():
        assert zoo.recipe(name).name == name


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(zoo.ZooError, match="no model named 'nope'; it has: .*kernel_regression"):
        zoo.recipe("nope")


def test_shipped_checkpoints_are_small_and_verified():
    total = 0
    for name in zoo.names():
        path = zoo.checkpoint_path(name)
        assert path.exists(), f"{path} is missing: run python -m attnmem.zoo train {name}"
        size = path.stat().st_size
        assert size < 2 * 1024 * 1024, f"{name} is {size} bytes; zoo checkpoints must stay under 2 MB"
        total += size
        record = zoo.manifest(name)
        assert record["command"] == f"python -m attnmem.zoo train {name}"
        assert record["config"] == zoo.recipe(name).config
    assert total < 15 * 1024 * 1024


def test_verify_kernel_regression():
    (result,) = zoo.verify(["kernel_regression"])
    assert result.ok, result.message


def test_train_load_and_verify_in_a_folder(tmp_path):
    record = zoo.train("kernel_regression", tmp_path, progress=False)
    assert (tmp_path / "kernel_regression.pt").exists() and record["metrics"]["mse_vs_truth"] < 0.2
    model = zoo.load("kernel_regression", tmp_path)
    assert not model.training
    assert all(result.ok for result in zoo.verify(["kernel_regression"], tmp_path))


def test_same_seed_same_weights(tmp_path):
    first = zoo.train("kernel_regression", tmp_path / "a", progress=False)
    second = zoo.train("kernel_regression", tmp_path / "b", progress=False)
    assert first["sha256"] == second["sha256"]


def test_missing_checkpoint_says_how_to_build_it(tmp_path):
    with pytest.raises(zoo.ZooError, match="missing; build it with: python -m attnmem.zoo train kernel_regression"):
        zoo.load("kernel_regression", tmp_path)
    model = zoo.load("kernel_regression", tmp_path, train_if_missing=True)
    assert (tmp_path / "kernel_regression.pt").exists() and model.bandwidth > 0


def test_corrupted_checkpoint_is_refused_and_verify_reports_it(tmp_path):
    for suffix in (".pt", ".json"):
        shutil.copy(zoo.checkpoint_path("kernel_regression").with_suffix(suffix), tmp_path)
    data = bytearray((tmp_path / "kernel_regression.pt").read_bytes())
    data[-8] ^= 0x55
    (tmp_path / "kernel_regression.pt").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted.*python -m attnmem.zoo train kernel_regression"):
        zoo.load("kernel_regression", tmp_path)
    (result,) = zoo.verify(["kernel_regression"], tmp_path)
    assert not result.ok and "corrupted" in result.message


def test_config_mismatch_is_refused(tmp_path):
    for suffix in (".pt", ".json"):
        shutil.copy(zoo.checkpoint_path("kernel_regression").with_suffix(suffix), tmp_path)
    manifest_path = tmp_path / "kernel_regression.json"
    record = json.loads(manifest_path.read_text())
    record["config"]["steps"] = 1
    manifest_path.write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="was trained with config .* rebuild it with"):
        zoo.load("kernel_regression", tmp_path)


def test_cli_list_train_verify(tmp_path, capsys):
    assert main(["list"]) == 0
    assert "kernel_regression" in capsys.readouterr().out
    assert main(["train", "kernel_regression", "--out", str(tmp_path), "--quiet"]) == 0
    assert "sha256" in capsys.readouterr().out
    assert main(["verify", "kernel_regression", "--dir", str(tmp_path)]) == 0
    assert main(["train", "no_such_model", "--quiet"]) == 2
    assert "no model named 'no_such_model'" in capsys.readouterr().err


def test_cli_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "attnmem.zoo", "verify", "kernel_regression"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ok" in done.stdout
