"""Execute the book's chapters side by side into the book's execution cache, so `jupyter-book build` only renders.

    python tools/execute_chapters.py [--jobs 2]

Jupyter Book runs the chapters one after another in one process; each chapter's kernel uses one core, so on a
machine with more the build waits on one. This script runs the chapters that have no up-to-date entry in the cache
(``_build/.jupyter_cache``, where the build looks) in ``--jobs`` processes at once, the longest first, exactly as
the build would run them (in the notebook's folder, errors not allowed, the ``execute`` settings of ``_config.yml``),
and stores each executed notebook where the build finds it. A chapter that raises stops the script with its
traceback and a non-zero exit status, as the build itself would.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from queue import Empty

import nbformat
import yaml
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from jupyter_cache.executors.utils import single_nb_execution
from jupyter_client.channels import AsyncZMQSocketChannel

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "_build" / ".jupyter_cache"
#: The longest a wait for a kernel's message sleeps before it looks at the socket again (seconds).
POLL_SLICE = 1.0


async def _get_msg_in_slices(self: AsyncZMQSocketChannel, timeout: float | None = None) -> dict:
    """A kernel channel's ``get_msg``, waiting in slices of ``POLL_SLICE`` seconds.

    nbclient waits for a cell's reply with one asyncio poll as long as the cell's whole timeout (300 s). pyzmq's
    asyncio poll is woken by an edge-triggered file descriptor; when that wake-up is missed, as happens with kernels
    running side by side (a chapter then sits idle, its reply already in the socket), the poll ends only at its
    timeout, where pyzmq looks at the socket once more and finds the reply. Polling in short slices makes a missed
    wake-up cost at most one slice.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        wait = POLL_SLICE if left is None else min(POLL_SLICE, left)
        if await self.socket.poll(int(wait * 1000)):
            return await self._recv()
        if left is not None and left <= wait:
            raise Empty


AsyncZMQSocketChannel.get_msg = _get_msg_in_slices


def chapters() -> list[Path]:
    """The book's notebooks, in the order of its table of contents."""
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return [ROOT / f"{file}.ipynb" for file in files if (ROOT / f"{file}.ipynb").exists()]


def execute(path: Path, timeout: int) -> tuple[Path, nbformat.NotebookNode, float, str | None]:
    """Run one chapter as the build runs it; returns the executed notebook, its seconds and the error text if any."""
    notebook = nbformat.read(path, as_version=4)
    result = single_nb_execution(notebook, cwd=str(path.parent), timeout=timeout, allow_errors=False)
    return path, result.nb, result.time, result.exc_string if result.err is not None else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="chapters executed at once (one core each)")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    # Each kernel would otherwise take every core for torch's threads: --jobs kernels side by side then fight over
    # them, and a chapter's training cell can run ten times slower (past the cell timeout) on a busy machine.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    settings = yaml.safe_load((ROOT / "_config.yml").read_text())["execute"]
    if settings.get("execute_notebooks") != "cache":
        print("_config.yml does not execute into the cache (execute_notebooks is not 'cache'): nothing to do")
        return 0
    cache = get_cache(str(CACHE))
    pending = []
    for path in chapters():
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            pending.append(path)
    # Longest first, so the last chapter to finish does not start late: the size of the source is a fair guess
    # of a chapter's running time where no earlier run says otherwise (the cache keeps one per notebook path).
    earlier = {record.uri: record.data.get("execution_seconds", 0.0) for record in cache.list_cache_records()}
    pending.sort(key=lambda path: earlier.get(str(path), path.stat().st_size / 1e4), reverse=True)
    print(f"{len(pending)} of {len(chapters())} chapters to execute, {args.jobs} at once", flush=True)
    start, failed = time.perf_counter(), []
    with ProcessPoolExecutor(args.jobs) as pool:
        for done in as_completed([pool.submit(execute, path, settings["timeout"]) for path in pending]):
            path, notebook, seconds, error = done.result()
            if error is not None:
                failed.append(path.name)
                print(f"{path.name}: a cell raised\n{error}", file=sys.stderr, flush=True)
                continue
            cache.cache_notebook_bundle(CacheBundleIn(notebook, str(path), data={"execution_seconds": seconds}),
                                        check_validity=False, overwrite=True)
            print(f"{path.name}: {seconds:.1f} s", flush=True)
    print(f"executed in {time.perf_counter() - start:.1f} s", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
