"""``benchmarks/memnet_joint.py``: variants of the joint recipe by ``--set``, and a summary only of the recipe's runs."""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, replace

import pytest

@pytest.fixture
def bench(benchmark_script):
    return benchmark_script("memnet_joint")


def test_set_changes_fields_in_their_own_types_and_explains_bad_ones(bench, capsys):
    parser = argparse.ArgumentParser(prog="memnet_joint.py")
    config = bench.variant(["lr=0.01", "linear_epochs=0", "epochs=60", "linear_start=false"], parser)
    assert config == replace(bench.JOINT_CONFIG, lr=0.01, linear_epochs=0, epochs=60, linear_start=False)
    assert bench.variant([], parser) == bench.JOINT_CONFIG
    for bad, message in (("epochs=abc", "epochs must be of type int"), ("nope=1", "FIELD one of"),
                         ("linear_epochs=-2", "whole number >= 0, got -2"), ("lr", "FIELD=VALUE")):
        with pytest.raises(SystemExit):
            bench.variant([bad], parser)
        assert message in capsys.readouterr().err


def test_the_summary_refuses_runs_of_another_recipe(bench, tmp_path, capsys):
    row = {"seed": 0, "config": asdict(replace(bench.JOINT_CONFIG, epochs=90)), "errors": [0.1] * 20}
    runs = tmp_path / "runs.jsonl"
    runs.write_text(json.dumps(row) + "\n")
    with pytest.raises(SystemExit):
        bench.main(["--summarize", str(runs)])
    err = capsys.readouterr().err
    assert "seed(s) [0]" in err and "not trained with JOINT_CONFIG" in err
