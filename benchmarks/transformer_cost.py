"""The paper's Table 1, measured (chapter 10): a self-attention layer against a recurrent layer as length grows.

For sequences of n positions of width d (batch 8, one thread), a forward and backward pass through

- the book's multi-head self-attention layer (``attnmem.transformer.MultiHeadAttention``, 4 heads),
- a GRU layer (``torch.nn.GRU``, PyTorch's own loop in C++), and
- a GRU cell stepped in Python (how the book's recurrent decoders run),

timed as CPU seconds (best of ``--repeats``), and the memory autograd keeps for the backward pass (bytes of the
tensors saved, counted with ``torch.autograd.graph.saved_tensors_hooks``). The *path length* between the first and
the last position is counted in the autograd graph: the longest chain of operations from the first position's input
to the last position's output (Table 1's "maximum path length", in operations rather than layers).

    python benchmarks/transformer_cost.py --out benchmarks/results/transformer_cost.md
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Callable

import torch
from _publish import publish
from torch import Tensor, nn

from attnmem.transformer import MultiHeadAttention

LENGTHS = (8, 16, 32, 64, 128, 256, 512, 1024)


def layers(d: int) -> dict[str, Callable[[Tensor], Tensor]]:
    torch.manual_seed(0)
    attention, gru, cell = MultiHeadAttention(d, 4), nn.GRU(d, d, batch_first=True), nn.GRUCell(d, d)

    def stepped(x: Tensor) -> Tensor:
        h, outputs = x.new_zeros(x.shape[0], d), []
        for t in range(x.shape[1]):
            h = cell(x[:, t], h)
            outputs.append(h)
        return torch.stack(outputs, 1)

    return {"self-attention": lambda x: attention(x, x).context, "GRU (nn.GRU)": lambda x: gru(x)[0],
            "GRU cell, Python loop": stepped}


def cpu_seconds(layer: Callable[[Tensor], Tensor], x: Tensor, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        x = x.detach().requires_grad_(True)
        start = time.process_time()
        layer(x).square().mean().backward()
        best = min(best, time.process_time() - start)
    return best


def saved_bytes(layer: Callable[[Tensor], Tensor], x: Tensor) -> int:
    total = [0]

    def pack(t: Tensor) -> Tensor:
        total[0] += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        layer(x.detach().requires_grad_(True))
    return total[0]


def path_length(layer: Callable[[Tensor], Tensor], n: int, d: int) -> int:
    """Longest chain of autograd operations from position 0's input to position n-1's output."""
    inputs = [torch.randn(1, 1, d, requires_grad=True) for _ in range(n)]
    output = layer(torch.cat(inputs, 1))[:, -1].sum()
    target = output.grad_fn
    longest: dict[object, int] = {}

    def depth(node: object) -> int:  # operations from node down to the first input's accumulator, -1 if none
        if node is None:
            return -1
        if node in longest:
            return longest[node]
        if getattr(node, "variable", None) is inputs[0]:
            longest[node] = 0
            return 0
        best = max((depth(child) for child, _ in node.next_functions), default=-1)
        longest[node] = best + 1 if best >= 0 else -1
        return longest[node]

    import sys

    sys.setrecursionlimit(100000)
    return depth(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()
    torch.set_num_threads(1)
    load = "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    d, kinds = args.width, layers(args.width)
    rows = ["| n | " + " | ".join(f"{k}: ms" for k in kinds) + " | " + " | ".join(f"{k}: MB saved" for k in kinds)
            + " |", "|---|" + "---|" * (2 * len(kinds))]
    times: dict[str, dict[int, float]] = {k: {} for k in kinds}
    for n in LENGTHS:
        x = torch.randn(args.batch, n, d)
        ms = {k: 1000 * cpu_seconds(f, x, args.repeats) for k, f in kinds.items()}
        mb = {k: saved_bytes(f, x) / 2**20 for k, f in kinds.items()}
        for k in kinds:
            times[k][n] = ms[k]
        rows.append(f"| {n} | " + " | ".join(f"{ms[k]:.2f}" for k in kinds) + " | "
                    + " | ".join(f"{mb[k]:.2f}" for k in kinds) + " |")
    paths = ["| n | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    for n in (4, 16, 64):
        paths.append(f"| {n} | " + " | ".join(str(path_length(f, n, d)) for f in kinds.values()) + " |")
    attention, recurrent = times["self-attention"], times["GRU (nn.GRU)"]
    slower = [n for n in LENGTHS if attention[n] > recurrent[n]]
    crossover = (f"self-attention costs more CPU time than nn.GRU from n = {slower[0]} on" if slower else
                 f"self-attention costs less CPU time than nn.GRU at every n up to {LENGTHS[-1]}")
    text = "\n\n".join([
        "# Self-attention against a recurrent layer (the paper's Table 1, measured)",
        (f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, one thread; "
         f"{time.strftime('%Y-%m-%d')}; {load} at the start. Width d = {d}, batch {args.batch}, 4 heads. "
         f"Forward + backward, CPU milliseconds (best of {args.repeats}); memory: bytes autograd saves for the "
         f"backward pass."),
        "\n".join(rows),
        f"Crossover on this machine: {crossover}.",
        ("Path length: the longest chain of autograd operations from the first position's input to the last "
         "position's output, one layer."),
        "\n".join(paths),
    ]) + "\n"
    publish(text, args.out)


if __name__ == "__main__":
    main()
