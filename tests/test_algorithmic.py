"""Tests for the algorithmic tasks of the NTM chapters (copy, repeat copy, associative recall, priority sort)."""
from __future__ import annotations

import pytest
import torch

from attnmem.tasks.algorithmic import (
    AlgorithmicBatch,
    associative_recall_task,
    bit_errors,
    copy_task,
    priority_sort_task,
    repeat_copy_task,
    sequence_loss,
    task,
)

GENERATORS = [copy_task, repeat_copy_task, associative_recall_task, priority_sort_task]


@pytest.mark.parametrize("generate", GENERATORS)
def test_same_seed_same_data_and_other_seed_other_data(generate):
    first, again, other = generate(8, seed=3), generate(8, seed=3), generate(8, seed=4)
    for a, b in zip(first, again):
        assert torch.equal(a, b)
    assert not torch.equal(first.inputs, other.inputs) or not torch.equal(first.targets, other.targets)


@pytest.mark.parametrize("generate", GENERATORS)
def test_a_generator_can_be_passed_instead_of_a_seed(generate):
    a = generate(4, seed=torch.Generator().manual_seed(7))
    b = generate(4, seed=torch.Generator().manual_seed(7))
    assert torch.equal(a.inputs, b.inputs)


@pytest.mark.parametrize("generate", GENERATORS)
def test_shapes_and_binary_targets(generate):
    batch = generate(5, seed=0)
    assert isinstance(batch, AlgorithmicBatch)
    b, t, _ = batch.inputs.shape
    assert batch.targets.shape[:2] == (b, t) and batch.mask.shape == (b, t) and batch.lengths.shape == (b,)
    assert set(batch.targets.unique().tolist()) <= {0.0, 1.0}
    assert batch.mask.dtype == torch.bool and bool(batch.mask.any(dim=1).all())
    assert not bool((batch.targets * ~batch.mask.unsqueeze(-1)).any()), "targets outside the mask must be zero"


def test_copy_layout_by_hand():
    batch = copy_task(6, min_len=1, max_len=7, width=4, seed=1)
    for b, length in enumerate(batch.lengths.tolist()):
        bits = batch.inputs[b, :length, :4]
        assert batch.inputs[b, length, 4] == 1 and batch.inputs[b, :, 4].sum() == 1  # one delimiter step
        assert torch.equal(batch.targets[b, length + 1 : 2 * length + 1], bits)
        assert batch.mask[b].sum() == length and batch.mask[b, length + 1 : 2 * length + 1].all()
        assert not batch.inputs[b, length + 1 :].any(), "no input after the delimiter"


def test_copy_lengths_cover_the_range_and_fixed_lengths_work():
    lengths = copy_task(400, 1, 20, seed=0).lengths
    assert int(lengths.min()) == 1 and int(lengths.max()) == 20
    fixed = copy_task(3, 12, 12, seed=0)
    assert fixed.lengths.tolist() == [12, 12, 12] and fixed.inputs.shape[1] == 25


def test_repeat_copy_repeats_then_marks_the_end():
    batch = repeat_copy_task(6, min_len=2, max_len=4, min_repeats=1, max_repeats=3, width=5, seed=2)
    counts = set()
    for b, length in enumerate(batch.lengths.tolist()):
        bits = batch.inputs[b, :length, :5]
        scored = batch.mask[b].nonzero().flatten()
        count = (len(scored) - 1) // length
        counts.add(round(float(batch.inputs[b, length, 6]), 4))
        assert torch.equal(batch.targets[b, scored[:-1], :5], bits.repeat(count, 1))
        assert batch.targets[b, scored[-1], 5] == 1 and batch.targets[b, :, 5].sum() == 1
    # the repeat channel is normalised: repeats 1, 2, 3 -> (r - 2) / sqrt(2/3)
    assert counts <= {round((r - 2) / (2 / 3) ** 0.5, 4) for r in (1, 2, 3)}


def test_associative_recall_answers_with_the_next_item():
    batch = associative_recall_task(8, min_items=2, max_items=5, item_len=3, width=6, seed=5)
    for b, count in enumerate(batch.lengths.tolist()):
        items = [batch.inputs[b, i * 4 + 1 : i * 4 + 4, :6] for i in range(count)]
        start = count * 4
        query = batch.inputs[b, start + 1 : start + 4, :6]
        matches = [i for i, item in enumerate(items[:-1]) if torch.equal(item, query)]
        assert matches, "the query must be one of the items (not the last)"
        answer = batch.targets[b, batch.mask[b]]
        assert any(torch.equal(answer, items[i + 1]) for i in matches)
        assert batch.inputs[b, start, 7] == 1 and batch.inputs[b, start + 4, 7] == 1


def test_priority_sort_outputs_highest_priority_first():
    batch = priority_sort_task(4, n_inputs=6, n_outputs=4, width=3, seed=0)
    for b in range(4):
        priorities = batch.inputs[b, :6, 4]
        order = priorities.argsort(descending=True)[:4]
        assert torch.equal(batch.targets[b, 7:], batch.inputs[b, order, :3])
        assert batch.inputs[b, 6, 3] == 1


def test_bit_errors_and_loss_on_perfect_and_wrong_logits():
    batch = copy_task(4, 2, 5, seed=0)
    perfect = (batch.targets * 2 - 1) * 20
    assert bit_errors(perfect, batch).tolist() == [0.0] * 4
    assert float(sequence_loss(perfect, batch)) < 1e-6
    flipped = -perfect
    assert torch.equal(bit_errors(flipped, batch), batch.lengths.float() * 8)
    # unscored steps never count, whatever the model says there
    noisy = perfect.clone()
    noisy[~batch.mask] = torch.randn_like(noisy[~batch.mask]) * 100
    assert bit_errors(noisy, batch).sum() == 0


def test_task_lookup_and_unknown_names():
    assert task("copy") is copy_task
    with pytest.raises(ValueError, match="unknown algorithmic task 'cpy'.*copy"):
        task("cpy")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: copy_task(0), "batch_size must be a positive int"),
        (lambda: copy_task(2, min_len=5, max_len=3), r"min_len \(5\) must not exceed max_len \(3\)"),
        (lambda: copy_task(2, min_len=0), "min_len must be a positive int"),
        (lambda: copy_task(2, width=0), "width must be a positive int"),
        (lambda: copy_task(2, seed=-1), "seed must be a non-negative int"),
        (lambda: copy_task(2, seed="a"), "seed must be a non-negative int"),
        (lambda: repeat_copy_task(2, min_repeats=4, max_repeats=2), "min_repeats"),
        (lambda: associative_recall_task(2, min_items=1), "min_items must be at least 2"),
        (lambda: priority_sort_task(2, n_inputs=3, n_outputs=5), r"n_outputs \(5\) must not exceed n_inputs"),
    ],
)
def test_bad_arguments_say_what_to_fix(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_logits_of_the_wrong_shape_are_refused():
    batch = copy_task(2, seed=0)
    with pytest.raises(ValueError, match="logits must have the targets' shape"):
        bit_errors(torch.zeros(2, 3, 8), batch)
    with pytest.raises(ValueError, match="output width"):
        sequence_loss(torch.zeros(*batch.targets.shape[:2], 9), batch)
