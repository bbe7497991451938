"""The NTM heads as compiled C: ``ntm_heads.c`` (the forward and backward of ``attnmem.ntm_fused.FusedHeads``,
Graves et al. 2014, Eqs. 2-9), built on first use with the system C compiler and called through ``ctypes``.

``FusedHeads`` does its arithmetic in about 250 small torch operations per step, and on a CPU each costs a few
microseconds of dispatch whatever its size; the C loops do the same arithmetic, about a megaflop, in one call each
way. ``CompiledHeads`` is the autograd node around them, with the signature and outputs of ``FusedHeads``. The
numbers are the same up to rounding; in float32 the C code computes the addressing's exponentials and logarithms
itself, so that they become vector code, and is as accurate as ``FusedHeads`` in float32 (``tests/test_ntm_kernel.py``).

The library is compiled once per machine into ``$ATTNMEM_CACHE`` (default ``~/.cache/attnmem``), two files (float
and double) named by the sha256 of the C source, the compiler flags and ``platform.machine()``; each is written
under a temporary name and then renamed, so processes that compile at the same time cannot leave a half-written
file. ``available()`` says whether the kernel can be used (no compiler, a failed compile, no ``ctypes``, or
``ATTNMEM_NO_C_KERNEL=1`` make it False, and ``why_unavailable()`` says which); nothing here raises at import time.
``heads_function(memory)`` picks ``CompiledHeads`` where it can run (CPU, float32 or float64) and ``FusedHeads``
everywhere else.
"""
from __future__ import annotations

import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from attnmem.ntm_fused import fused_heads

__all__ = ["CompiledHeads", "available", "compiled_heads", "has_avx2", "heads_function", "library_path",
           "why_unavailable"]

SOURCE = Path(__file__).with_name("ntm_heads.c")
# No -ffast-math and no -march=native: the results must not depend on the compiler's licence to reorder arithmetic,
# nor on this machine's processor. -fno-trapping-math and -fno-math-errno change no result (no program here turns on
# floating-point traps or reads errno after sqrt); they let loops with a comparison or a square root in them become
# vector code. On an x86 processor with AVX2, -mavx2 lets the compiler use its wider vector instructions (about 15%
# faster here); it changes no result either, since -std=c99 forbids fusing a multiply and an add into one rounding
# and the code fixes the order of every sum (tests/test_ntm_kernel.py compares the two builds bit for bit).
# -march=native (AVX-512 here) made the kernel slower.
FLAGS = ("-O3", "-funroll-loops", "-fno-trapping-math", "-fno-math-errno", "-shared", "-fPIC", "-std=c99")
AVX2 = ("-mavx2",)
_VARIANTS = {torch.float32: ("float", "_f32"), torch.float64: ("double", "_f64")}
_DISABLE = "ATTNMEM_NO_C_KERNEL"


class _Kernel(NamedTuple):
    """The three C functions of one precision, as ``ctypes`` functions with their argument types."""

    saved_size: Any
    forward: Any
    backward: Any


_lock = threading.Lock()
_libraries: dict[torch.dtype, _Kernel] = {}  # filled once loaded
_failure: str | None = None  # why the kernel cannot be used, once a load failed


def _compiler() -> list[str]:
    return shlex.split(os.environ.get("CC", "cc")) or ["cc"]


def _cache_dir() -> Path:
    return Path(os.environ.get("ATTNMEM_CACHE") or Path.home() / ".cache" / "attnmem")


def has_avx2() -> bool:
    """Whether this processor runs AVX2 instructions, as torch's own dispatch sees it."""
    return torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")


def _flags(dtype: torch.dtype) -> list[str]:
    real, suffix = _VARIANTS[dtype]
    return [*FLAGS, *(AVX2 if has_avx2() else ()), f"-DREAL={real}", f"-DSUFFIX={suffix}"]


def _command(dtype: torch.dtype, output: Path) -> list[str]:
    return [*_compiler(), *_flags(dtype), str(SOURCE), "-o", str(output), "-lm"]


def library_path(dtype: torch.dtype) -> Path:
    """Where the compiled library for ``dtype`` is cached: named by the sha256 of the source, the flags and the
    machine, so a changed source gets a fresh file."""
    digest = hashlib.sha256(SOURCE.read_bytes())
    digest.update(" ".join(_flags(dtype)).encode())
    digest.update(platform.machine().encode())
    return _cache_dir() / f"ntm_heads-{digest.hexdigest()[:24]}-{_VARIANTS[dtype][0]}.so"


def _compile(dtype: torch.dtype, target: Path) -> None:
    """Compile into a temporary file beside ``target``, then rename it over ``target`` (atomic on one filesystem)."""
    if shutil.which(_compiler()[0]) is None:
        raise FileNotFoundError(f"no C compiler: {_compiler()[0]!r} was not found (install one, e.g. gcc, or point "
                                "$CC at one)")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=target.stem + "-", suffix=".tmp.so", dir=target.parent)
    os.close(handle)
    try:
        done = subprocess.run(_command(dtype, Path(temporary)), check=False, capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"compiling {SOURCE.name} failed ({' '.join(_command(dtype, target))}):\n"
                               f"{done.stderr.strip()[-2000:]}")
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _declare(library: Any, suffix: str) -> _Kernel:
    """The C functions with their argument types (pointers as ``c_void_p``, sizes as 64-bit ints)."""
    import ctypes

    pointer, size, real = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double
    kernel = _Kernel(*(getattr(library, f"ntm_heads_{name}{suffix}") for name in _Kernel._fields))
    kernel.saved_size.argtypes, kernel.saved_size.restype = [size] * 5, size
    kernel.forward.argtypes = [pointer] * 4 + [size] * 5 + [real] * 2 + [pointer] * 6
    kernel.forward.restype = ctypes.c_int
    kernel.backward.argtypes, kernel.backward.restype = [pointer] * 12 + [size] * 5 + [pointer] * 4, ctypes.c_int
    return kernel


def _load(dtype: torch.dtype) -> _Kernel:
    """The library for ``dtype``: the cached file, compiled first if missing; a cached file that does not load (a
    damaged one) is compiled again once."""
    import ctypes

    path, suffix = library_path(dtype), _VARIANTS[dtype][1]
    if not path.exists():
        _compile(dtype, path)
    try:
        return _declare(ctypes.CDLL(str(path)), suffix)
    except (OSError, AttributeError) as error:
        damaged = f"{path} did not load ({error})"
    _compile(dtype, path)
    try:
        return _declare(ctypes.CDLL(str(path)), suffix)
    except (OSError, AttributeError) as error:
        raise RuntimeError(f"{damaged}, and again after compiling it anew ({error})") from error


def _ensure_loaded() -> str | None:
    """Load both libraries once per process; return why they cannot be used, or None."""
    global _failure
    with _lock:
        if _failure is None and len(_libraries) < len(_VARIANTS):
            try:
                import ctypes  # noqa: F401  (some Python builds have none)

                for dtype in _VARIANTS:
                    _libraries[dtype] = _load(dtype)
            except ImportError as error:
                _failure = f"this Python has no ctypes ({error})"
            except (RuntimeError, OSError, subprocess.SubprocessError) as error:
                _failure = str(error)
        return _failure


def why_unavailable() -> str | None:
    """Why ``available()`` is False (it compiles on the first call), or None when the kernel can be used."""
    if os.environ.get(_DISABLE, "") not in ("", "0"):
        return f"{_DISABLE}={os.environ[_DISABLE]} is set"
    if len(_libraries) == len(_VARIANTS):  # loaded: no need to take the lock (called at every NTM step)
        return None
    return _ensure_loaded()


def available() -> bool:
    """Whether the compiled heads can be used in this process (compiling them on the first call)."""
    return why_unavailable() is None


def _check_inputs(raw: Tensor, memory: Tensor, previous_read: Tensor, previous_write: Tensor,
                  shift_size: int) -> None:
    """Raise a clear error for inputs the C code cannot take (it trusts every size and pointer it gets)."""
    tensors = (raw, memory, previous_read, previous_write)
    if not all(t.device.type == "cpu" for t in tensors):
        raise ValueError(f"the compiled NTM heads take CPU tensors only, got {[str(t.device) for t in tensors]} "
                         "(raw, memory, previous_read, previous_write); use "
                         "attnmem.ntm_kernel.heads_function(memory) to pick the heads")
    if raw.dim() != 2 or memory.dim() != 3 or previous_read.dim() != 3 or previous_write.dim() != 3:
        raise ValueError(f"expected raw (B, F), memory (B, N, width), previous_read (B, R, N) and previous_write "
                         f"(B, 1, N), got shapes {[tuple(t.shape) for t in tensors]}")
    batch, locations, width = memory.shape
    read_heads = previous_read.shape[1]
    heads = read_heads + 1
    if locations < 1 or width < 1:
        raise ValueError(f"the memory needs at least one location and a width of at least 1, got "
                         f"{tuple(memory.shape)}")
    if read_heads < 1 or shift_size < 1 or shift_size % 2 == 0:
        raise ValueError(f"need at least one read head (previous_read (B, R, N) with R >= 1) and an odd shift_size "
                         f">= 1, got R = {read_heads} and shift_size {shift_size}")
    if previous_read.shape != (batch, read_heads, locations) or previous_write.shape != (batch, 1, locations):
        raise ValueError(f"previous_read must be (batch, read heads, locations) and previous_write (batch, 1, "
                         f"locations) for a memory of {tuple(memory.shape)}, got {tuple(previous_read.shape)} and "
                         f"{tuple(previous_write.shape)}")
    features = heads * (width + 3 + shift_size) + 2 * width
    if raw.shape != (batch, features):
        raise ValueError(f"raw must be (batch, heads * (width + 3 + shift_size) + 2 * width) = {(batch, features)} "
                         f"for {heads} heads, width {width} and shift size {shift_size}, got {tuple(raw.shape)}")
    if not all(t.dtype == raw.dtype for t in tensors) or raw.dtype not in _VARIANTS:
        raise TypeError(f"raw, memory, previous_read and previous_write must all be float32 or all float64, got "
                        f"{[str(t.dtype) for t in tensors]}")


def _pointers(*tensors: Tensor | None) -> list[int | None]:
    return [None if t is None else t.data_ptr() for t in tensors]


class CompiledHeads(torch.autograd.Function):
    """``FusedHeads`` (addressing, Eqs. 5-9; reading, Eq. 2; one write head, Eqs. 3-4) run by ``ntm_heads.c``.

    Same inputs and outputs: ``raw`` (B, H * P + 2 * width), ``memory`` (B, N, width), ``previous_read``
    (B, R, N) and ``previous_write`` (B, 1, N); returns the read and write weightings (B, R, N) and (B, 1, N), the
    reads (B, R, width), the new memory (B, N, width) and the erase and add vectors (B, 1, 2, width), the last
    without a gradient. CPU tensors of float32 or float64 only (see ``heads_function``). The forward pass keeps what
    the backward pass needs in one buffer, so the backward pass recomputes nothing but a few products.
    """

    @staticmethod
    def forward(ctx: Any, raw: Tensor, memory: Tensor, previous_read: Tensor, previous_write: Tensor,
                shift_size: int, eps: float, max_sharpness: float) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        _check_inputs(raw, memory, previous_read, previous_write, shift_size)
        failure = _ensure_loaded()
        if failure is not None:
            raise RuntimeError(f"the compiled NTM heads cannot run: {failure}; use attnmem.ntm_fused.FusedHeads")
        inputs = [t.contiguous() for t in (raw, memory, previous_read, previous_write)]
        kernel = _libraries[raw.dtype]
        batch, locations, width = memory.shape
        read_heads = previous_read.shape[1]
        sizes = (batch, read_heads, locations, width, shift_size)
        outputs = (memory.new_empty(batch, read_heads, locations), memory.new_empty(batch, 1, locations),
                   memory.new_empty(batch, read_heads, width), memory.new_empty(memory.shape),
                   memory.new_empty(batch, 1, 2, width), memory.new_empty(kernel.saved_size(*sizes)))
        if kernel.forward(*_pointers(*inputs), *sizes, eps, max_sharpness, *_pointers(*outputs)) != 0:
            raise MemoryError("the compiled NTM heads could not allocate their scratch memory")
        read_weights, write_weights, reads, new_memory, erase_add, saved = outputs
        ctx.sizes = sizes
        ctx.save_for_backward(*inputs, read_weights, write_weights, erase_add, saved)
        ctx.mark_non_differentiable(erase_add)
        return read_weights, write_weights, reads, new_memory, erase_add

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_read_weights: Tensor, grad_write_weights: Tensor, grad_reads: Tensor,
                 grad_memory: Tensor, _grad_erase_add: Tensor) -> tuple[Tensor | None, ...]:
        saved = ctx.saved_tensors
        raw, memory, previous_read, previous_write = saved[:4]
        grads = [g.contiguous() for g in (grad_read_weights, grad_write_weights, grad_reads, grad_memory)]
        grad_memory_in = memory.new_empty(memory.shape) if ctx.needs_input_grad[1] else None
        grad_inputs = (raw.new_empty(raw.shape), grad_memory_in, previous_read.new_empty(previous_read.shape),
                       previous_write.new_empty(previous_write.shape))
        if _libraries[raw.dtype].backward(*_pointers(*saved, *grads), *ctx.sizes, *_pointers(*grad_inputs)) != 0:
            raise MemoryError("the compiled NTM heads could not allocate their scratch memory")
        return *grad_inputs, None, None, None


def compiled_heads(raw: Tensor, memory: Tensor, previous_read: Tensor, previous_write: Tensor, shift_size: int,
                   eps: float, max_sharpness: float) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``CompiledHeads.apply``: (read weightings, write weighting, reads, new memory, erase and add vectors) of one
    NTM step."""
    return CompiledHeads.apply(raw, memory, previous_read, previous_write, shift_size, eps, max_sharpness)


def heads_function(memory: Tensor) -> Callable[..., tuple[Tensor, Tensor, Tensor, Tensor]]:
    """The heads to run on ``memory``: ``compiled_heads`` for CPU tensors of float32 or float64 when the kernel is
    available, else ``attnmem.ntm_fused.fused_heads`` (same signature, same numbers)."""
    if memory.device.type == "cpu" and memory.dtype in _VARIANTS and available():
        return compiled_heads
    return fused_heads
