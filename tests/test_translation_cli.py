"""The corpus command on small tab-separated files written here: split by source, honest scores, save/load/translate."""
from __future__ import annotations

import json
import random

import pytest
import torch

from attnmem.tasks.translation import CorpusError, Pair, detokenize, load_parallel, sample_pairs, split_indices
from attnmem.training.translation import (RECIPE, _copy_unknowns, inverse_sqrt_rate, load, main, score,
                                          token_batches, translate)

SMALL = ["--steps", "3", "--hidden", "16", "--heads", "2", "--ff", "32", "--min-count", "1", "--quiet",
         "--beam", "2", "--held-out", "0.2"]


@pytest.fixture
def corpus(tmp_path):
    """A Tatoeba-like file: every source twice with two different translations, and an attribution column."""
    lines = []
    for pair in sample_pairs(30, 3, 5, seed=0):
        source = " ".join(pair.source).capitalize() + "."
        lines += [f"{source}\t{' '.join(pair.target).capitalize()}.\tCC-BY 2.0",
                  f"{source}\t{' '.join(pair.target)} !\tCC-BY 2.0"]
    path = tmp_path / "fra.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_split_never_puts_a_held_out_source_in_training(corpus):
    pairs = load_parallel(corpus).pairs
    train, valid, test = split_indices([p.source for p in pairs], 0.2, 0.2, seed=1)
    assert sorted(train + valid + test) == list(range(len(pairs)))
    seen = {tuple(pairs[i].source) for i in train}
    assert valid and test and not any(tuple(pairs[i].source) in seen for i in valid + test)
    assert len({tuple(pairs[i].source) for i in test}) < len(test)  # repeated sources stay together


def test_loader_keeps_texts_and_case_on_request(corpus):
    kept = load_parallel(corpus, lowercase=False)
    assert kept.pairs[0].source[0][0].isupper() and kept.texts[0][0].endswith(".")
    assert load_parallel(corpus, swap=True).texts[0] == kept.texts[0][::-1]
    assert detokenize(["Où", "est", "Tom", "?"]) == "Où est Tom?" and detokenize(["¿", "Qué", "?"]) == "¿Qué?"


def test_a_file_without_tabs_says_so(tmp_path, capsys):
    path = tmp_path / "spaces.txt"
    path.write_text("I am cold.    J'ai froid.\nGo.    Va !\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="none of the 2 lines .* no tab between source and target"):
        load_parallel(path, on_error="skip")
    assert main([str(path), "--out", str(tmp_path / "m.pt"), *SMALL]) == 2
    error = capsys.readouterr().err
    assert "no tab" in error and "max-length" not in error


def test_train_save_load_translate_round_trip(corpus, tmp_path, capsys):
    out = tmp_path / "m.pt"
    assert main([str(corpus), "--out", str(out), *SMALL]) == 0
    printed = capsys.readouterr().out
    assert "split by source sentence" in printed and "tokenization: " in printed and "case kept" in printed
    assert "tok:13a" in printed and "test (" in printed and "beam2" in printed
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["split"]["by"] == "source sentence" and manifest["training"]["steps"] == 3
    assert set(manifest["scores"]["test"]) == {"greedy", "beam2"}
    translator = load(out)
    assert translator.tgt_vocab.itos == manifest["tgt_vocab"] and not translator.model.training
    text = translate(translator, "The big zebra sees a cat.")
    assert isinstance(text, str)
    assert main(["translate", str(out), "The dog runs.", "--beam", "1"]) == 0
    with pytest.raises(ValueError, match="empty"):
        translate(translator, "   ")


def test_a_separate_test_file_is_scored(corpus, tmp_path, capsys):
    test = tmp_path / "mine.txt"
    test.write_text("The dog runs.\tKano ke kuro.\n", encoding="utf-8")
    assert main([str(corpus), "--out", str(tmp_path / "m.pt"), "--test", str(test), *SMALL]) == 0
    assert "test (1 sentences, greedy)" in capsys.readouterr().out


def test_training_is_deterministic_under_a_seed(corpus, tmp_path):
    for name in ("a", "b"):
        assert main([str(corpus), "--out", str(tmp_path / f"{name}.pt"), "--model", "bahdanau", *SMALL]) == 0
    manifests = [json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab"]
    assert manifests[0]["sha256"] == manifests[1]["sha256"]


def test_unknown_words_are_copied_where_attention_points_or_marked():
    source = ["Tom", "runs", "."]
    alignment = torch.tensor([[0.9, 0.05, 0.05, 0.0], [0.0, 0.0, 0.1, 0.9]])
    assert _copy_unknowns(["<unk>", "<unk>"], source, alignment) == ["Tom", "<unk>"]
    assert _copy_unknowns(["<unk>"], source, None) == ["<unk>"]


def test_scores_are_standard_bleu_on_detokenized_text():
    result = score([["Je", "suis", "là", "."]], ["Je suis là."], lowercase=False)
    assert result["bleu"] == 100.0 and result["exact_match"] == 1.0 and "tok:13a" in result["signature"]
    assert score([["je", "suis", "là", "."]], ["Je suis là."], lowercase=False)["bleu"] < 100.0


def test_schedule_and_token_batches():
    assert inverse_sqrt_rate(RECIPE["warmup"] - 1, 1.0, RECIPE["warmup"]) == 1.0
    assert inverse_sqrt_rate(4 * RECIPE["warmup"] - 1, 1.0, RECIPE["warmup"]) == pytest.approx(0.5)
    pairs = [Pair(["w"] * n, ["v"] * n) for n in range(1, 40)]
    batches = token_batches(pairs, 60, random.Random(0))
    assert sorted(i for b in batches for i in b) == list(range(len(pairs)))
    assert all(len(b) * max(2 * len(pairs[i].source) + 2 for i in b) <= 60 or len(b) == 1 for b in batches)


def test_loading_something_else_is_a_clear_error(tmp_path):
    from attnmem.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "other.pt", torch.nn.Linear(2, 2), {"config": {}})
    with pytest.raises(ValueError, match="not a model saved by"):
        load(tmp_path / "other.pt")


def test_a_cpu_budget_stops_training_and_the_bar_says_what_is_left(corpus, tmp_path, capsys):
    small = [a for a in SMALL if a not in ("--steps", "3", "--quiet")]
    assert main([str(corpus), "--out", str(tmp_path / "m.pt"), "--seconds", "0.5", *small]) == 0
    training = json.loads((tmp_path / "m.json").read_text())["training"]
    assert training["cpu_seconds"] >= 0.5 and training["steps"] >= 1 and training["cpu_budget_seconds"] == 0.5
    bar = capsys.readouterr().err
    assert "training transformer (size 16) on" in bar and "left" in bar


@pytest.mark.parametrize("option, value, says", [("--threads", "0", "--threads must be at least 1"),
                                                 ("--lr", "nan", "--lr must be a positive number"),
                                                 ("--hidden", "10", "multiple of --heads")])
def test_bad_settings_are_refused_by_name(corpus, tmp_path, capsys, option, value, says):
    with pytest.raises(SystemExit):
        main([str(corpus), "--out", str(tmp_path / "m.pt"), option, value, "--heads", "4"])
    assert says in capsys.readouterr().err
