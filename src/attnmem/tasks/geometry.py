"""Geometry tasks for pointer networks: every generator is deterministic under a seed.

The three tasks of Vinyals, Fortunato & Jaitly (2015), "Pointer Networks", Section 4, on points drawn uniformly in
the unit square (sorting uses numbers instead):

- ``sorting_task``  n distinct numbers k/100; the output is their positions in increasing order of value;
- ``hull_task``     the planar convex hull of n points: the hull's points counter-clockwise from the canonical start
                    (the lowest x, then the lowest y), and the start again to close the polygon (Section 4.2);
- ``tsp_task``      the travelling salesman: the shortest closed tour, written from point 0, labelled exactly by
                    Held–Karp for n <= 10 and by nearest neighbour + 2-opt above (Section 4.3).

Every generator returns a ``PointBatch``: ``points`` (B, N, d) padded with zeros past each example's ``lengths``,
and ``targets`` (B, T) the output positions (indices into that example's points), padded with ``PAD = -1`` past
``target_lengths``. One batch can mix sizes: ``n`` is an int or an inclusive range ``(low, high)``.

The references (``convex_hull``, ``held_karp``, ``two_opt_tours``) work on NumPy arrays and are checked against brute
force in the tests. ``seed`` is an int or a ``torch.Generator`` (``fit`` passes a generator).
"""
from __future__ import annotations

from itertools import combinations
from typing import NamedTuple, Sequence

import numpy as np
import torch
from torch import Tensor

from attnmem.tasks import check_positive, generator_from

__all__ = [
    "PAD",
    "SORT_VALUES",
    "HELD_KARP_MAX",
    "PointBatch",
    "sorting_task",
    "hull_task",
    "tsp_task",
    "convex_hull",
    "polygon_area",
    "is_simple_polygon",
    "hull_coverage",
    "tour_lengths",
    "held_karp",
    "nearest_neighbour_tours",
    "two_opt_tours",
    "heuristic_tours",
    "canonical_tour",
]

PAD = -1
#: sorting draws distinct integers below this and divides them by it, so the numbers are also tokens for a baseline
SORT_VALUES = 100
#: the largest n for which ``tsp_task`` labels tours exactly (Held–Karp is O(2^n n^2) time and O(2^n n) memory)
HELD_KARP_MAX = 10


class PointBatch(NamedTuple):
    """A batch of point sets and the positions a model should output, batch first."""

    points: Tensor  # (B, N, d) float; zero past lengths
    lengths: Tensor  # (B,) long: the number of points of each example
    targets: Tensor  # (B, T) long: positions into the example's points; PAD past target_lengths
    target_lengths: Tensor  # (B,) long


def _sizes(batch_size: int, n: int | Sequence[int], generator: torch.Generator, least: int) -> Tensor:
    """One size per example: ``n`` itself, or drawn uniformly from the inclusive range ``n = (low, high)``."""
    check_positive(batch_size=batch_size)
    low, high = (n, n) if isinstance(n, int) else tuple(n) if isinstance(n, (tuple, list)) and len(n) == 2 else (0, -1)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) or low < least or low > high:
        raise ValueError(f"n must be an int >= {least} or a range (low, high) with {least} <= low <= high, got {n!r}")
    return torch.randint(low, high + 1, (batch_size,), generator=generator)


def _pad_targets(sequences: list[list[int]]) -> tuple[Tensor, Tensor]:
    lengths = torch.tensor([len(s) for s in sequences])
    targets = torch.full((len(sequences), int(lengths.max())), PAD, dtype=torch.long)
    for b, sequence in enumerate(sequences):
        targets[b, : len(sequence)] = torch.tensor(sequence)
    return targets, lengths


def _uniform_points(sizes: Tensor, generator: torch.Generator) -> Tensor:
    points = torch.rand(len(sizes), int(sizes.max()), 2, generator=generator)
    return points * (torch.arange(points.shape[1]) < sizes[:, None]).unsqueeze(-1)


# --- sorting --------------------------------------------------------------------------------------------------------
def sorting_task(batch_size: int, n: int | Sequence[int], seed: int | torch.Generator = 0) -> PointBatch:
    """n distinct numbers from {0, 1/100, ..., 99/100} per example (d = 1); targets: positions in increasing order."""
    generator = generator_from(seed)
    sizes = _sizes(batch_size, n, generator, 1)
    if int(sizes.max()) > SORT_VALUES:
        raise ValueError(f"sorting draws distinct numbers from {SORT_VALUES} values, so n must be <= {SORT_VALUES}")
    width = int(sizes.max())
    values = torch.rand(batch_size, SORT_VALUES, generator=generator).argsort(-1)[:, :width].float() / SORT_VALUES
    real = torch.arange(width) < sizes[:, None]
    order = values.masked_fill(~real, float("inf")).argsort(-1)
    sequences = [order[b, : int(sizes[b])].tolist() for b in range(batch_size)]
    targets, target_lengths = _pad_targets(sequences)
    return PointBatch((values * real).unsqueeze(-1), sizes, targets, target_lengths)


# --- convex hull ----------------------------------------------------------------------------------------------------
def _cross(o: Sequence[float], a: Sequence[float], b: Sequence[float]) -> float:
    return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))


def convex_hull(points: np.ndarray) -> list[int]:
    """Indices of the convex hull's vertices, counter-clockwise from the lowest (x, y) point (Andrew's monotone
    chain). Points on an edge between two vertices are not vertices."""
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 1:
        raise ValueError(f"points must be an (n, 2) array with n >= 1, got shape {points.shape}")
    xy = points.tolist()  # Python floats: the same double arithmetic, without NumPy's cost per scalar
    order = sorted(range(len(xy)), key=xy.__getitem__)
    if len(order) < 3:
        return order

    def chain(indices: list[int]) -> list[int]:
        kept: list[int] = []
        for i in indices:
            while len(kept) >= 2 and _cross(xy[kept[-2]], xy[kept[-1]], xy[i]) <= 0:
                kept.pop()
            kept.append(i)
        return kept

    lower, upper = chain(order), chain(order[::-1])
    return lower[:-1] + upper[:-1]


def hull_task(batch_size: int, n: int | Sequence[int], seed: int | torch.Generator = 0) -> PointBatch:
    """n uniform points in the unit square per example; targets: the hull counter-clockwise from the canonical start,
    then the start again (so a model says where the polygon closes)."""
    generator = generator_from(seed)
    sizes = _sizes(batch_size, n, generator, 3)
    points = _uniform_points(sizes, generator)
    sequences = []
    for b in range(batch_size):
        hull = convex_hull(points[b, : int(sizes[b])].double().numpy())
        sequences.append(hull + hull[:1])
    targets, target_lengths = _pad_targets(sequences)
    return PointBatch(points, sizes, targets, target_lengths)


def polygon_area(points: np.ndarray, order: Sequence[int]) -> float:
    """The area enclosed by the polygon through ``points[order]`` (shoelace formula; absolute value)."""
    ring = np.asarray(points, dtype=float)[list(order)]
    if len(ring) < 3:
        return 0.0
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _segments_cross(p: np.ndarray, q: np.ndarray, r: np.ndarray, s: np.ndarray) -> bool:
    """Whether the closed segments pq and rs meet (touching counts)."""
    d1, d2, d3, d4 = _cross(r, s, p), _cross(r, s, q), _cross(p, q, r), _cross(p, q, s)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4):
        return True

    def on(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: float) -> bool:
        return d == 0 and min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])

    return on(r, s, p, d1) or on(r, s, q, d2) or on(p, q, r, d3) or on(p, q, s, d4)


def is_simple_polygon(points: np.ndarray, order: Sequence[int]) -> bool:
    """Whether the closed polygon through ``points[order]`` has at least 3 distinct vertices and no two
    non-adjacent edges meet."""
    order = list(order)
    if len(order) < 3 or len(set(order)) != len(order):
        return False
    ring = np.asarray(points, dtype=float)[order]
    m = len(ring)
    for i in range(m):
        for j in range(i + 2, m):
            if i == 0 and j == m - 1:
                continue  # these two edges share the first vertex
            if _segments_cross(ring[i], ring[(i + 1) % m], ring[j], ring[(j + 1) % m]):
                return False
    return True


def hull_coverage(points: np.ndarray, order: Sequence[int]) -> float:
    """The area of the predicted polygon over the area of the true hull (Vinyals et al.'s "area coverage").

    ``order`` may end by repeating its first index (the closing step), which is dropped. A polygon that is not
    simple covers nothing (0.0): its shoelace area would not be an area of the plane.
    """
    order = list(order)
    if len(order) > 1 and order[-1] == order[0]:
        order = order[:-1]
    if not is_simple_polygon(points, order):
        return 0.0
    return polygon_area(points, order) / polygon_area(points, convex_hull(points))


# --- travelling salesman --------------------------------------------------------------------------------------------
def _distances(points: np.ndarray) -> np.ndarray:
    return np.sqrt(((points[:, :, None, :] - points[:, None, :, :]) ** 2).sum(-1))


def tour_lengths(points: np.ndarray, tours: np.ndarray) -> np.ndarray:
    """The length of each closed tour: ``points`` (B, n, 2), ``tours`` (B, n) permutations -> (B,)."""
    points, tours = np.asarray(points, dtype=float), np.asarray(tours)
    ordered = np.take_along_axis(points, tours[..., None], axis=1)
    return np.sqrt(((ordered - np.roll(ordered, -1, axis=1)) ** 2).sum(-1)).sum(-1)


def canonical_tour(tour: Sequence[int]) -> list[int]:
    """The same closed tour written from point 0, in the direction whose second point has the smaller index."""
    tour = list(tour)
    start = tour.index(0)
    tour = tour[start:] + tour[:start]
    return tour if len(tour) < 3 or tour[1] < tour[-1] else [0] + tour[:0:-1]


def held_karp(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Optimal tours by Held–Karp dynamic programming, vectorised over the batch: ``points`` (B, n, 2) with
    2 <= n <= 12 -> (lengths (B,), tours (B, n) from point 0).

    ``best[S, j]`` is the shortest path that leaves point 0, visits the set S of other points and ends at j in S:
    ``best[S, j] = min over k in S - {j} of best[S - {j}, k] + d(k, j)``. All (S, j) of one size are done at once.
    """
    points = np.asarray(points, dtype=float)
    if points.ndim != 3 or points.shape[2] != 2 or not 2 <= points.shape[1] <= 12:
        raise ValueError(f"held_karp needs points of shape (B, n, 2) with 2 <= n <= 12, got {points.shape}; "
                         f"use heuristic_tours for larger n")
    batch, n = points.shape[:2]
    d = _distances(points)
    m = n - 1  # the points other than 0, as bits 0 .. m-1 of S
    best = np.full((batch, 1 << m, m), np.inf)
    came_from = np.zeros((batch, 1 << m, m), dtype=np.int8)
    for j in range(m):
        best[:, 1 << j, j] = d[:, 0, j + 1]
    for size in range(2, m + 1):
        sets, ends = zip(*[(sum(1 << b for b in s), j) for s in combinations(range(m), size) for j in s])
        sets, ends = np.array(sets), np.array(ends)
        before = sets ^ (1 << ends)  # (P,)
        inside = (before[:, None] >> np.arange(m)) & 1  # (P, m): which k can come before j
        step = d[:, 1:, 1:][:, :, ends].transpose(0, 2, 1)  # (B, P, m): d(k, j)
        candidates = np.where(inside.astype(bool), best[:, before, :] + step, np.inf)
        best[:, sets, ends] = candidates.min(-1)
        came_from[:, sets, ends] = candidates.argmin(-1)
    full = (1 << m) - 1
    closing = best[:, full, :] + d[:, 1:, 0]
    lengths = closing.min(-1)
    last = closing.argmin(-1)
    tours = np.zeros((batch, n), dtype=np.int64)
    remaining = np.full(batch, full)
    rows = np.arange(batch)
    for position in range(n - 1, 0, -1):
        tours[:, position] = last + 1
        previous = came_from[rows, remaining, last].astype(np.int64)
        remaining = remaining ^ (1 << last)
        last = previous
    return lengths, tours


def nearest_neighbour_tours(points: np.ndarray) -> np.ndarray:
    """Greedy tours from point 0, always to the nearest unvisited point, vectorised over the batch: (B, n)."""
    points = np.asarray(points, dtype=float)
    batch, n = points.shape[:2]
    d = _distances(points)
    visited = np.zeros((batch, n), dtype=bool)
    tours = np.zeros((batch, n), dtype=np.int64)
    rows = np.arange(batch)
    visited[:, 0] = True
    for position in range(1, n):
        here = tours[:, position - 1]
        tours[:, position] = np.where(visited, np.inf, d[rows, here]).argmin(-1)
        visited[rows, tours[:, position]] = True
    return tours


def two_opt_tours(points: np.ndarray, tours: np.ndarray, max_rounds: int = 1000) -> np.ndarray:
    """Improve tours by 2-opt until no reversal of a stretch shortens any of them, vectorised over the batch.

    Each round every tour takes its best improving move: reversing positions i+1..j replaces the edges (a, b) and
    (c, e) by (a, c) and (b, e).
    """
    points = np.asarray(points, dtype=float)
    tours = np.array(tours, dtype=np.int64)
    batch, n = tours.shape
    d = _distances(points)
    rows = np.arange(batch)[:, None, None]
    positions = np.arange(n)
    i, j = np.meshgrid(positions, positions, indexing="ij")
    allowed = (j > i + 1) & ~((i == 0) & (j == n - 1))
    for _ in range(max_rounds):
        a, b = tours[:, i], tours[:, (i + 1) % n]
        c, e = tours[:, j], tours[:, (j + 1) % n]
        gain = d[rows, a, b] + d[rows, c, e] - d[rows, a, c] - d[rows, b, e]
        gain = np.where(allowed, gain, 0.0).reshape(batch, -1)
        move = gain.argmax(-1)
        improving = gain[np.arange(batch), move] > 1e-12
        if not improving.any():
            break
        first, last = np.divmod(move, n)
        inside = (positions > first[:, None]) & (positions <= last[:, None]) & improving[:, None]
        source = np.where(inside, first[:, None] + 1 + last[:, None] - positions, positions)
        tours = np.take_along_axis(tours, source, axis=1)
    return tours


def heuristic_tours(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest neighbour improved by 2-opt: (lengths (B,), tours (B, n) from point 0)."""
    tours = two_opt_tours(points, nearest_neighbour_tours(points))
    return tour_lengths(points, tours), tours


def tsp_task(batch_size: int, n: int | Sequence[int], seed: int | torch.Generator = 0) -> PointBatch:
    """n uniform points per example; targets: the optimal tour from point 0 (Held–Karp, n <= 10) or the heuristic's
    (above), written in the canonical direction."""
    generator = generator_from(seed)
    sizes = _sizes(batch_size, n, generator, 3)
    points = _uniform_points(sizes, generator)
    tours: list[list[int]] = [[] for _ in range(batch_size)]
    for size in sizes.unique().tolist():
        rows = (sizes == size).nonzero().flatten().tolist()
        chosen = points[rows, :size].double().numpy()
        _, found = held_karp(chosen) if size <= HELD_KARP_MAX else heuristic_tours(chosen)
        for row, tour in zip(rows, found.tolist()):
            tours[row] = canonical_tour(tour)
    targets, target_lengths = _pad_targets(tours)
    return PointBatch(points, sizes, targets, target_lengths)
