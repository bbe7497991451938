"""Tests of the pointer network: the pointer distribution against chapter 1's scores, the mask, padded batches
against one-by-one decoding, beam search, a learning test and clear argument errors."""
from __future__ import annotations

import time

import pytest
import torch

from attnmem.attention import additive_scores, masked_softmax
from attnmem.pointer import (PointerDecoding, Pointed, PointerNetwork, chosen_mask, pointer_distribution,
                             repeated_indices)
from attnmem.set_pointer import SetPointerNetwork
from attnmem.tasks import geometry as g
from attnmem.training import pointer as T


def small(closes: bool = False, mask_chosen: bool = True, input_size: int = 2) -> PointerNetwork:
    torch.manual_seed(0)
    return PointerNetwork(input_size=input_size, hidden=16, mask_chosen=mask_chosen, closes=closes).eval()


def test_pointer_distribution_is_chapter_one_additive_attention() -> None:
    model = small()
    query, states = torch.randn(3, 16), torch.randn(3, 7, 16)
    available = torch.rand(3, 7) > 0.3
    available[:, 0] = True
    score = model.pointer
    got = pointer_distribution(query, states @ score.w_key, score.v, score.w_query, available)
    scores = additive_scores(query.unsqueeze(1), states, score.w_query, score.w_key, score.v).squeeze(1)
    torch.testing.assert_close(got, masked_softmax(scores, available))
    assert (got[~available] == 0).all()
    torch.testing.assert_close(got.sum(-1), torch.ones(3))


def test_all_but_one_masked_gives_that_one_probability_one_and_no_nan() -> None:
    model = small()
    available = torch.zeros(2, 5, dtype=torch.bool)
    available[0, 3] = available[1, 0] = True
    query = torch.randn(2, 16, requires_grad=True)
    got = pointer_distribution(query, torch.randn(2, 5, 16), model.pointer.v, model.pointer.w_query, available)
    assert torch.equal(got, available.float())
    torch.log(got.gather(1, torch.tensor([[3], [0]]))).sum().backward()
    assert torch.isfinite(query.grad).all()


def test_chosen_mask_masks_earlier_choices_and_keeps_the_first_for_closing_models() -> None:
    indices = torch.tensor([[2, 0, 1, 2, -1]])
    mask = chosen_mask(indices, 3, keep_first=False)[0]
    assert mask.tolist() == [[False, False, False], [False, False, True], [True, False, True], [True, True, True],
                             [True, True, True]]
    assert not chosen_mask(indices, 3, keep_first=True)[0, :, 2].any()


@pytest.mark.parametrize("closes", [False, True])
def test_masked_decoding_never_repeats_and_unmasked_can(closes: bool) -> None:
    batch = (g.hull_task if closes else g.tsp_task)(40, (4, 9), seed=1)
    model = small(closes=closes)
    for decoded in (model.greedy(batch.points, batch.lengths), model.beam(batch.points, batch.lengths, 3)):
        assert (repeated_indices(decoded.indices, decoded.lengths, closes) == 0).all()
        for row, n in enumerate(batch.lengths.tolist()):
            steps = decoded.indices[row, : int(decoded.lengths[row])].tolist()
            assert all(0 <= s < n for s in steps)
            if not closes:
                assert sorted(steps) == list(range(n))
            elif len(steps) <= n:  # it closed before running out of steps: the last step returns to the first
                assert steps[-1] == steps[0]
        probabilities = decoded.distributions
        assert torch.isfinite(probabilities).all()
        live = decoded.indices >= 0
        torch.testing.assert_close(probabilities.sum(-1)[live], torch.ones(int(live.sum())))
        assert (probabilities.sum(-1)[~live] == 0).all()
    if not closes:  # (an untrained closing model, unmasked, closes at once: it points at its first choice again)
        unmasked = model.greedy(batch.points, batch.lengths, mask_chosen=False)
        assert int(repeated_indices(unmasked.indices, unmasked.lengths, closes).sum()) > 0


def assert_padded_batch_equals_one_by_one(model: PointerDecoding, batch: g.PointBatch) -> Pointed:
    """Greedy decoding and teacher forcing of a padded batch of different sizes give each example what it gets
    alone, and nothing on the padding; returns the batch's greedy decoding."""
    assert len(set(batch.lengths.tolist())) > 1
    together = model.greedy(batch.points, batch.lengths)
    forced = model(batch.points, batch.lengths, batch.targets)
    for row in range(len(batch.lengths)):
        n = int(batch.lengths[row])
        alone = model.greedy(batch.points[row : row + 1, :n], batch.lengths[row : row + 1])
        steps = int(alone.lengths[0])
        assert int(together.lengths[row]) == steps
        assert torch.equal(together.indices[row, :steps], alone.indices[0, :steps])
        torch.testing.assert_close(together.distributions[row, :steps, :n], alone.distributions[0, :steps])
        assert (together.distributions[row, :, n:] == 0).all()
        t = int(batch.target_lengths[row])
        one = model(batch.points[row : row + 1, :n], batch.lengths[row : row + 1], batch.targets[row : row + 1, :t])
        torch.testing.assert_close(forced.distributions[row, :t, :n], one.distributions[0])
    return together


def test_padded_batch_equals_one_by_one() -> None:
    assert_padded_batch_equals_one_by_one(small(closes=True), g.hull_task(6, (4, 12), seed=2))


def test_beam_of_one_is_greedy_and_a_wider_beam_is_at_least_as_probable() -> None:
    batch = g.tsp_task(10, 7, seed=3)
    model = small()
    greedy, one = model.greedy(batch.points, batch.lengths), model.beam(batch.points, batch.lengths, 1)
    assert torch.equal(greedy.indices, one.indices)

    def log_probability(decoded):
        return model(batch.points, batch.lengths, decoded.indices).distributions.gather(
            -1, decoded.indices.unsqueeze(-1)).log().sum((1, 2))

    with torch.no_grad():
        wide = model.beam(batch.points, batch.lengths, 4)
        assert (log_probability(wide) >= log_probability(greedy) - 1e-5).all()


def test_sorting_five_numbers_is_learned_in_seconds() -> None:
    config = {"task": "sorting", "hidden": 64, "batch_size": 64, "lr": 3e-3, "steps": 300, "halve_every": 1000,
              "train_sizes": (5, 5), "test_sizes": [5], "test_count": 300}
    start = time.process_time()
    model, _ = T.train(config, seed=0, progress=False)
    accuracy = T.evaluate(model, config, seed=1)["accuracy_5"]
    assert accuracy >= 0.9, accuracy  # guessing a permutation of 5 is right 1 time in 120
    assert time.process_time() - start < 60


def test_schedule_and_training_sizes() -> None:
    config = {"task": "hull", "lr": 1e-3, "halve_every": 40, "batch_size": 8, "train_sizes": [5, 20]}
    assert [T.learning_rate(config, s) for s in (0, 39, 40, 80)] == [1e-3, 1e-3, 5e-4, 2.5e-4]
    mixed = T.training_batches(config)(torch.Generator().manual_seed(0))
    assert len(set(mixed.lengths.tolist())) > 1 and 5 <= int(mixed.lengths.min()) <= int(mixed.lengths.max()) <= 20
    draw = T.training_batches({**config, "size_power": 2.0})
    sizes = [set(draw(torch.Generator().manual_seed(s)).lengths.tolist()) for s in range(200)]
    assert all(len(one) == 1 for one in sizes)  # one size per batch
    sizes = [one.pop() for one in sizes]
    assert 5 <= min(sizes) and max(sizes) <= 20 and sum(n > 12 for n in sizes) > 2 * sum(n <= 12 for n in sizes)
    assert T.build({"task": "hull", "hidden": 16, "attention": 24}).pointer.v.shape == (24,)


def test_clear_argument_errors() -> None:
    model = small()
    points, lengths = torch.rand(2, 5, 2), torch.tensor([5, 3])
    with pytest.raises(ValueError, match=r"\(batch, n, 2\)"):
        model.greedy(torch.rand(5, 2), lengths)
    with pytest.raises(TypeError, match="floating point"):
        model.greedy(points.long(), lengths)
    with pytest.raises(ValueError, match="between 1 and 5"):
        model.greedy(points, torch.tensor([6, 3]))
    with pytest.raises(ValueError, match="one number of points per example"):
        model.greedy(points, torch.tensor([5]))
    with pytest.raises(ValueError, match="past its example's length"):
        model(points, lengths, torch.tensor([[0, 1, 2], [0, 1, 4]]))
    with pytest.raises(ValueError, match="beam_size must be a positive int"):
        model.beam(points, lengths, 0)


# --- the chapter's exercise checkers ----------------------------------------------------------------------------
def _pointer_mask(scores, lengths, chosen):
    available = (torch.arange(scores.shape[-1]) < lengths[:, None]) & ~chosen
    return scores.masked_fill(~available, float("-inf")).softmax(-1)


def _coverage(points, output):
    ring = list(output)[:-1] if len(output) > 1 and output[-1] == output[0] else list(output)
    if not g.is_simple_polygon(points, ring):
        return 0.0

    def area(order):
        x, y = points[order, 0], points[order, 1]
        return 0.5 * abs(float((x * y.roll(-1) - y * x.roll(-1)).sum()))

    return area(ring) / area(g.convex_hull(points))


def test_exercise_checkers_pass_right_answers_and_explain_wrong_ones() -> None:
    from checker_testing import failed, passes_and_stubs_are_not_written

    from attnmem.exercises import check

    passes_and_stubs_are_not_written("ex-11-pointer-mask", _pointer_mask)
    passes_and_stubs_are_not_written("ex-11-coverage", _coverage)

    def after_softmax(scores, lengths, chosen):
        return scores.softmax(-1) * ((torch.arange(scores.shape[-1]) < lengths[:, None]) & ~chosen)

    def no_padding(scores, lengths, chosen):
        return scores.masked_fill(chosen, float("-inf")).softmax(-1)

    failed(check("ex-11-pointer-mask", after_softmax), "mask *before* the softmax")
    failed(check("ex-11-pointer-mask", no_padding), "padding positions")
    failed(check("ex-11-pointer-mask", lambda s, n, c: _pointer_mask(s, n, c).detach()), "no gradient flows back")
    failed(check("ex-11-coverage", lambda p, o: _coverage(p, o[:-1] if o[-1] == o[0] and len(o) > 3 else o) * 0),
           "should be")
    failed(check("ex-11-coverage", lambda p, o: 0.0 if not g.is_simple_polygon(p, o) else _coverage(p, o)),
           "drop that repeat")
    failed(check("ex-11-coverage", lambda p, o: g.hull_coverage(p.numpy(), o)), "the book's own answer")


def test_position_vocabulary_baseline_cannot_name_positions_past_its_vocabulary() -> None:
    from attnmem.seq2seq import build_model
    from attnmem.tasks.translation import Vocab

    batch = g.sorting_task(5, 12, seed=0)
    tokens = T.position_vocabulary_batch(batch, positions=10)
    assert (tokens.src[:, :12] - 4 == (batch.points[..., 0] * 100).round().long()).all()
    assert (tokens.tgt_out[:, :12] == Vocab.UNK).sum() == 2 * 5  # positions 10 and 11 of each example
    torch.manual_seed(0)
    model = build_model({"src_vocab": 104, "tgt_vocab": 14, "embed": 8, "hidden": 8, "attention": "bahdanau"}).eval()
    assert T.position_vocabulary_accuracy(model, batch, positions=10) == 0.0


def test_explorer_draws_points_panels_and_checks_its_inputs() -> None:
    from attnmem.viz.explorer import points_panel
    from attnmem.viz.pointer import PointerExplorer

    batch = g.hull_task(2, (6, 9), seed=0)
    examples = {f"set {b}": batch.points[b, : int(batch.lengths[b])] for b in range(2)}
    references = {f"set {b}": batch.targets[b, : int(batch.target_lengths[b]) - 1].tolist() for b in range(2)}
    explorer = PointerExplorer({"with the mask": small(closes=True), "without": small(closes=True, mask_chosen=False)},
                               examples, references)
    spec = explorer.view_spec()
    panels = [p for e in spec["examples"] for f in e["frames"] for p in f["panels"]]
    assert spec["kind"] == "frames" and panels and all(p["type"] == "points" for p in panels)
    assert all(abs(sum(p["weights"]) - 1) < 1e-2 for p in panels if "weights" in p)
    assert 'panel.type === "points"' in explorer.to_html()
    own = {name: explorer.runs[name, "with the mask"][0] for name in examples}  # each output as its own reference
    mirror = PointerExplorer({"with the mask": small(closes=True)}, examples,
                             {name: output[:-1] if output[-1] == output[0] else output for name, output in own.items()})
    assert all(v == "right" or v.startswith("repeats") for v in mirror.verdicts().values()), mirror.verdicts()
    with pytest.raises(ValueError, match="names points"):
        points_panel([[0, 0], [1, 1]], path=[0, 2])
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        points_panel([[0, 0, 1]])
    with pytest.raises(ValueError, match="one reference output per example"):
        PointerExplorer({"m": small(closes=True)}, examples, {})


# --- the set pointer network (self-attention encoder, a decoder without recurrence) ---------------------------------
def small_set(closes: bool = True, relative: bool = False, mask_chosen: bool = True) -> SetPointerNetwork:
    torch.manual_seed(0)
    return SetPointerNetwork(d_model=16, heads=2, layers=2, d_ff=32, closes=closes, relative=relative,
                             mask_chosen=mask_chosen).eval()


@pytest.mark.parametrize("relative", [False, True])
@pytest.mark.parametrize("closes", [False, True])
def test_set_pointer_masks_and_padded_batch_equals_one_by_one(closes: bool, relative: bool) -> None:
    batch = (g.hull_task if closes else g.tsp_task)(6, (4, 9), seed=2)
    model = small_set(closes, relative)
    together = assert_padded_batch_equals_one_by_one(model, batch)
    assert (repeated_indices(together.indices, together.lengths, closes) == 0).all()
    assert torch.isfinite(together.distributions).all()
    if not closes:  # a tour names every point once, and the beam keeps to the mask too
        assert all(sorted(o) == list(range(int(n))) for o, n in zip(T.outputs(together), batch.lengths))
        wide = model.beam(batch.points, batch.lengths, 3)
        assert (repeated_indices(wide.indices, wide.lengths, closes) == 0).all()


def test_set_pointer_teacher_forcing_in_one_pass_is_greedy_step_by_step() -> None:
    batch = g.hull_task(8, (5, 12), seed=3)
    model = small_set(relative=True)
    decoded = model.greedy(batch.points, batch.lengths)
    forced = model(batch.points, batch.lengths, decoded.indices)
    live = decoded.indices >= 0
    torch.testing.assert_close(forced.distributions[live], decoded.distributions[live])
    assert (forced.distributions[~available_rows(forced, batch)] == 0).all()


def available_rows(pointed, batch) -> torch.Tensor:
    """(B, T, N) True at the real positions of every step (padding gets zero probability)."""
    return (torch.arange(batch.points.shape[1]) < batch.lengths[:, None]).unsqueeze(1).expand_as(pointed.distributions)


def test_set_pointer_does_not_depend_on_the_order_of_the_points() -> None:
    batch = g.hull_task(4, 9, seed=4)
    model = small_set(relative=True)
    order = torch.randperm(9, generator=torch.Generator().manual_seed(0))
    back = order.argsort()
    decoded = model.greedy(batch.points, batch.lengths)
    shuffled = model.greedy(batch.points[:, order], batch.lengths)
    live = decoded.indices >= 0
    assert torch.equal(order[shuffled.indices.clamp_min(0)][live], decoded.indices[live])
    torch.testing.assert_close(shuffled.distributions[..., back], decoded.distributions)


def test_set_pointer_all_but_one_masked_and_unmasked_decoding() -> None:
    model = small_set(closes=False)
    points, lengths = torch.rand(2, 4, 2), torch.tensor([4, 2])
    forced = model(points, lengths, torch.tensor([[3, 2, 1, 0], [1, 0, -1, -1]]))
    assert torch.equal(forced.distributions[0, 3], torch.tensor([1.0, 0.0, 0.0, 0.0]))
    assert torch.equal(forced.distributions[1, 1], torch.tensor([1.0, 0.0, 0.0, 0.0]))
    assert torch.isfinite(forced.distributions).all()  # steps past the end: every position masked, no NaN
    unmasked = small_set(closes=False, mask_chosen=False).greedy(points, lengths)
    assert unmasked.distributions.shape == (2, 4, 4)


def test_set_pointer_build_and_clear_argument_errors() -> None:
    config = {"task": "hull", "encoder": "attention", "d_model": 16, "heads": 2, "layers": 1, "d_ff": 32,
              "attention": 24, "relative": True}
    model = T.build(config)
    assert isinstance(model, SetPointerNetwork) and model.pointer.v.shape == (24,) and model.closes
    with pytest.raises(ValueError, match="'lstm' or 'attention'"):
        T.build({**config, "encoder": "transformer"})
    with pytest.raises(ValueError, match="multiple of heads"):
        T.build({**config, "heads": 3})
    points, lengths = torch.rand(2, 5, 2), torch.tensor([5, 3])
    with pytest.raises(ValueError, match=r"\(batch, n, 2\)"):
        model.greedy(torch.rand(5, 2), lengths)
    with pytest.raises(ValueError, match="between 1 and 5"):
        model.greedy(points, torch.tensor([6, 3]))
    with pytest.raises(ValueError, match="past its example's length"):
        model(points, lengths, torch.tensor([[0, 1, 2], [0, 1, 4]]))


def test_cosine_schedule() -> None:
    config = {"lr": 1e-3, "steps": 100, "schedule": "cosine"}
    assert [round(T.learning_rate(config, s), 6) for s in (0, 50, 100)] == [1e-3, 5e-4, 0.0]


def test_explorer_steps_through_a_set_pointer_network() -> None:
    from attnmem.viz.pointer import PointerExplorer

    batch = g.hull_task(2, (6, 9), seed=0)
    examples = {f"set {b}": batch.points[b, : int(batch.lengths[b])] for b in range(2)}
    references = {f"set {b}": batch.targets[b, : int(batch.target_lengths[b]) - 1].tolist() for b in range(2)}
    spec = PointerExplorer({"set": small_set(relative=True)}, examples, references).view_spec()
    assert all(p["type"] == "points" for e in spec["examples"] for f in e["frames"] for p in f["panels"])
