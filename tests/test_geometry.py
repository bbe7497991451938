"""Tests of the geometry tasks: the convex hull and Held–Karp references against brute force, the 2-opt
heuristic, the generators' formats and their argument errors."""
from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest
import torch

from attnmem.tasks import geometry as g


def brute_hull(points: np.ndarray) -> set[int]:
    """Vertices by definition: a point is a vertex when some line through it has every other point strictly on one
    side; checked through the pairs of other points (a point inside a triangle of others, or on a segment between
    two others, is not a vertex)."""
    n, vertices = len(points), set()
    for i in range(n):
        others = [j for j in range(n) if j != i]
        inside = False
        for a in others:
            for b in others:
                for c in others:
                    if len({a, b, c}) == 3:
                        w = np.linalg.solve(np.array([[*points[a], 1], [*points[b], 1], [*points[c], 1]]).T,
                                            np.array([*points[i], 1]))
                        inside |= bool((w >= -1e-12).all())
                if a < b:
                    ab, ai = points[b] - points[a], points[i] - points[a]
                    t = float(ab @ ai) / float(ab @ ab)
                    inside |= abs(ab[0] * ai[1] - ab[1] * ai[0]) < 1e-12 and 0 <= t <= 1
        if not inside:
            vertices.add(i)
    return vertices


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7, 8])
def test_hull_matches_brute_force_and_runs_counter_clockwise_from_the_lowest_point(n: int) -> None:
    rng = np.random.default_rng(n)
    for _ in range(15):
        points = rng.random((n, 2))
        hull = g.convex_hull(points)
        assert set(hull) == brute_hull(points)
        assert hull[0] == min(range(n), key=lambda i: tuple(points[i]))
        ring = points[hull]
        edges = [(ring[(k + 1) % len(ring)] - ring[k], ring[(k + 2) % len(ring)] - ring[k]) for k in range(len(ring))]
        turns = [u[0] * v[1] - u[1] * v[0] for u, v in edges]
        assert all(t > 0 for t in turns)  # every corner turns left: counter-clockwise and convex


def test_hull_drops_collinear_and_interior_points() -> None:
    square = np.array([[0, 0], [0.5, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5]], dtype=float)
    assert g.convex_hull(square) == [0, 2, 3, 4]
    assert g.polygon_area(square, [0, 2, 3, 4]) == pytest.approx(1.0)
    assert g.hull_coverage(square, [0, 2, 3, 4, 0]) == pytest.approx(1.0)
    assert g.hull_coverage(square, [0, 2, 3, 0]) == pytest.approx(0.5)
    assert g.hull_coverage(square, [0, 3, 2, 4]) == 0.0  # edges 0-3 and 2-4 cross: not a simple polygon
    assert not g.is_simple_polygon(square, [0, 2, 0])


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7, 8])
def test_held_karp_matches_brute_force(n: int) -> None:
    points = np.random.default_rng(10 + n).random((12, n, 2))
    lengths, tours = g.held_karp(points)
    for b in range(len(points)):
        best = min(g.tour_lengths(points[b : b + 1], np.array([[0, *p]]))[0] for p in permutations(range(1, n)))
        assert lengths[b] == pytest.approx(best, abs=1e-12)
        assert sorted(tours[b]) == list(range(n)) and tours[b][0] == 0
        assert g.tour_lengths(points[b : b + 1], tours[b : b + 1])[0] == pytest.approx(best, abs=1e-12)


def test_held_karp_labels_thousands_of_instances_and_the_heuristic_is_a_valid_upper_bound() -> None:
    points = np.random.default_rng(0).random((2000, 10, 2))
    optimum, _ = g.held_karp(points)
    heuristic, tours = g.heuristic_tours(points)
    assert (np.sort(tours, 1) == np.arange(10)).all()
    assert (heuristic >= optimum - 1e-9).all()
    assert heuristic.mean() / optimum.mean() < 1.02  # 2-opt from nearest neighbour is close at n = 10
    assert 2.8 < optimum.mean() < 2.95  # Vinyals et al.'s Table 2 gives 2.87 for the optimum at n = 10


def test_two_opt_removes_a_crossing() -> None:
    square = np.array([[[0, 0], [1, 1], [1, 0], [0, 1]]], dtype=float)  # the tour 0-1-2-3 crosses itself
    better = g.two_opt_tours(square, np.array([[0, 1, 2, 3]]))
    assert g.tour_lengths(square, better)[0] == pytest.approx(4.0)


def test_canonical_tour() -> None:
    assert g.canonical_tour([2, 0, 3, 1]) == [0, 2, 1, 3]
    assert g.canonical_tour([1, 0, 2, 3]) == [0, 1, 3, 2]
    assert g.canonical_tour([0, 3, 1, 2]) == [0, 2, 1, 3]


def test_generators_are_deterministic_padded_and_well_formed() -> None:
    for task, extra in ((g.sorting_task, 0), (g.hull_task, 1), (g.tsp_task, 0)):
        a, b = task(16, (4, 9), seed=3), task(16, (4, 9), seed=3)
        assert all(torch.equal(x, y) for x, y in zip(a, b))
        assert a.lengths.min() >= 4 and a.lengths.max() <= 9 and a.points.shape[1] == int(a.lengths.max())
        for row in range(16):
            n, t = int(a.lengths[row]), int(a.target_lengths[row])
            assert (a.points[row, n:] == 0).all()
            steps = a.targets[row, :t].tolist()
            assert (a.targets[row, t:] == g.PAD).all() and all(0 <= s < n for s in steps)
            if extra:
                assert steps[-1] == steps[0] and len(set(steps)) == t - 1
            else:
                assert sorted(steps) == list(range(n))
    batch = g.sorting_task(8, 6, seed=0)
    values = batch.points[..., 0]
    assert (values.gather(1, batch.targets).diff(dim=1) > 0).all()
    tours = g.tsp_task(8, 7, seed=0)
    optimum, _ = g.held_karp(tours.points.double().numpy())
    assert np.allclose(g.tour_lengths(tours.points.double().numpy(), tours.targets.numpy()), optimum)


def test_clear_argument_errors() -> None:
    with pytest.raises(ValueError, match="n must be an int >= 3"):
        g.hull_task(4, 2)
    with pytest.raises(ValueError, match="low <= high"):
        g.tsp_task(4, (9, 5))
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        g.sorting_task(0, 5)
    with pytest.raises(ValueError, match="n must be <= 100"):
        g.sorting_task(2, 101)
    with pytest.raises(ValueError, match="use heuristic_tours"):
        g.held_karp(np.zeros((1, 13, 2)))
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        g.convex_hull(np.zeros((4, 3)))
