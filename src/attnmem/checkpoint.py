"""Checkpoints that can be trusted: a weights file beside a JSON manifest that records its sha256.

``save_checkpoint(path, model, manifest)`` writes ``path`` (a ``.pt`` state dict) and ``path.with_suffix('.json')``.
``load_checkpoint(path)`` checks the hash before it unpickles anything, and loads with ``weights_only=True``.
Every failure is a ``CheckpointError`` that names the file and, when the manifest records one, the command that
rebuilds it.
"""
from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["CheckpointError", "sha256_of", "save_checkpoint", "load_checkpoint", "read_manifest"]


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupted, or does not fit the model it is loaded into."""


def sha256_of(path: str | Path) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _rebuild_hint(manifest: dict[str, Any] | None) -> str:
    command = (manifest or {}).get("command")
    return f" Rebuild it with: {command}" if command else ""


def save_checkpoint(path: str | Path, model: nn.Module, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """Save ``model.state_dict()`` to ``path`` and a manifest (with sha256, torch version) beside it.

    Returns the manifest as written.
    """
    path = Path(path)
    if path.suffix != ".pt":
        raise ValueError(f"checkpoint path must end in .pt, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    torch.save(state, path)
    record = dict(manifest or {})
    record.update(
        {
            "file": path.name,
            "sha256": sha256_of(path),
            "bytes": path.stat().st_size,
            "parameters": sum(int(t.numel()) for t in state.values()),
            "torch": torch.__version__,
            "python": platform.python_version(),
        }
    )
    _manifest_path(path).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read the JSON manifest that belongs to checkpoint ``path`` (``NAME.pt`` -> ``NAME.json``)."""
    path = Path(path)
    manifest_file = _manifest_path(path)
    if not manifest_file.exists():
        raise CheckpointError(f"no manifest {manifest_file} beside checkpoint {path}; it cannot be verified")
    try:
        manifest = json.loads(manifest_file.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"manifest {manifest_file} is not valid JSON ({error})") from None
    if not isinstance(manifest, dict) or "sha256" not in manifest:
        raise CheckpointError(f"manifest {manifest_file} has no sha256 entry; it cannot be verified")
    return manifest


def load_checkpoint(path: str | Path, model: nn.Module | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """Verify ``path`` against its manifest's sha256, load it with ``weights_only=True``.

    If ``model`` is given, the weights are loaded into it strictly, and a mismatch (missing or unexpected keys,
    wrong shapes) is reported by name. Returns ``(state_dict, manifest)``.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    manifest = read_manifest(path)
    hint = _rebuild_hint(manifest)
    actual = sha256_of(path)
    if actual != manifest["sha256"]:
        raise CheckpointError(
            f"checkpoint {path} is corrupted or was changed: its sha256 is {actual[:12]}… but its manifest "
            f"records {str(manifest['sha256'])[:12]}….{hint}"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unpickling errors come in many types
        raise CheckpointError(f"checkpoint {path} could not be read ({error}).{hint}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, not a state dict.{hint}")
    if model is not None:
        _load_into(model, state, path, hint)
    return state, manifest


def _load_into(model: nn.Module, state: dict[str, torch.Tensor], path: Path, hint: str) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        f"{name} {tuple(state[name].shape)} vs model {tuple(expected[name].shape)}"
        for name in sorted(set(expected) & set(state))
        if state[name].shape != expected[name].shape
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing[:5]))
        if unexpected:
            parts.append("unexpected " + ", ".join(unexpected[:5]))
        if wrong:
            parts.append("wrong shapes: " + "; ".join(wrong[:5]))
        raise CheckpointError(
            f"checkpoint {path} does not match the model {type(model).__name__} ({'; '.join(parts)}); "
            f"was it trained with another configuration?{hint}"
        )
    model.load_state_dict(state)
