"""Measuring what a call costs in memory, through PyTorch's public profiler.

Chapter 4 measures the memory of one attention pass to show the quadratic cost that Luong et al. (2015,
Section 3) and Bahdanau et al. (2015, Eq. 6) pay for scoring every (target word, source word) pair.
"""
from __future__ import annotations

import os
from typing import Callable

from torch.profiler import ProfilerActivity, profile

__all__ = ["allocated_bytes"]


def allocated_bytes(call: Callable[[], object]) -> int:
    """The bytes of CPU memory that the operations of ``call()`` allocate, added up.

    The profiler records every allocation and release of the CPU allocator and charges it to the operation running
    at the time (an allocation outside any operation becomes an event of its own). An operation's
    ``self_cpu_memory_usage`` is what it allocated minus what it released outside its children: positive for one
    that creates a tensor, negative for one that only frees its children's temporaries, and those are left out. So
    the sum of the positive ones counts every new storage, internal copies included; views (which share their
    input's storage) count nothing, and neither does a scratch buffer that one operation allocates and frees in
    its own code. It depends only on the sizes the operations ask for, never on where the
    allocator puts them, so it is the same from run to run. The peak memory of the call is at most this total.
    """
    # Kineto, under the profiler, prints a line at each start and stop to the process's stderr, which Jupyter shows
    # under the cell; only a level above its highest message type silences them, and it is read at the first start.
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        call()
    return sum(event.self_cpu_memory_usage for event in profiler.events() if event.self_cpu_memory_usage > 0)
