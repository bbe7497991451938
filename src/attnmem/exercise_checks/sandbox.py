"""Run a reader's submission where it can neither see the expected values nor change the checker.

``check(label, fn)`` forks a *worker* process before the checker has computed anything. The checker then runs in
the notebook's process as before, but every call of the reader's function (``call(fn, **inputs)``, or calling the
:class:`Submission` it receives) sends the inputs to the worker, which runs the function and sends back only
its result, as plain data. So:

- the expected values never exist in the worker: reading the checker's stack frames, or the garbage collector,
  finds nothing to copy;
- whatever the submission patches (the comparison helpers, torch, the checker) is patched in the worker only;
- in the worker, the package's own implementation of what the exercise asks (the exercise's ``forbidden``
  objects) and every function of the checker modules are *tripwires*: their code is swapped for code that
  records the call and raises. Identity is what counts, so every route to them trips: imported by name, under
  another name, through its module, through a helper (the package's or the reader's) that calls it. A profile
  hook also recognises copies of their code (a reloaded module) by file and qualified name;
- a submission that loops for ever is stopped after the check's time limit; ``exit()``, ``SystemExit``,
  ``KeyboardInterrupt``, ``os._exit`` or a crash inside it are reported; what it prints is captured and at most
  :data:`PRINT_SHOWN` characters of it are shown;
- an input changed in place is noticed in the worker, before the result is sent.

Gradients: an output that depends on inputs with ``requires_grad`` comes back as a tensor whose backward asks
the worker for the vector-Jacobian product, so checkers keep using ``expect_gradient`` and ``.backward()``.

Results travel as plain containers of numbers, strings and bytes (never pickled objects of the reader's
choosing), so a result cannot run code in the checker's process when it is read.

For checker authors (any chapter): register the exercise with ``forbidden=(the package objects that answer
it, ...)`` (functions, methods or classes, taken from wherever they live) and call the reader's function only
through ``call`` or directly on the submission you receive. Nothing else is needed: ``check`` does the rest.
This needs ``os.fork`` (Linux, macOS, Colab); elsewhere the submission runs in the notebook's process with the
tripwires in place but without the time limit and the isolation.
"""

from __future__ import annotations

import io
import os
import pickle
import signal
import sys
import time
import traceback
import types
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe
from typing import Any

import torch
from torch import Tensor

#: Seconds a check may spend inside the reader's function, all calls together.
TIME_LIMIT_S = 30.0
#: Characters of what the reader's function prints that are shown with the result.
PRINT_SHOWN = 600
_DEPTH = 8  # how deeply nested a result may be


class Problem(Exception):
    """The reader's function did not return a usable result; ``kind`` says why, ``message`` says it kindly.

    Kinds: ``raised``, ``not written``, ``forbidden``, ``escaped``, ``mutated``, ``timeout``, ``crashed``.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Tripped(BaseException):
    """Raised in the worker when the submission calls a forbidden function (a BaseException, so that
    ``except Exception`` in the reader's code does not swallow it)."""


# ---- what is forbidden ------------------------------------------------------------------------------------


def qualified_name(obj: Any) -> str:
    """``attnmem.ntm.shift``: where the object lives, for the reader."""
    module = getattr(obj, "__module__", None) or "?"
    return f"{module}.{getattr(obj, '__qualname__', getattr(obj, '__name__', repr(obj)))}"


def functions_of(obj: Any) -> list[tuple[types.FunctionType, str]]:
    """The Python functions that make up ``obj``: itself, or the methods a class defines (with their names)."""
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if isinstance(obj, types.MethodType):
        obj = obj.__func__
    if isinstance(obj, types.FunctionType):
        return [(obj, qualified_name(obj))]
    if isinstance(obj, property):
        return [(f, qualified_name(f)) for f in (obj.fget, obj.fset) if isinstance(f, types.FunctionType)]
    if isinstance(obj, type):
        found = []
        for value in vars(obj).values():
            if not isinstance(value, type):  # a nested class is its own object, not part of this one
                found += functions_of(value)
        return found
    return []


def checker_functions() -> list[tuple[types.FunctionType, str]]:
    """Every function of the checker modules (``attnmem.exercises``, ``attnmem.exercise_checks.*``) except
    this one: references, slips and comparison helpers are not there to be called by a submission."""
    found = []
    for name, module in list(sys.modules.items()):
        if module is None or name == __name__:
            continue
        if name == "attnmem.exercises" or name.startswith("attnmem.exercise_checks."):
            for value in list(vars(module).values()):
                for function, qualname in functions_of(value):
                    if function.__module__ == name:
                        found.append((function, qualname))
    return found


_tripped: list[str] = []


def _trip(name: str) -> None:
    _tripped.append(name)
    raise Tripped(name)


def _tripwire_code(function: types.FunctionType, name: str) -> types.CodeType:
    """Code with ``function``'s free variables that reports ``name`` when run."""
    free = function.__code__.co_freevars
    source = "def _outer():\n"
    source += "".join(f"    {var} = None\n" for var in free)
    source += "    def _tripwire(*args, **kwargs):\n"
    source += "".join(f"        {var}\n" for var in free)
    source += f"        __import__({__name__!r}, fromlist=['_trip'])._trip({name!r})\n"
    source += "    return _tripwire\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<forbidden {name}>", "exec"), namespace)
    return namespace["_outer"]().__code__


def install_tripwires(forbidden: Iterable[tuple[types.FunctionType, str]]) -> Callable[[], None]:
    """Swap each function's code for a tripwire and watch for copies of it; returns what undoes both."""
    saved, by_location = [], {}
    for function, name in forbidden:
        code = function.__code__
        if not code.co_filename.startswith("<"):  # generated code (a dataclass's __init__) has no one source
            by_location[(code.co_filename, code.co_qualname)] = name
        saved.append((function, code))
        function.__code__ = _tripwire_code(function, name)

    def profile(frame: types.FrameType, event: str, arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            name = by_location.get((code.co_filename, code.co_qualname))
            if name is not None:
                _tripped.append(name)

    previous = sys.getprofile()
    sys.setprofile(profile)

    def undo() -> None:
        sys.setprofile(previous)
        for function, code in saved:
            function.__code__ = code

    return undo


# ---- results as plain data ----------------------------------------------------------------------------------


def encode(value: Any, tensors: list[Tensor], depth: int = 0) -> Any:
    """``value`` as plain containers of str/bytes/numbers; tensors are numbered into ``tensors``."""
    if isinstance(value, Tensor):
        if value.layout != torch.strided or value.is_quantized or value.device.type != "cpu":
            return ("object", type(value).__name__, f"a {value.layout} tensor on {value.device}")
        tensors.append(value)
        flat = value.detach().resolve_conj().resolve_neg().contiguous()
        data = flat.reshape(-1).view(torch.uint8).numpy().tobytes() if flat.numel() else b""
        return ("tensor", str(flat.dtype).removeprefix("torch."), tuple(flat.shape), data, len(tensors) - 1)
    if value is None or isinstance(value, (bool, int, float, complex)):
        return ("value", value)
    if isinstance(value, str):
        return ("value", value[:2000])
    if depth < _DEPTH and isinstance(value, (tuple, list)):
        items = [encode(v, tensors, depth + 1) for v in value]
        return ("list" if isinstance(value, list) else "tuple", type(value).__name__, items)
    if depth < _DEPTH and isinstance(value, dict):
        return ("dict", type(value).__name__, [(encode(k, tensors, depth + 1), encode(v, tensors, depth + 1))
                                               for k, v in value.items()])
    try:
        text = repr(value)[:200]
    except Exception:  # a reader's object whose repr fails is still described by its type
        text = "?"
    return ("object", type(value).__name__, text)


class Opaque:
    """A result the worker could not send as data (a NumPy array, a custom object): its type name and repr."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _named(base: type, name: str) -> type:
    """A class called ``name`` deriving from ``base``, so messages say "returned a ndarray"."""
    return type(str(name)[:60] or base.__name__, (base,), {})


def decode(data: Any, wrap: Callable[[Tensor, int], Tensor]) -> Any:
    """The value :func:`encode` described; ``wrap`` turns tensor number ``i`` into a differentiable output."""
    kind = data[0]
    if kind == "tensor":
        _, dtype_name, shape, raw, index = data
        dtype = getattr(torch, dtype_name, None)
        if not isinstance(dtype, torch.dtype):
            return Opaque(f"a tensor of unknown dtype {dtype_name!r}")
        flat = torch.frombuffer(bytearray(raw), dtype=torch.uint8) if raw else torch.empty(0, dtype=torch.uint8)
        return wrap(flat.view(dtype).reshape(shape), index)
    if kind == "value":
        return data[1]
    if kind in ("tuple", "list"):
        items = [decode(item, wrap) for item in data[2]]
        if kind == "list":
            return items if data[1] == "list" else _named(list, data[1])(items)
        return tuple(items) if data[1] == "tuple" else _named(tuple, data[1])(items)
    if kind == "dict":
        return {decode(k, wrap): decode(v, wrap) for k, v in data[2]}
    return _named(Opaque, data[1])(data[2])


class _Plain(pickle.Unpickler):
    """Reads only builtin containers and numbers: a result can name no class and run no code."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("builtins", "complex"):
            return complex
        raise pickle.UnpicklingError(f"a result may not hold {module}.{name}")


def _loads(raw: bytes) -> Any:
    return _Plain(io.BytesIO(raw)).load()


# ---- the worker -----------------------------------------------------------------------------------------------


class _Capture(io.TextIOBase):
    """Keeps the first characters a submission prints and counts the rest."""

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.size = 0
        self.total = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        self.total += len(text)
        if self.size < PRINT_SHOWN:
            self.kept.append(text[: PRINT_SHOWN - self.size])
            self.size += len(self.kept[-1])
        return len(text)

    def report(self) -> tuple[str, int]:
        return "".join(self.kept), self.total


def _where(error: BaseException, fn: Callable[..., Any]) -> str:
    """Where in the reader's own function the error happened (``at line N of f (code)``), or ''."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return ""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == code.co_filename]
    if not frames:
        return ""
    frame = frames[-1]
    line = f" ({frame.line.strip()})" if frame.line else ""
    return f"\n  at line {frame.lineno - code.co_firstlineno + 1} of {getattr(fn, '__name__', 'it')}{line}"


def _same(a: Tensor, b: Tensor) -> bool:
    """Bit for bit (so that NaN equals NaN): has the reader's function left this input as it was?"""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if not a.numel():
        return True
    return bool(torch.equal(a.detach().reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8)))


def _run(fn: Callable[..., Any], names: list[str], args: list[Any], capture: _Capture) -> tuple[Any, Any]:
    """Call ``fn`` once in the worker; returns (message, outputs kept for backward)."""
    before = {i: a.detach().clone() for i, a in enumerate(args) if isinstance(a, Tensor)}
    _tripped.clear()
    name = getattr(fn, "__name__", "your function")
    try:
        result = fn(*args)
    except Tripped:  # reported below, from the record, even when the reader's code caught it
        result = None
    except NotImplementedError:
        return ("problem", "not written", "it raises NotImplementedError. Write its body, then run the cell "
                "again."), None
    except SystemExit as error:
        return ("problem", "escaped", f"{name} called exit() (SystemExit {error.code!r}): a function that is "
                "checked must return its result instead of ending the program."), None
    except KeyboardInterrupt:
        return ("problem", "escaped", f"{name} raised KeyboardInterrupt: it must return its result, not "
                "interrupt the run."), None
    except Exception as error:
        return ("problem", "raised", f"{name} raised {type(error).__name__}: {error}{_where(error, fn)}"), None
    except BaseException as error:  # GeneratorExit and the like: reported, never propagated
        return ("problem", "escaped", f"{name} raised {type(error).__name__}: {error}"), None
    if _tripped:
        used = _tripped[0]
        return ("problem", "forbidden", f"this calls `{used}`, the book's own answer to this exercise: write it "
                "yourself (torch and the package's other building blocks are fine)."), None
    for index, old in before.items():
        if not _same(args[index], old):
            return ("problem", "mutated", f"{name} changed its input `{names[index]}` in place (with +=, .add_() "
                    "or an indexed assignment). Compute into a new tensor instead, so the caller's data stays "
                    "as it was."), None
    tensors: list[Tensor] = []
    encoded = encode(result, tensors)
    differentiable = [i for i, t in enumerate(tensors) if t.requires_grad]
    return ("returned", encoded, differentiable, capture.report()), tensors


def _serve(connection: Connection, fn: Callable[..., Any], forbidden: list[tuple[types.FunctionType, str]]) -> None:
    """The worker's loop: run calls and backward passes until the checker closes the connection."""
    torch.set_num_threads(1)
    capture = _Capture()
    sys.stdout = sys.stderr = capture
    sys.stdin = io.StringIO()
    install_tripwires(forbidden)
    calls: dict[int, tuple[list[Tensor], list[Tensor]]] = {}
    while True:
        try:
            request = pickle.loads(connection.recv_bytes())
        except (EOFError, OSError):
            return
        if request[0] == "close":
            return
        if request[0] == "call":
            _, number, names, args = request
            capture.kept, capture.size, capture.total = [], 0, 0
            reply, tensors = _run(fn, names, args, capture)
            if reply[0] == "problem":
                reply = (*reply, capture.report())
            if tensors is not None:
                calls[number] = (tensors, [a for a in args if isinstance(a, Tensor) and a.requires_grad])
        else:  # ("grad", number, output index, gradient of the loss with respect to that output)
            _, number, index, grad = request
            tensors, leaves = calls[number]
            _tripped.clear()
            try:
                grads = torch.autograd.grad(tensors[index], leaves, grad, retain_graph=True, allow_unused=True)
                reply = ("grads", [None if g is None else encode(g, []) for g in grads])
            except Tripped:
                reply = ("problem", "forbidden", f"the backward pass calls `{_tripped[0]}`, the book's own "
                         "answer to this exercise: write it yourself.")
            except BaseException as error:  # reported to the checker, which explains it to the reader
                reply = ("problem", "raised", f"the backward pass through your function raised "
                         f"{type(error).__name__}: {error}")
        try:
            connection.send_bytes(pickle.dumps(reply))
        except BaseException as error:  # an unsendable result is described rather than lost
            connection.send_bytes(pickle.dumps(("problem", "raised", f"its result could not be read: {error}",
                                                  ("", 0))))


# ---- the checker's side ---------------------------------------------------------------------------------------


@dataclass
class _Clock:
    limit: float
    used: float = 0.0


class _RemoteOutput(torch.autograd.Function):
    """An output computed in the worker; its backward asks the worker for the gradients of the inputs."""

    @staticmethod
    def forward(ctx: Any, value: Tensor, submission: Submission, number: int, index: int, *leaves: Tensor) -> Tensor:
        ctx.request = (submission, number, index)
        ctx.leaf_shapes = [leaf.shape for leaf in leaves]
        return value.clone()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        submission, number, index = ctx.request
        grads = submission.gradients(number, index, grad)
        return (None, None, None, None, *grads)


class Submission:
    """The reader's function, run by a worker process forked before the checker computes anything.

    Use it as a context manager; call it like the function (positional arguments), or through
    :meth:`run` with named inputs.
    """

    def __init__(self, fn: Callable[..., Any], forbidden: Iterable[Any] = (), time_limit: float = TIME_LIMIT_S):
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", "your function")
        self.__wrapped__ = fn
        self.forbidden = [pair for obj in forbidden for pair in functions_of(obj)]
        self.clock = _Clock(time_limit)
        self.connection: Connection | None = None
        self.pid: int | None = None
        self.printed: list[str] = []
        self.count = 0
        self.dead: Problem | None = None
        self._undo: Callable[[], None] | None = None
        self.last_type = ""  # what the function last returned, in words, for the checker's messages

    # -- the worker's life

    def __enter__(self) -> Submission:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def start(self) -> None:
        tripwires = self.forbidden + checker_functions()
        if not hasattr(os, "fork"):
            self._undo = install_tripwires(tripwires)
            return
        ours, theirs = Pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fork in a multi-threaded kernel: the worker only runs this thread
            pid = os.fork()
        if pid == 0:  # the worker
            try:
                ours.close()
                _serve(theirs, self.fn, tripwires)
            finally:
                os._exit(0)
        theirs.close()
        self.connection, self.pid = ours, pid

    def close(self) -> None:
        if self._undo is not None:
            self._undo()
            self._undo = None
        if self.connection is None:
            return
        try:
            self.connection.send_bytes(pickle.dumps(("close",)))
        except OSError:
            pass
        self.connection.close()
        self.connection = None
        self._reap(wait=0.5)

    def _reap(self, wait: float) -> None:
        if self.pid is None:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            done, _ = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.pid = None
                return
            time.sleep(0.005)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        self.pid = None

    def _kill(self, problem: Problem) -> Problem:
        self.dead = problem
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        if self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = None
        return problem

    def _ask(self, request: tuple[Any, ...], inputs: str) -> tuple[Any, ...]:
        if self.dead is not None:
            raise self.dead
        assert self.connection is not None
        self.connection.send_bytes(pickle.dumps(request))
        start = time.monotonic()
        left = self.clock.limit - self.clock.used
        try:
            ready = self.connection.poll(max(left, 0.0))
        except KeyboardInterrupt:  # the reader stopped the check: end the worker with it
            self._kill(Problem("escaped", "the check was interrupted"))
            raise
        self.clock.used += time.monotonic() - start
        if not ready:
            raise self._kill(Problem("timeout", (
                f"{self.__name__} has run for {self.clock.limit:g} s without returning{inputs}, so the check "
                f"stopped it. Is there a loop that never ends (a `while` whose condition never changes)?")))
        try:
            return _loads(self.connection.recv_bytes())
        except (EOFError, OSError):
            raise self._kill(Problem("crashed", (
                f"{self.__name__} ended the Python process it ran in{inputs} (os._exit, or a crash in "
                f"compiled code), so it returned nothing."))) from None

    # -- calls

    def __call__(self, *args: Any) -> Any:
        return self.run({f"argument {i + 1}": a for i, a in enumerate(args)})

    def run(self, inputs: dict[str, Any], describe: str = "") -> Any:
        """Run the reader's function on ``inputs`` (positionally); raise :class:`Problem` if it fails.

        ``describe`` names the inputs for the reader's messages (``query (2, 3, 5), keys (2, 7, 4)``).
        """
        where = f"\n  when called with {describe}." if describe else ""
        if not hasattr(os, "fork"):
            return self._run_here(inputs, where)
        self.count += 1
        number = self.count
        grad_inputs = [v for v in inputs.values() if isinstance(v, Tensor) and v.requires_grad]
        sendable = [v.detach().clone().requires_grad_(v.requires_grad) if isinstance(v, Tensor) else v
                    for v in inputs.values()]
        reply = self._ask(("call", number, list(inputs), sendable), describe and f" (when called with {describe})")
        self._keep_printed(*reply[-1])
        if reply[0] == "problem":
            raise Problem(reply[1], reply[2] + where)
        _, encoded, differentiable, _ = reply

        def wrap(tensor: Tensor, index: int) -> Tensor:
            if index in differentiable and grad_inputs and tensor.is_floating_point():
                return _RemoteOutput.apply(tensor, self, number, index, *grad_inputs)
            return tensor

        result = decode(encoded, wrap)
        self.last_type = f"a {type(result).__name__}" + (
            f" of shape {tuple(result.shape)}" if isinstance(result, Tensor) else "")
        return result

    def _keep_printed(self, printed: str, total: int) -> None:
        if total:
            more = f"\n  … and {total - len(printed):,} more characters" if total > len(printed) else ""
            self.printed.append(f"{self.__name__} printed:\n{printed}{more}")

    def gradients(self, number: int, index: int, grad: Tensor) -> list[Tensor | None]:
        reply = self._ask(("grad", number, index, grad.detach().clone()), "")
        if reply[0] == "problem":
            raise Problem(reply[1], reply[2])
        return [None if g is None else decode(g, lambda t, i: t) for g in reply[1]]

    def _run_here(self, inputs: dict[str, Any], where: str) -> Any:
        """Without fork: the same call in this process (tripwires in place, no isolation, no time limit)."""
        capture = _Capture()
        saved = sys.stdout
        sys.stdout = capture
        try:
            reply, tensors = _run(self.fn, list(inputs), list(inputs.values()), capture)
        finally:
            sys.stdout = saved
        if reply[0] == "problem":
            raise Problem(reply[1], reply[2] + where)
        return decode(reply[1], lambda t, i: tensors[i])


# ---- the checker's own helpers, as the package shipped them --------------------------------------------------

_WATCHED = ("torch", "torch.nn.functional", "torch.special", "torch.linalg", "torch.testing", "math", "builtins")


class Pristine:
    """The checker's helpers (the package's modules, torch, the tensor methods) as they were when first seen.

    A notebook may rebind them (``attnmem.exercises.expect_close = ...``, ``torch.isclose = ...``, a function's
    ``__code__``); :meth:`restore` puts the originals back for the length of a check and returns what re-applies
    the notebook's own versions afterwards.
    """

    def __init__(self) -> None:
        self.namespaces: dict[str, tuple[Any, dict[str, Any]]] = {}
        self.codes: dict[types.FunctionType, tuple[Any, Any, Any]] = {}

    def record(self) -> None:
        names = [n for n in list(sys.modules) if n in _WATCHED or n == "attnmem" or n.startswith("attnmem.")]
        for name in names:
            module = sys.modules.get(name)
            if module is None or name in self.namespaces:
                continue
            names_kept = vars(module).items()
            if name == "builtins":  # the interactive shell rebinds _, __ and ___ after every cell
                names_kept = [(k, v) for k, v in names_kept if not k.startswith("_")]
            self.namespaces[name] = (module, dict(names_kept))
            for value in list(vars(module).values()):
                for function, _ in functions_of(value):
                    if function.__module__ == name:
                        self.codes.setdefault(function, (function.__code__, function.__defaults__,
                                                         function.__kwdefaults__))
        if "torch.Tensor" not in self.namespaces:
            self.namespaces["torch.Tensor"] = (torch.Tensor, dict(vars(torch.Tensor)))

    def restore(self) -> Callable[[], None]:
        self.record()
        changes: list[tuple[Any, str, Any, Any]] = []
        for owner, original in self.namespaces.values():
            current = vars(owner)
            for key, value in original.items():
                if current.get(key, _MISSING) is not value:
                    changes.append((owner, key, current.get(key, _MISSING), value))
        code_changes = []
        for function, genuine in self.codes.items():
            now = (function.__code__, function.__defaults__, function.__kwdefaults__)
            if any(a is not b for a, b in zip(now, genuine)):
                code_changes.append((function, now, genuine))
        for owner, key, _, value in changes:
            setattr(owner, key, value)
        for function, _, (code, defaults, kwdefaults) in code_changes:
            function.__code__, function.__defaults__, function.__kwdefaults__ = code, defaults, kwdefaults

        def reapply() -> None:
            for owner, key, theirs, _ in changes:
                if theirs is _MISSING:
                    delattr(owner, key)
                else:
                    setattr(owner, key, theirs)
            for function, (code, defaults, kwdefaults), _ in code_changes:
                function.__code__, function.__defaults__, function.__kwdefaults__ = code, defaults, kwdefaults

        return reapply


_MISSING = object()
