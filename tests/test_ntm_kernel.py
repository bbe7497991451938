"""The compiled NTM heads (``ntm_heads.c`` through ``attnmem.ntm_kernel``) against ``FusedHeads`` and against
autograd through the readable functions; its build cache and its fallbacks."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import torch
from test_ntm_fused import _inputs, _readable

from attnmem import ntm_kernel
from attnmem.ntm import _EPS, MAX_SHARPNESS, NTM
from attnmem.ntm_fused import fused_heads
from attnmem.ntm_kernel import compiled_heads, heads_function

if not ntm_kernel.available() and shutil.which(os.environ.get("CC", "cc").split()[0]) is None:
    pytest.skip(f"no C compiler: {ntm_kernel.why_unavailable()}", allow_module_level=True)


def _readable_heads(raw: torch.Tensor, memory: torch.Tensor, previous_read: torch.Tensor,
                    previous_write: torch.Tensor, shift_size: int, _eps: float,
                    _max_sharpness: float) -> tuple[torch.Tensor, ...]:
    return _readable(raw, memory, previous_read, previous_write, shift_size)


def _outputs_and_gradients(heads, inputs: tuple[torch.Tensor, ...], shift_size: int,
                           seed: int) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """The read and write weightings, reads and new memory, and the inputs' gradients for a random weighting of
    them."""
    outputs = heads(*inputs, shift_size, _EPS, MAX_SHARPNESS)[:4]
    generator = torch.Generator().manual_seed(seed + 1)
    directions = [torch.randn(out.shape, generator=generator, dtype=torch.float64).to(out.dtype) for out in outputs]
    loss = sum((out * direction).sum() for out, direction in zip(outputs, directions))
    return tuple(outputs), torch.autograd.grad(loss, inputs)


def _assert_all_close(ours: tuple[torch.Tensor, ...], theirs: tuple[torch.Tensor, ...], rtol: float,
                      atol: float = 1e-12) -> None:
    for mine, reference in zip(ours, theirs, strict=True):
        torch.testing.assert_close(mine, reference, rtol=rtol, atol=atol)


def test_the_kernel_is_available_here() -> None:
    assert ntm_kernel.available(), ntm_kernel.why_unavailable()
    assert heads_function(torch.zeros(1, 2, 3)) is compiled_heads


@pytest.mark.parametrize("read_heads, shift_size", [(1, 3), (2, 3), (1, 1), (1, 5), (2, 5), (3, 3)])
def test_values_and_gradients_equal_the_fused_heads_and_autograd(read_heads: int, shift_size: int) -> None:
    for seed in range(3):
        inputs = _inputs(seed, read_heads=read_heads, shift_size=shift_size)
        outputs, grads = _outputs_and_gradients(compiled_heads, inputs, shift_size, seed)
        fused_outputs, fused_grads = _outputs_and_gradients(fused_heads, inputs, shift_size, seed)
        readable_outputs, readable_grads = _outputs_and_gradients(_readable_heads, inputs, shift_size, seed)
        _assert_all_close(outputs, fused_outputs, rtol=1e-12)
        _assert_all_close(outputs, readable_outputs, rtol=1e-12)
        _assert_all_close(grads, fused_grads, rtol=1e-9)
        _assert_all_close(grads, readable_grads, rtol=1e-9)


@pytest.mark.parametrize("read_heads", [1, 2])
def test_rows_20_wide_which_the_kernel_specialises_for_agree_too(read_heads: int) -> None:
    """ntm_heads.c compiles its passes twice, once for rows 20 wide (COMMON_WIDTH, the book's machines)."""
    inputs = _inputs(11, batch=2, locations=9, width=20, read_heads=read_heads)
    outputs, grads = _outputs_and_gradients(compiled_heads, inputs, 3, 11)
    readable_outputs, readable_grads = _outputs_and_gradients(_readable_heads, inputs, 3, 11)
    _assert_all_close(outputs, readable_outputs, rtol=1e-12)
    _assert_all_close(grads, readable_grads, rtol=1e-9)
    assert torch.autograd.gradcheck(lambda *x: compiled_heads(*x, 3, _EPS, MAX_SHARPNESS)[:4], inputs)


def test_the_erase_and_add_vectors_and_a_shift_as_wide_as_the_memory() -> None:
    inputs = _inputs(4, locations=3, shift_size=7)  # shifts -3..3 over 3 locations: -3, 0 and 3 coincide
    outputs, grads = _outputs_and_gradients(compiled_heads, inputs, 7, 4)
    fused_outputs, fused_grads = _outputs_and_gradients(fused_heads, inputs, 7, 4)
    _assert_all_close(outputs, fused_outputs, rtol=1e-12)
    _assert_all_close(grads, fused_grads, rtol=1e-9)
    torch.testing.assert_close(compiled_heads(*inputs, 7, _EPS, MAX_SHARPNESS)[4],
                               fused_heads(*inputs, 7, _EPS, MAX_SHARPNESS)[4], rtol=1e-12, atol=0.0)


def test_the_kernel_passes_a_numerical_gradient_check() -> None:
    inputs = _inputs(7, batch=2, locations=6, width=4, read_heads=2)
    assert torch.autograd.gradcheck(lambda *x: compiled_heads(*x, 3, _EPS, MAX_SHARPNESS)[:4], inputs)


@pytest.mark.parametrize("raw_scale, zero_memory", [(1.0, True), (30.0, False), (1e4, False), (1e4, True)])
def test_zero_memory_and_extreme_head_outputs_stay_finite_and_agree(raw_scale: float, zero_memory: bool) -> None:
    inputs = _inputs(3, raw_scale=raw_scale, zero_memory=zero_memory)
    outputs, grads = _outputs_and_gradients(compiled_heads, inputs, 3, 3)
    for tensor in (*outputs, *grads):
        assert torch.isfinite(tensor).all()
    fused_outputs, fused_grads = _outputs_and_gradients(fused_heads, inputs, 3, 3)
    _assert_all_close(outputs, fused_outputs, rtol=1e-12)
    _assert_all_close(grads, fused_grads, rtol=1e-9, atol=1e-9)


def test_a_one_hot_previous_weighting_like_the_initial_state() -> None:
    raw, memory, _, _ = _inputs(5)
    previous = torch.zeros(3, 1, 7, dtype=torch.float64)
    previous[..., 0] = 1.0
    inputs = (raw, memory, previous.clone().requires_grad_(), previous.clone().requires_grad_())
    outputs, grads = _outputs_and_gradients(compiled_heads, inputs, 3, 5)
    readable_outputs, readable_grads = _outputs_and_gradients(_readable_heads, inputs, 3, 5)
    _assert_all_close(outputs, readable_outputs, rtol=1e-12)
    _assert_all_close(grads, readable_grads, rtol=1e-9)


@pytest.mark.parametrize("raw_scale", [1.0, 3.0, 30.0])
def test_float32_is_as_accurate_as_the_fused_heads_in_float32(raw_scale: float) -> None:
    """Against the float64 kernel: the float32 kernel's error (its own exp and log, see ntm_heads.c) is no larger
    than that of ``FusedHeads`` computing in float32 with torch's functions."""
    inputs = _inputs(6, batch=8, locations=64, width=20, raw_scale=raw_scale)
    exact = _outputs_and_gradients(compiled_heads, inputs, 3, 6)
    singles = tuple(x.detach().float().requires_grad_() for x in inputs)
    ours = _outputs_and_gradients(compiled_heads, singles, 3, 6)
    torchs = _outputs_and_gradients(fused_heads, singles, 3, 6)
    for mine, theirs, reference in zip((*ours[0], *ours[1]), (*torchs[0], *torchs[1]), (*exact[0], *exact[1])):
        assert mine.dtype == torch.float32
        our_error = (mine.double() - reference).abs().max().item()
        torch_error = (theirs.double() - reference).abs().max().item()
        assert our_error <= 2 * torch_error + 1e-7, (our_error, torch_error)


def test_no_memory_gradient_when_the_memory_needs_none() -> None:
    raw, memory, previous_read, previous_write = _inputs(8)
    memory = memory.detach()
    inputs, wanted = (raw, memory, previous_read, previous_write), (raw, previous_read, previous_write)
    read_weights, write_weights, reads, new_memory, _ = compiled_heads(*inputs, 3, _EPS, MAX_SHARPNESS)
    grads = torch.autograd.grad(read_weights.sum() + write_weights.sum() + reads.sum() + new_memory.square().sum(),
                                wanted)
    expected = torch.autograd.grad(sum(out.sum() if i < 3 else out.square().sum() for i, out in
                                       enumerate(fused_heads(*inputs, 3, _EPS, MAX_SHARPNESS)[:4])), wanted)
    _assert_all_close(grads, expected, rtol=1e-9)


def test_an_ntm_with_the_kernel_trains_exactly_like_the_readable_one() -> None:
    torch.manual_seed(0)
    compiled = NTM(4, 3, memory_size=10, memory_width=6, controller_size=8, read_heads=2).double()
    readable = NTM(4, 3, memory_size=10, memory_width=6, controller_size=8, read_heads=2, fused=False).double()
    readable.load_state_dict(compiled.state_dict())
    inputs = torch.randn(2, 6, 4, dtype=torch.float64)
    outputs = [model(inputs) for model in (compiled, readable)]
    for ours, theirs in zip(*outputs):
        torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)
    for model, out in zip((compiled, readable), outputs):
        (out.logits.square().sum() + out.memory.sum()).backward()
    for (name, ours), theirs in zip(compiled.named_parameters(), readable.parameters()):
        torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-8, atol=1e-12, msg=name)


def test_heads_function_falls_back_where_the_kernel_cannot_run(monkeypatch: pytest.MonkeyPatch) -> None:
    assert heads_function(torch.zeros(1, 2, 3, dtype=torch.float16)) is fused_heads
    assert heads_function(torch.zeros(1, 2, 3, device="meta")) is fused_heads
    monkeypatch.setenv("ATTNMEM_NO_C_KERNEL", "1")
    assert not ntm_kernel.available()
    assert "ATTNMEM_NO_C_KERNEL" in ntm_kernel.why_unavailable()
    assert heads_function(torch.zeros(1, 2, 3)) is fused_heads


def test_the_switch_turns_the_kernel_off_in_a_fresh_process(tmp_path) -> None:
    script = ("import torch; from attnmem import ntm_kernel as k; from attnmem.ntm_fused import fused_heads; "
              "print(k.available(), k.heads_function(torch.zeros(1, 2, 3)) is fused_heads)")
    env = {**os.environ, "ATTNMEM_NO_C_KERNEL": "1", "ATTNMEM_CACHE": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.stdout.split() == ["False", "True"], done.stderr
    assert not list(tmp_path.iterdir()), "nothing is compiled when the kernel is switched off"


def test_bad_inputs_get_a_clear_message() -> None:
    raw, memory, read, write = _inputs(9)
    with pytest.raises(ValueError, match="raw must be"):
        compiled_heads(raw[:, 1:], memory, read, write, 3, _EPS, MAX_SHARPNESS)
    with pytest.raises(ValueError, match="previous_read must be"):
        compiled_heads(raw, memory, read[..., 1:], write, 3, _EPS, MAX_SHARPNESS)
    with pytest.raises(ValueError, match="previous_read must be"):
        compiled_heads(raw, memory, read, torch.cat([write, write], 1), 3, _EPS, MAX_SHARPNESS)
    with pytest.raises(ValueError, match="at least one read head"):
        compiled_heads(raw, memory, read[:, :0], write, 3, _EPS, MAX_SHARPNESS)
    with pytest.raises(ValueError, match="odd shift_size"):
        compiled_heads(raw, memory, read, write, 2, _EPS, MAX_SHARPNESS)
    with pytest.raises(TypeError, match="float32 or all float64"):
        compiled_heads(raw, memory, read, write.float(), 3, _EPS, MAX_SHARPNESS)
    with pytest.raises(ValueError, match="CPU tensors only"):
        compiled_heads(raw, memory.to("meta"), read, write, 3, _EPS, MAX_SHARPNESS)
    with pytest.raises(ValueError, match="at least one location"):
        compiled_heads(raw, memory[:, :0], read[..., :0], write[..., :0], 3, _EPS, MAX_SHARPNESS)


# --- the build cache ---------------------------------------------------------------------------------------------

@pytest.fixture
def fresh_cache(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """An empty cache directory and a module that has loaded nothing yet (restored afterwards)."""
    monkeypatch.setenv("ATTNMEM_CACHE", str(tmp_path))
    monkeypatch.delenv("ATTNMEM_NO_C_KERNEL", raising=False)
    monkeypatch.setattr(ntm_kernel, "_libraries", {})
    monkeypatch.setattr(ntm_kernel, "_failure", None)
    return tmp_path


def _count_compiles(monkeypatch: pytest.MonkeyPatch) -> list[torch.dtype]:
    compiled: list[torch.dtype] = []
    compile_for_real = ntm_kernel._compile

    def counting(dtype: torch.dtype, target) -> None:
        compiled.append(dtype)
        compile_for_real(dtype, target)

    monkeypatch.setattr(ntm_kernel, "_compile", counting)
    return compiled


def test_the_cache_compiles_once_and_leaves_no_temporary_files(fresh_cache, monkeypatch) -> None:
    compiled = _count_compiles(monkeypatch)
    assert ntm_kernel.available(), ntm_kernel.why_unavailable()
    assert sorted(map(str, compiled)) == ["torch.float32", "torch.float64"]
    files = sorted(p.name for p in fresh_cache.iterdir())
    assert files == sorted(ntm_kernel.library_path(d).name for d in (torch.float32, torch.float64))
    monkeypatch.setattr(ntm_kernel, "_libraries", {})  # as a new process would
    assert ntm_kernel.available()
    assert len(compiled) == 2, "the second load compiled again"


def test_a_damaged_cached_library_is_rebuilt(fresh_cache, monkeypatch) -> None:
    compiled = _count_compiles(monkeypatch)
    path = ntm_kernel.library_path(torch.float64)
    path.write_bytes(b"not a shared library")
    kernel = ntm_kernel._load(torch.float64)
    assert compiled == [torch.float64] and path.read_bytes()[:4] == b"\x7fELF"
    monkeypatch.setitem(ntm_kernel._libraries, torch.float64, kernel)
    monkeypatch.setattr(ntm_kernel, "_ensure_loaded", lambda: None)
    inputs = _inputs(1)
    _assert_all_close(compiled_heads(*inputs, 3, _EPS, MAX_SHARPNESS)[:4],
                      fused_heads(*inputs, 3, _EPS, MAX_SHARPNESS)[:4], rtol=1e-12)


def test_a_damaged_library_without_a_compiler_gives_a_clear_reason(fresh_cache, monkeypatch) -> None:
    for dtype in (torch.float32, torch.float64):
        ntm_kernel.library_path(dtype).write_bytes(b"not a shared library")
    monkeypatch.setenv("CC", "no-such-compiler-attnmem")
    assert not ntm_kernel.available()
    assert "no C compiler" in ntm_kernel.why_unavailable()
    assert heads_function(torch.zeros(1, 2, 3)) is fused_heads


def test_a_failing_compile_gives_its_error(fresh_cache, monkeypatch) -> None:
    monkeypatch.setenv("CC", f"{os.environ.get('CC', 'cc')} -fno-such-option-attnmem")
    assert not ntm_kernel.available()
    assert "compiling ntm_heads.c failed" in ntm_kernel.why_unavailable()
    assert not any(p.suffix == ".so" for p in fresh_cache.iterdir()), "a failed compile leaves no file"


@pytest.mark.skipif(not ntm_kernel.has_avx2(), reason="this processor has no AVX2")
def test_the_avx2_build_gives_the_same_bits_as_the_plain_one(tmp_path, monkeypatch) -> None:
    """-mavx2 only widens the vector instructions: no fused multiply-add under -std=c99, every sum in the order
    the code fixes, so both builds give identical numbers."""
    results = []
    for wider in (False, True):
        monkeypatch.setattr(ntm_kernel, "has_avx2", lambda wider=wider: wider)
        monkeypatch.setenv("ATTNMEM_CACHE", str(tmp_path / str(wider)))
        monkeypatch.setattr(ntm_kernel, "_libraries", {})
        monkeypatch.setattr(ntm_kernel, "_failure", None)
        assert ("-mavx2" in ntm_kernel._flags(torch.float32)) == wider
        assert ntm_kernel.available(), ntm_kernel.why_unavailable()
        inputs = _inputs(10, batch=4, locations=37, width=13, read_heads=2)
        for dtype in (torch.float64, torch.float32):
            typed = tuple(x.detach().to(dtype).requires_grad_() for x in inputs)
            results.append(_outputs_and_gradients(compiled_heads, typed, 3, 10))
    for plain, wide in zip(results[:2], results[2:]):
        for mine, theirs in zip((*plain[0], *plain[1]), (*wide[0], *wide[1])):
            assert torch.equal(mine, theirs)
