"""Nothing lost, nothing silent (issue #19): saves that cannot destroy a good checkpoint, reads that are bounded,
and bad inputs that get a clear error instead of a wrong result or a hang.

Each test reproduces one finding of the issue; ``PROMISES.md`` lists which test keeps which promise.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from torch import nn

from attnmem import zoo
from attnmem.checkpoint import CheckpointError, ensure_writable, load_checkpoint, save_checkpoint


@contextmanager
def deadline(seconds: int):
    """Fail (instead of hanging the suite) if the block runs longer than ``seconds``."""

    def expire(*_):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _manifest_for(path: Path, **extra) -> None:
    data = path.read_bytes()
    record = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), **extra}
    path.with_suffix(".json").write_text(json.dumps(record))


def _disk_full_save(obj, destination, *args, **kwargs):
    """torch.save on a full disk: a few bytes reach the file, then the write fails."""
    handle = open(destination, "wb") if isinstance(destination, (str, Path)) else destination
    handle.write(b"PK\x03\x04 half a zip")
    handle.flush()
    raise RuntimeError("[enforce fail at inline_container.cc:672] unexpected pos 64 vs 0")


# --- saving ---------------------------------------------------------------------------------------------------
def test_a_failed_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    good = nn.Linear(3, 2)
    record = save_checkpoint(tmp_path / "m.pt", good, {"command": "make m"})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    monkeypatch.setattr(torch, "save", _disk_full_save)
    with pytest.raises(CheckpointError, match=r"saving .*m\.pt failed .*the previous checkpoint, if any, is unchanged"):
        save_checkpoint(tmp_path / "m.pt", nn.Linear(3, 2), {"command": "make m"})
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temporary file left either
    other = nn.Linear(3, 2)
    _, manifest = load_checkpoint(tmp_path / "m.pt", other)
    assert manifest["sha256"] == record["sha256"]
    torch.testing.assert_close(other.weight, good.weight)


def test_a_failed_first_save_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(torch, "save", _disk_full_save)
    with pytest.raises(CheckpointError, match="saving"):
        save_checkpoint(tmp_path / "m.pt", nn.Linear(3, 2))
    assert list(tmp_path.iterdir()) == []


def test_a_failed_manifest_write_leaves_the_previous_pair(tmp_path, monkeypatch):
    save_checkpoint(tmp_path / "m.pt", nn.Linear(3, 2))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real_fsync = os.fsync
    calls = []

    def fsync_fails_second_time(descriptor):
        calls.append(descriptor)
        if len(calls) == 2:  # the weights are written; the manifest's write fails
            raise OSError(28, "No space left on device")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync_fails_second_time)
    with pytest.raises(CheckpointError, match="No space left on device"):
        save_checkpoint(tmp_path / "m.pt", nn.Linear(3, 2))
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    load_checkpoint(tmp_path / "m.pt", nn.Linear(3, 2))


def test_an_unwritable_destination_is_refused_before_training(tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("not a folder")
    entry = zoo.recipe("kernel_regression")
    trained = []

    def spy(config, seed, progress):
        trained.append(seed)
        return entry.train(config, seed, progress)

    monkeypatch.setattr(zoo, "recipe", lambda name: dataclasses.replace(entry, train=spy))
    with pytest.raises(CheckpointError, match=r"cannot save checkpoints in the folder .*a_file"):
        zoo.train("kernel_regression", tmp_path / "a_file" / "zoo", progress=False)
    assert trained == []
    (tmp_path / "zoo" / "kernel_regression.pt").mkdir(parents=True)
    with pytest.raises(CheckpointError, match=r"kernel_regression\.pt: it is a folder"):
        zoo.train("kernel_regression", tmp_path / "zoo", progress=False)
    assert trained == []


def test_ensure_writable_creates_the_folder_and_leaves_nothing(tmp_path):
    assert ensure_writable(tmp_path / "new" / "m.pt") == tmp_path / "new"
    assert list((tmp_path / "new").iterdir()) == []
    with pytest.raises(ValueError, match="must end in .pt"):
        ensure_writable(tmp_path / "m.pth")


def test_a_leftover_checkpoint_without_manifest_names_the_command_and_is_rebuilt(tmp_path):
    zoo.train("kernel_regression", tmp_path, progress=False)
    (tmp_path / "kernel_regression.json").unlink()
    with pytest.raises(zoo.ZooError, match="has no manifest.*rebuild it with: python -m attnmem.zoo train "
                                           "kernel_regression"):
        zoo.load("kernel_regression", tmp_path)
    assert "cannot be verified; rebuild it: python -m attnmem.zoo train" in zoo.describe("kernel_regression", tmp_path)
    model = zoo.load("kernel_regression", tmp_path, train_if_missing=True)
    assert (tmp_path / "kernel_regression.json").exists() and not model.training


# --- reading --------------------------------------------------------------------------------------------------
def test_a_checkpoint_linked_to_a_device_is_refused_without_reading(tmp_path):
    save_checkpoint(tmp_path / "m.pt", nn.Linear(3, 2))
    (tmp_path / "m.pt").unlink()
    (tmp_path / "m.pt").symlink_to("/dev/zero")
    with deadline(20), pytest.raises(CheckpointError, match=r"m\.pt is not a regular file"):
        load_checkpoint(tmp_path / "m.pt")


def test_a_named_pipe_is_refused_without_blocking(tmp_path):
    save_checkpoint(tmp_path / "m.pt", nn.Linear(3, 2))
    (tmp_path / "m.pt").unlink()
    os.mkfifo(tmp_path / "m.pt")
    with deadline(20), pytest.raises(CheckpointError, match="not a regular file"):
        load_checkpoint(tmp_path / "m.pt")


def test_the_hash_check_reads_no_more_than_the_recorded_size(tmp_path):
    save_checkpoint(tmp_path / "m.pt", nn.Linear(3, 2), {"command": "make m"})
    with open(tmp_path / "m.pt", "ab") as handle:
        handle.write(b"\0" * 100)
    with pytest.raises(CheckpointError, match=r"is \d+ bytes but its manifest records \d+.*Rebuild it with: make m"):
        load_checkpoint(tmp_path / "m.pt")
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "m.pt").write_bytes(data[:50])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(tmp_path / "m.pt")


def test_a_folder_in_place_of_the_checkpoint_is_named(tmp_path):
    save_checkpoint(tmp_path / "m.pt", nn.Linear(3, 2))
    (tmp_path / "m.pt").unlink()
    (tmp_path / "m.pt").mkdir()
    with pytest.raises(CheckpointError, match=r"m\.pt is a folder"):
        load_checkpoint(tmp_path / "m.pt")


def test_a_manifest_that_is_not_utf8_is_named(tmp_path):
    save_checkpoint(tmp_path / "m.pt", nn.Linear(3, 2))
    (tmp_path / "m.json").write_bytes(b'{"sha256": "\xff\xfe"}')
    with pytest.raises(CheckpointError, match=r"m\.json is not UTF-8"):
        load_checkpoint(tmp_path / "m.pt")


def test_a_state_dict_of_non_tensors_is_refused(tmp_path):
    torch.save({"weight": [[1.0, 2.0, 3.0]] * 2, "bias": torch.zeros(2)}, tmp_path / "m.pt")
    _manifest_for(tmp_path / "m.pt", command="make m")
    with pytest.raises(CheckpointError, match=r"not a state dict of tensors: weight \(list\).*Rebuild it with: make m"):
        load_checkpoint(tmp_path / "m.pt", nn.Linear(3, 2))


@pytest.mark.parametrize("dtype", [torch.float16, torch.int64, torch.bool, torch.float64])
def test_a_state_dict_of_another_dtype_is_refused(tmp_path, dtype):
    model = nn.Linear(3, 2)
    torch.save({name: value.to(dtype) for name, value in model.state_dict().items()}, tmp_path / "m.pt")
    _manifest_for(tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match=rf"wrong dtypes: bias {dtype} vs model torch.float32"):
        load_checkpoint(tmp_path / "m.pt", model)


# --- data generators ------------------------------------------------------------------------------------------
def _addition_reference(batch) -> list[list[list[int]]]:
    """The targets of an addition batch, recomputed with Python's unbounded integers from its inputs."""
    from attnmem.tasks.algorithmic import ADDITION_BLANK

    steps, width = batch.targets.shape[1:]
    digits = batch.inputs.view(*batch.inputs.shape[:2], -1, 10).argmax(-1).tolist()
    out = []
    for row, used in zip(digits, batch.mask.tolist()):
        total, sums = 0, []
        for number, present in zip(row, used):
            total += sum(d * 10**i for i, d in enumerate(number)) if present else 0
            text = str(total)[::-1]
            sums.append([int(c) for c in text] + [ADDITION_BLANK] * (width - len(text)))
        out.append(sums)
    return out


@pytest.mark.parametrize("digits", [18, 19, 25])
def test_addition_targets_are_exact_past_int64(digits):
    from attnmem.tasks.algorithmic import addition_batch

    batch = addition_batch(64, max_numbers=5, digits=digits, seed=3)
    assert batch.targets.tolist() == _addition_reference(batch)


def test_addition_refuses_sums_wider_than_its_targets():
    from attnmem.tasks.algorithmic import addition_batch

    assert addition_batch(8, max_numbers=10, digits=3, seed=0).targets.shape == (8, 10, 4)
    with pytest.raises(ValueError, match="max_numbers must be at most 10"):
        addition_batch(8, max_numbers=11, digits=3, seed=0)


def _huge_requests():
    from attnmem.tasks import algorithmic, regression, tables

    return {
        "copy": lambda: algorithmic.copy_task(10**10),
        "copy, long": lambda: algorithmic.copy_task(2, max_len=10**9),
        "repeat copy": lambda: algorithmic.repeat_copy_task(10**6, max_repeats=10**4),
        "associative recall": lambda: algorithmic.associative_recall_task(10**9),
        "priority sort": lambda: algorithmic.priority_sort_task(1, n_inputs=10**9, n_outputs=1),
        "parity": lambda: algorithmic.parity_batch(10**7, 10**3, seed=0),
        "addition": lambda: algorithmic.addition_batch(10, digits=10**8),
        "arithmetic": lambda: tables.arithmetic_task(10**10, seed=0),
        "regression": lambda: regression.sample_regression(10**10, seed=0),
    }


@pytest.mark.parametrize("name", list(_huge_requests()))
def test_impossible_batches_are_refused_before_allocating(name):
    with deadline(10), pytest.raises(ValueError, match=r"over the limit of 268,435,456 \(attnmem.tasks.MAX_ELEMENTS\)"):
        _huge_requests()[name]()


def test_generators_that_loop_per_example_have_a_stated_limit():
    from attnmem.tasks import babi, tables, translation

    calls = {
        "babi": lambda: babi.generate(1, 10**9, 0),
        "translation": lambda: translation.sample_pairs(10**9, 3, 10, 0),
        "tables": lambda: tables.sample_questions(10**9, 0),
    }
    for name, call in calls.items():
        with deadline(10), pytest.raises(ValueError, match=r"over the limit of 100,000 examples per call"):
            call()


def test_non_finite_ranges_and_noise_are_refused():
    from attnmem.tasks import regression, tables

    with pytest.raises(ValueError, match="noise must be a finite non-negative number"):
        regression.sample_regression(10, seed=0, noise=float("nan"))
    with pytest.raises(ValueError, match="need finite low < high"):
        tables.arithmetic_task(4, seed=0, low=float("-inf"), high=float("inf"))


def test_saved_files_get_the_usual_permissions(tmp_path):
    (tmp_path / "plain").write_text("x")
    save_checkpoint(tmp_path / "m.pt", nn.Linear(3, 2))
    usual = (tmp_path / "plain").stat().st_mode
    assert (tmp_path / "m.pt").stat().st_mode == (tmp_path / "m.json").stat().st_mode == usual


# --- attention paths ------------------------------------------------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(["bahdanau", "location", "dot", "general", "concat"]), batch=st.integers(1, 4),
       positions=st.integers(1, 7), seed=st.integers(0, 2**16), data=st.data())
def test_decoders_give_zero_weights_never_nan_on_an_all_padding_row(kind, batch, positions, seed, data):
    from attnmem.seq2seq import BahdanauDecoder, Encoded, LocationDecoder, LuongDecoder

    torch.manual_seed(seed)
    memory, vocab = 6, 5
    decoder = {"bahdanau": lambda: BahdanauDecoder(vocab, 4, memory, memory),
               "location": lambda: LocationDecoder(vocab, 4, memory, memory, width=3),
               }.get(kind, lambda: LuongDecoder(vocab, 4, memory, memory, score=kind))().eval()
    visible = data.draw(st.lists(st.lists(st.booleans(), min_size=positions, max_size=positions),
                                 min_size=batch, max_size=batch))
    blank = data.draw(st.integers(0, batch - 1))
    mask = torch.tensor(visible)
    mask[blank] = False  # this source row is all padding
    encoded = decoder.prepare(Encoded(torch.randn(batch, positions, memory) * mask.unsqueeze(-1),
                                      torch.randn(batch, memory), mask))
    state, token = decoder.start(encoded), torch.ones(batch, dtype=torch.long)
    with torch.no_grad():
        for _ in range(3):
            step = decoder.step(token, state, encoded)
            assert torch.isfinite(step.weights).all() and torch.isfinite(step.logits).all()
            assert (step.weights[~mask] == 0).all()
            sums = step.weights.sum(-1)
            torch.testing.assert_close(sums[mask.any(-1)], torch.ones(int(mask.any(-1).sum())))
            assert (sums[~mask.any(-1)] == 0).all()
            state, token = step.state, step.logits.argmax(-1)


# --- training -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("clip_norm", [1.0, None])
def test_fit_refuses_a_non_finite_gradient_naming_the_parameter(clip_norm):
    from attnmem.training import TrainingError, fit

    model = nn.Linear(3, 1)
    before = {name: value.clone() for name, value in model.state_dict().items()}

    def loss_fn(model, batch):  # finite loss; sqrt at 0 has an infinite slope, times 0: a NaN gradient for bias
        return model(batch).pow(2).mean() + torch.sqrt(model.bias * 0).sum()

    with pytest.raises(TrainingError, match=r"gradient of bias became non-finite at step 1 .*not updated"):
        fit(model, loss_fn, lambda g: torch.randn(4, 3, generator=g), steps=3, clip_norm=clip_norm, progress=False)
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name


@pytest.mark.parametrize("change, message", [
    ({"lr": float("nan")}, "lr must be a finite positive number"),
    ({"lr": 0.0}, "lr must be a finite positive number"),
    ({"epochs": 0}, "epochs must be a positive int"),
    ({"validation": 1.0}, "validation is the fraction"),
    ({"validation": 0.0}, "validation is the fraction"),
    ({"restarts": 0}, "restarts must be a positive int"),
    ({"noise": float("nan")}, "noise"),
])
def test_train_babi_refuses_settings_that_train_nothing(change, message):
    from attnmem.tasks import babi
    from attnmem.training.memnet import TrainConfig, train_babi

    data = {1: babi.samples(babi.generate(1, 20, 0))}
    with pytest.raises(ValueError, match=message):
        train_babi(data, babi.Vocabulary.generator(), TrainConfig(**{"epochs": 1, "restarts": 1, **change}),
                   progress=False)


def test_train_babi_names_a_task_with_too_few_questions():
    from attnmem.tasks import babi
    from attnmem.training.memnet import TrainConfig, train_babi

    data = {1: babi.samples(babi.generate(1, 20, 0)), 2: babi.samples(babi.generate(2, 1, 0))}
    with pytest.raises(ValueError, match=r"task 2 has 1 training question\(s\): too few to hold out 10%"):
        train_babi(data, babi.Vocabulary.generator(), TrainConfig(epochs=1, restarts=1), progress=False)


# --- models: sizes with a stated limit, loops with a bound, messages that name what is wrong ----------------------
def _small_seq2seq(attention: str = "bahdanau"):
    from attnmem.seq2seq import build_model

    return build_model({"src_vocab": 10, "tgt_vocab": 12, "embed": 4, "hidden": 5, "attention": attention}).eval()


def test_impossible_models_are_refused_before_allocating():
    from attnmem.act import AdaptiveRNN, FixedStepRNN
    from attnmem.attention import AdditiveScore
    from attnmem.ntm import NTM
    from attnmem.seq2seq import build_model

    limit = r"over the limit of 100,000,000 \(attnmem.checks.MAX_MODEL_NUMBERS\)"
    with deadline(10), pytest.raises(ValueError, match=limit):
        build_model({"src_vocab": 10, "tgt_vocab": 12, "embed": 4, "hidden": 10**6, "attention": "bahdanau"})
    with deadline(10), pytest.raises(ValueError, match=limit):
        NTM(9, 8, memory_size=10**9)
    with deadline(10), pytest.raises(ValueError, match=limit):
        NTM(9, 8)(torch.zeros(1, 2, 9), memory_size=10**9)
    with pytest.raises(ValueError, match="hidden must be a positive int, got 0"):
        AdditiveScore(4, 4, 0)
    for make in (lambda: AdaptiveRNN(2, 4, 1, max_steps=10**9), lambda: FixedStepRNN(2, 4, 1, steps=10**9)):
        with pytest.raises(ValueError, match=r"over the limit of 10,000 steps \(attnmem.checks.MAX_LOOP_STEPS\)"):
            make()


def test_decoding_loops_have_a_checked_bound():
    from attnmem.seq2seq import beam_search, greedy_batch, greedy_decode

    model, src = _small_seq2seq(), torch.tensor([3, 4, 2])
    for decode in (lambda: greedy_decode(model, src, max_length=10**9),
                   lambda: beam_search(model, src, beam_size=2, max_length=10**9),
                   lambda: greedy_batch(model, src[None], torch.tensor([3]), max_length=10**9)):
        with deadline(10), pytest.raises(ValueError, match="over the limit of 10,000 steps"):
            decode()
    with pytest.raises(ValueError, match="max_length must be a positive int, got 0"):
        greedy_batch(model, src[None], torch.tensor([3]), max_length=0)


@pytest.mark.parametrize("src, tgt, message", [
    ([[3, 40, 2]], [[1, 5]], r"src holds id 40, outside the source vocabulary of 10 tokens"),
    ([[3, -1, 2]], [[1, 5]], r"src holds id -1, outside the source vocabulary of 10 tokens"),
    ([[3, 4, 2]], [[1, 50]], r"tgt_in holds id 50, outside the target vocabulary of 12 tokens"),
    ([[3, 4, 2]], [[]], "tgt_in has no steps"),
])
def test_seq2seq_names_what_is_wrong_with_its_input(src, tgt, message):
    model = _small_seq2seq()
    with pytest.raises(ValueError, match=message):
        model(torch.tensor(src), torch.tensor([3]), torch.tensor(tgt, dtype=torch.long).view(1, -1))


def test_empty_sources_and_empty_score_rows_get_a_message():
    from attnmem.attention import AttentionShapeError, attend, masked_softmax

    model = _small_seq2seq()
    with pytest.raises(ValueError, match=r"src \(1, 0\) is empty"):
        model(torch.zeros(1, 0, dtype=torch.long), torch.tensor([0]), torch.ones(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"src \(0, 3\) is empty"):
        model(torch.zeros(0, 3, dtype=torch.long), torch.zeros(0, dtype=torch.long), torch.ones(0, 2, dtype=torch.long))
    with pytest.raises(AttentionShapeError, match="no positions along dim -1"):
        masked_softmax(torch.randn(2, 0))
    with pytest.raises(AttentionShapeError, match="have no positions: attention needs at least one key"):
        attend(torch.randn(2, 1, 4), torch.randn(2, 0, 4), torch.randn(2, 0, 4))


def test_score_translations_refuses_strings():
    from attnmem.seq2seq import score_translations

    with pytest.raises(TypeError, match=r"hypotheses\[0\] must be a list of tokens.*sentence.split\(\)"):
        score_translations(["le chat dort"], [["le", "chat", "dort"]])
    with pytest.raises(TypeError, match=r"references\[0\] must be a list of tokens"):
        score_translations([["le", "chat"]], ["le chat"])
    assert score_translations([["le", "chat"]], [["le", "chat"]])["exact_match"] == 1.0


def test_a_negative_word_id_is_reported_as_itself():
    from attnmem.memnet import MemN2N
    from attnmem.tasks import babi

    vocab = babi.Vocabulary.generator()
    batch = babi.vectorize(babi.samples(babi.generate(1, 2, 0)), vocab)
    with pytest.raises(ValueError, match=rf"query holds id -1, outside the model's vocabulary of {len(vocab)}"):
        MemN2N(len(vocab))(batch.memory, batch.memory_mask, batch.times, batch.query.clamp(max=0) - 1)


def test_an_all_padding_expression_is_named():
    from attnmem.programmer import ArithmeticProgrammer

    tokens = torch.tensor([[1, 2, 1, 0, 0], [0, 0, 0, 0, 0]])
    with pytest.raises(ValueError, match="expression 1 of the batch has no variable"):
        ArithmeticProgrammer()(tokens, torch.randn(2, 4))


@pytest.mark.parametrize("tau", [float("nan"), float("inf"), -0.1])
def test_parity_loss_refuses_a_penalty_that_is_not_a_number(tau):
    from attnmem.act import AdaptiveRNN
    from attnmem.tasks.algorithmic import parity_batch
    from attnmem.training.act import parity_loss

    with pytest.raises(ValueError, match="tau must be non-negative and finite"):
        parity_loss(AdaptiveRNN(8, 16, 1), parity_batch(4, 8, seed=0), tau=tau)
