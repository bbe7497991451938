"""Checkpoints that can be trusted: a weights file beside a JSON manifest that records its sha256 and size.

``save_checkpoint(path, model, manifest)`` writes ``path`` (a ``.pt`` state dict) and ``path.with_suffix('.json')``.
Saving is atomic: each file is written to a temporary file in the same folder, flushed to disk and renamed over
the old one, the manifest last, so a failed save (a full disk, a killed process) leaves the previous checkpoint
and manifest as they were. ``ensure_writable(path)`` checks a destination before a long training run starts.

``load_checkpoint(path)`` reads only regular files, at most the size the manifest records, checks the hash
before it unpickles anything, loads with ``weights_only=True``, and refuses a state dict whose names, shapes or
dtypes differ from the model's. Every failure is a ``CheckpointError`` that names the file and, when the manifest
records one, the command that rebuilds it.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable, IO

import torch
from torch import nn

__all__ = [
    "CheckpointError",
    "sha256_of",
    "ensure_writable",
    "save_checkpoint",
    "load_checkpoint",
    "read_manifest",
    "manifest_path",
]

#: A manifest is a few kilobytes; anything larger than this is not one (and is not read into memory).
MANIFEST_LIMIT = 1 << 20
_BLOCK = 1 << 20


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupted, cannot be written, or does not fit the model it is loaded into."""


def manifest_path(path: str | Path) -> Path:
    """The manifest that belongs to checkpoint ``path`` (``NAME.pt`` -> ``NAME.json``)."""
    return Path(path).with_suffix(".json")


def _open_regular(path: Path, what: str, hint: str = "") -> IO[bytes]:
    """Open ``path`` for reading only if it is a regular file (a folder, device or pipe is refused, never read).

    ``O_NONBLOCK`` keeps a named pipe from blocking the open; the type is checked on the opened descriptor.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise CheckpointError(f"{what} {path} does not exist.{hint}") from None
    except OSError as error:
        raise CheckpointError(f"{what} {path} cannot be opened ({error.strerror or error}).{hint}") from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a device, pipe or socket)"
        raise CheckpointError(f"{what} {path} is {kind}; remove it and rebuild the checkpoint.{hint}")
    return os.fdopen(descriptor, "rb")


def _digest(handle: IO[bytes], path: Path, limit: int | None) -> str:
    digest = hashlib.sha256()
    read = 0
    while block := handle.read(_BLOCK if limit is None else min(_BLOCK, limit + 1 - read)):
        read += len(block)
        if limit is not None and read > limit:
            raise CheckpointError(f"file {path} is longer than the {limit} bytes expected; it was changed")
        digest.update(block)
    return digest.hexdigest()


def sha256_of(path: str | Path, limit: int | None = None) -> str:
    """The hex sha256 of a regular file's bytes; with ``limit``, a file longer than ``limit`` bytes is refused."""
    path = Path(path)
    with _open_regular(path, "file") as handle:
        return _digest(handle, path, limit)


def ensure_writable(path: str | Path) -> Path:
    """Check that checkpoint ``path`` can be written (creating its folder); returns the folder.

    Call it before a long training run, so a destination that cannot take the result is refused first. It
    writes and removes a small temporary file, which is the only test that holds for every file system and user.
    """
    path = Path(path)
    if path.suffix != ".pt":
        raise ValueError(f"checkpoint path must end in .pt, got {path}")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for target in (path, manifest_path(path)):
            if target.is_dir():
                raise CheckpointError(f"cannot save to {target}: it is a folder; remove it or save elsewhere")
        descriptor, probe = tempfile.mkstemp(dir=folder, prefix=f".{path.stem}.", suffix=".probe")
        os.close(descriptor)
        os.unlink(probe)
    except CheckpointError:
        raise
    except OSError as error:
        raise CheckpointError(
            f"cannot save checkpoints in the folder {folder} ({error.strerror or error}); choose a folder you can "
            f"write to (for the zoo: python -m attnmem.zoo train NAME --out FOLDER)"
        ) from None
    return folder


def _umask() -> int:
    """The process's file-creation mask (read by setting it, then restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_temporary(target: Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Write a temporary file beside ``target`` (flushed and synced to disk); on failure nothing is left behind."""
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes files only their owner can read
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Path(temporary)


def _sync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable (where the platform allows opening a folder)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems do not sync folders; the renames themselves are still atomic
    finally:
        os.close(descriptor)


def save_checkpoint(path: str | Path, model: nn.Module, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """Save ``model.state_dict()`` to ``path`` and a manifest (sha256, bytes, torch version) beside it, atomically.

    Returns the manifest as written. If anything fails, the previous files at ``path`` are left as they were.
    """
    path = Path(path)
    folder = ensure_writable(path)
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    written: list[Path] = []
    try:
        written.append(_write_temporary(path, lambda handle: torch.save(state, handle)))
        record = dict(manifest or {})
        record.update(
            {
                "file": path.name,
                "sha256": sha256_of(written[0]),
                "bytes": written[0].stat().st_size,
                "parameters": sum(int(t.numel()) for t in state.values()),
                "torch": torch.__version__,
                "python": platform.python_version(),
            }
        )
        text = (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8")
        written.append(_write_temporary(manifest_path(path), lambda handle: handle.write(text)))
        # both files are complete on disk before either replaces its old version; the manifest goes last
        os.replace(written[0], path)
        os.replace(written[1], manifest_path(path))
    except (OSError, RuntimeError) as error:  # torch reports a failed write (a full disk) as a RuntimeError
        raise CheckpointError(
            f"saving {path} failed ({getattr(error, 'strerror', None) or error}); the previous checkpoint, if any, "
            f"is unchanged. Free space in {folder} or save elsewhere."
        ) from error
    finally:
        for temporary in written:
            temporary.unlink(missing_ok=True)
    _sync_folder(folder)
    return record


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read the JSON manifest that belongs to checkpoint ``path`` (``NAME.pt`` -> ``NAME.json``)."""
    path = Path(path)
    manifest_file = manifest_path(path)
    if not manifest_file.exists() and not manifest_file.is_symlink():
        raise CheckpointError(f"no manifest {manifest_file} beside checkpoint {path}; it cannot be verified")
    with _open_regular(manifest_file, "manifest") as handle:
        raw = handle.read(MANIFEST_LIMIT + 1)
    if len(raw) > MANIFEST_LIMIT:
        raise CheckpointError(f"manifest {manifest_file} is over {MANIFEST_LIMIT} bytes; it is not a manifest")
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise CheckpointError(f"manifest {manifest_file} is not UTF-8 text ({error}); it cannot be verified") from None
    except json.JSONDecodeError as error:
        raise CheckpointError(f"manifest {manifest_file} is not valid JSON ({error})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sha256"), str):
        raise CheckpointError(f"manifest {manifest_file} has no sha256 entry; it cannot be verified")
    size = manifest.get("bytes")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise CheckpointError(f"manifest {manifest_file} records bytes={size!r}, not a size; it cannot be verified")
    return manifest


def _rebuild_hint(manifest: dict[str, Any] | None) -> str:
    command = (manifest or {}).get("command")
    return f" Rebuild it with: {command}" if command else ""


def _verified_bytes(path: Path, manifest: dict[str, Any], hint: str) -> None:
    """Check ``path`` against the manifest's size and sha256, reading no more than the recorded size (+1)."""
    recorded = manifest.get("bytes")
    with _open_regular(path, "checkpoint", hint) as handle:
        size = os.fstat(handle.fileno()).st_size
        if recorded is not None and size != recorded:
            raise CheckpointError(
                f"checkpoint {path} is {size} bytes but its manifest records {recorded}: it was truncated, "
                f"half-written or replaced.{hint}"
            )
        actual = _digest(handle, path, size if recorded is None else recorded)
    if actual != manifest["sha256"]:
        raise CheckpointError(
            f"checkpoint {path} is corrupted or was changed: its sha256 is {actual[:12]}… but its manifest "
            f"records {manifest['sha256'][:12]}….{hint}"
        )


def load_checkpoint(path: str | Path, model: nn.Module | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """Verify ``path`` against its manifest's size and sha256, then load it with ``weights_only=True``.

    If ``model`` is given, the weights are loaded into it strictly, and a mismatch (missing or unexpected keys,
    wrong shapes or dtypes) is reported by name. Returns ``(state_dict, manifest)``.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder, not a file; remove it and rebuild the checkpoint")
    manifest = read_manifest(path)
    hint = _rebuild_hint(manifest)
    _verified_bytes(path, manifest, hint)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unpickling errors come in many types
        raise CheckpointError(f"checkpoint {path} could not be read ({error}).{hint}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, not a state dict.{hint}")
    not_tensors = [f"{name} ({type(value).__name__})" for name, value in state.items()
                   if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(
            f"checkpoint {path} is not a state dict of tensors: {', '.join(map(str, not_tensors[:5]))}.{hint}"
        )
    if model is not None:
        _load_into(model, state, path, hint)
    return state, manifest


def _load_into(model: nn.Module, state: dict[str, torch.Tensor], path: Path, hint: str) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(map(str, set(state) - set(expected)))
    shared = sorted(set(expected) & set(state))
    wrong = [f"{name} {tuple(state[name].shape)} vs model {tuple(expected[name].shape)}"
             for name in shared if state[name].shape != expected[name].shape]
    # load_state_dict would cast silently (float16 -> float32, bool -> float): a different dtype is a different model
    dtypes = [f"{name} {state[name].dtype} vs model {expected[name].dtype}"
              for name in shared if state[name].dtype != expected[name].dtype]
    if missing or unexpected or wrong or dtypes:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing[:5]))
        if unexpected:
            parts.append("unexpected " + ", ".join(unexpected[:5]))
        if wrong:
            parts.append("wrong shapes: " + "; ".join(wrong[:5]))
        if dtypes:
            parts.append("wrong dtypes: " + "; ".join(dtypes[:5]))
        raise CheckpointError(
            f"checkpoint {path} does not match the model {type(model).__name__} ({'; '.join(parts)}); "
            f"was it trained with another configuration?{hint}"
        )
    model.load_state_dict(state)
