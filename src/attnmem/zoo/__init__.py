"""The zoo: pretrained models shipped with the package, each rebuilt by one command.

A full training run that would not fit a notebook's time budget is done once with
``python -m attnmem.zoo train NAME``; the weights (``NAME.pt``) and a manifest (``NAME.json``: configuration,
seed, steps, wall time, measured metrics, torch version, sha256 and the command) are shipped in this folder.

- ``load(name)`` checks the hash, loads with ``torch.load(weights_only=True)`` and returns the model in eval mode;
- ``train(name)`` runs the recipe and writes the checkpoint and manifest;
- ``verify()`` re-measures every shipped model on fresh test data and compares with its manifest.

Each model's *recipe* (how to build, train and evaluate it) lives in ``attnmem.zoo.recipes.<family>``, which
imports the training code of ``attnmem.training.<family>``; ``RECIPES`` below names the family of each model.
"""
from __future__ import annotations

import importlib
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from attnmem.checkpoint import (
    CheckpointError,
    ensure_writable,
    load_checkpoint,
    manifest_path,
    read_manifest,
    save_checkpoint,
)

__all__ = [
    "ZOO_DIR",
    "RECIPES",
    "Recipe",
    "ZooError",
    "Verification",
    "names",
    "recipe",
    "checkpoint_path",
    "manifest",
    "load",
    "train",
    "verify",
    "describe",
]

ZOO_DIR = Path(__file__).resolve().parent

#: name -> the family whose module holds its Recipe: ``attnmem.zoo.recipes.<family>.RECIPES[name]``. Imported
#: lazily, so listing the zoo stays fast.
RECIPES: dict[str, str] = {
    "kernel_regression": "pooling",
    "programmer_arithmetic": "programmer",
    "programmer_tables": "programmer",
    "act_parity": "act",
    "act_parity_settled": "act",
    "act_parity_fixed": "act",
    "act_parity_fixed_deep": "act",
    "act_parity_tau_sweep": "act",
    "seq2seq_plain": "seq2seq",
    "seq2seq_bahdanau": "seq2seq",
    "seq2seq_location": "seq2seq",
    "ntm_copy": "ntm",
    "lstm_copy": "ntm",
    "ntm_repeat_copy": "ntm",
    "ntm_associative_recall": "ntm",
    "memn2n_babi_1k": "memnet",
    "transformer": "transformer",
    "transformer_learned": "transformer",
    "pointer_hull": "pointer",
    "pointer_hull_unmasked": "pointer",
    "pointer_tsp": "pointer",
    "pointer_hull_set": "pointer",
    "pointer_tsp_set": "pointer",
}


class ZooError(LookupError):
    """An unknown model name, or a shipped checkpoint that is missing or does not match its recipe."""


@dataclass(frozen=True)
class Recipe:
    """How to build, train and evaluate one zoo model.

    ``train(config, seed, progress)`` returns the trained model and a dict of facts to record (such as
    ``steps``); ``evaluate(model, config, seed)`` measures it on test data generated from ``seed``.
    ``tolerance`` is how far (absolute) a re-measured metric may be from the manifest in ``verify``.
    """

    name: str
    summary: str
    chapter: str
    config: dict[str, Any]
    seed: int
    build: Callable[[dict[str, Any]], nn.Module]
    train: Callable[[dict[str, Any], int, bool], tuple[nn.Module, dict[str, Any]]]
    evaluate: Callable[[nn.Module, dict[str, Any], int], dict[str, float]]
    tolerance: dict[str, float] = field(default_factory=dict)

    @property
    def command(self) -> str:
        return f"python -m attnmem.zoo train {self.name}"


@dataclass(frozen=True)
class Verification:
    """The outcome of re-measuring one shipped model."""

    name: str
    ok: bool
    recorded: dict[str, float]
    measured: dict[str, float]
    message: str


def names() -> list[str]:
    """The names of every model the zoo knows how to build."""
    return sorted(RECIPES)


def recipe(name: str) -> Recipe:
    """The recipe for ``name``; an unknown name is a ``ZooError`` that lists the known ones."""
    if not isinstance(name, str) or name not in RECIPES:
        known = ", ".join(names())
        raise ZooError(f"the zoo has no model named {name!r}; it has: {known} (see: python -m attnmem.zoo list)")
    family = f"attnmem.zoo.recipes.{RECIPES[name]}"
    found = importlib.import_module(family).RECIPES.get(name)
    if not isinstance(found, Recipe) or found.name != name:
        raise ZooError(f"{family}.RECIPES has no Recipe named {name!r}; add it there or correct zoo.RECIPES[{name!r}]")
    return found


def checkpoint_path(name: str, directory: str | Path | None = None) -> Path:
    """Where the checkpoint of ``name`` lives (``directory`` defaults to the package's zoo folder)."""
    recipe(name)
    return Path(directory or ZOO_DIR) / f"{name}.pt"


def manifest(name: str, directory: str | Path | None = None) -> dict[str, Any]:
    """The manifest of a shipped model: how it was trained, how long it took, what it measured."""
    path = checkpoint_path(name, directory)
    if not path.exists():
        raise ZooError(f"{path} is not there; build it with: {recipe(name).command}")
    return read_manifest(path)


def load(name: str, directory: str | Path | None = None, train_if_missing: bool = False) -> nn.Module:
    """Load the shipped model ``name`` (hash-checked, ``weights_only=True``) in eval mode.

    With ``train_if_missing=True`` a missing checkpoint is trained first (and saved), so a notebook always runs.
    """
    entry = recipe(name)
    path = checkpoint_path(name, directory)
    if not path.exists():
        if not train_if_missing:
            raise ZooError(f"the checkpoint {path} is missing; build it with: {entry.command}")
        train(name, directory)
    elif not manifest_path(path).exists():  # left by a save that never finished
        if not train_if_missing:
            raise ZooError(f"the checkpoint {path} has no manifest {manifest_path(path).name}, so it cannot be "
                           f"verified (a save that did not finish?); rebuild it with: {entry.command}")
        train(name, directory)
    recorded = read_manifest(path)
    if recorded.get("config") != entry.config:
        raise CheckpointError(
            f"checkpoint {path} was trained with config {recorded.get('config')} but the recipe now says "
            f"{entry.config}; rebuild it with: {entry.command}"
        )
    model = entry.build(entry.config)
    load_checkpoint(path, model)
    return model.eval()


def train(name: str, directory: str | Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Train ``name`` from its recipe, measure it, and write ``NAME.pt`` and ``NAME.json``. Returns the manifest."""
    entry = recipe(name)
    ensure_writable(checkpoint_path(name, directory))  # refuse a destination that cannot take it before training
    start = time.perf_counter()
    model, facts = entry.train(entry.config, entry.seed, progress)
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        metrics = entry.evaluate(model, entry.config, entry.seed + 1)
    record = {
        "name": name,
        "summary": entry.summary,
        "chapter": entry.chapter,
        "config": entry.config,
        "seed": entry.seed,
        "train_seconds": round(seconds, 2),
        "metrics": {k: float(v) for k, v in metrics.items()},
        "evaluation_seed": entry.seed + 1,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
        "created": time.strftime("%Y-%m-%d"),
        "command": entry.command,
        **facts,
    }
    return save_checkpoint(checkpoint_path(name, directory), model, record)


def verify(names_to_check: list[str] | None = None, directory: str | Path | None = None) -> list[Verification]:
    """Re-measure shipped models on fresh test data and compare with what their manifests recorded."""
    results = []
    for name in names_to_check or names():
        entry = recipe(name)
        try:
            model = load(name, directory)
        except (ZooError, CheckpointError) as error:
            results.append(Verification(name, False, {}, {}, str(error)))
            continue
        recorded = manifest(name, directory)["metrics"]
        with torch.no_grad():
            measured = {k: float(v) for k, v in entry.evaluate(model, entry.config, entry.seed + 2).items()}
        off = [
            f"{k}: recorded {recorded[k]:.4g}, measured {measured.get(k, float('nan')):.4g}"
            for k in recorded
            if not abs(measured.get(k, float("inf")) - recorded[k]) <= entry.tolerance.get(k, 0.02)
        ]
        message = "matches its manifest" if not off else "differs from its manifest: " + "; ".join(off)
        results.append(Verification(name, not off, recorded, measured, message))
    return results


def describe(name: str, directory: str | Path | None = None) -> str:
    """One line about a model: its summary and, when shipped, its metrics and training time."""
    entry = recipe(name)
    try:
        record = manifest(name, directory)
    except ZooError:
        return f"{name:<24} {entry.summary} [not built: {entry.command}]"
    except CheckpointError:  # a weights file whose manifest is missing or unreadable
        return f"{name:<24} {entry.summary} [cannot be verified; rebuild it: {entry.command}]"
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in record["metrics"].items())
    return f"{name:<24} {entry.summary} [{metrics}; trained in {record['train_seconds']:.0f} s]"
