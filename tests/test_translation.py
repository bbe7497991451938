"""Tests for the synthetic translation task, vocabularies, batches and the tab-separated corpus loader."""
from __future__ import annotations

import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attnmem.tasks.translation import (
    NOUNS,
    CorpusError,
    GrammarError,
    SyntheticTranslation,
    Vocab,
    load_parallel,
    make_batch,
    normalize,
    parse,
    possible_clause_counts,
    sample_clauses,
    sample_pairs,
    sample_source,
    source_vocab,
    split_pairs,
    target_vocab,
    translate,
)


# --- the grammar --------------------------------------------------------------------------------------------------
def test_hand_translated_sentence_shows_reordering_expansion_and_agreement():
    # verb-final, noun before adjectives before article, adverb -> two words, verb agrees with the subject (cat: -a)
    assert translate("the big cat often sees a small dog") == "mina grun ke kano lit un mult fojo vida".split()
    assert translate("a dog runs and the cat sleeps") == "kano un kuro kaj mina ke dorma".split()


def test_monotone_order_keeps_source_order():
    assert translate("the big cat often sees a small dog", order="monotone") == \
        "ke grun mina mult fojo vida un lit kano".split()


@given(length=st.integers(3, 70), seed=st.integers(0, 10_000))
@settings(max_examples=60, deadline=None)
def test_sampled_sentences_have_the_exact_length_and_parse_back(length, seed):
    words = sample_source(length, random.Random(seed))
    assert len(words) == length
    target = translate(words)
    # every source word gives one target word, except adverbs, which give two
    adverbs = sum(w in ("quickly", "slowly", "often") for w in words)
    assert len(target) == length + adverbs
    assert translate(words, "monotone") != [] and len(translate(words, "monotone")) == len(target)


def test_agreement_follows_the_subject_not_the_object():
    for noun, (_, noun_class) in NOUNS.items():
        verb = translate(f"the {noun} sees the big old dog")[-1]
        assert verb == "vid" + noun_class


def test_sampling_is_deterministic_under_a_seed():
    assert sample_pairs(20, 3, 30, seed=5) == sample_pairs(20, 3, 30, seed=5)
    assert sample_pairs(20, 3, 30, seed=5) != sample_pairs(20, 3, 30, seed=6)
    lengths = {len(p.source) for p in sample_pairs(300, 3, 30, seed=1)}
    assert min(lengths) == 3 and max(lengths) == 30


@pytest.mark.parametrize(
    "sentence, message",
    [
        ("", "empty"),
        ("the dog flies", "unknown word"),
        ("dog runs", "expected 'the' or 'a'"),
        ("the dog sees", "expected 'the' or 'a'"),
        ("the big dog", "expected a verb"),
        ("the dog runs a cat", "unexpected"),
        ("and the dog runs", "'and' must join"),
        ("the big red old dog runs", "at most 2 adjectives"),
    ],
)
def test_ungrammatical_sentences_get_a_clear_error(sentence, message):
    with pytest.raises(GrammarError, match=message):
        parse(sentence)


@given(length=st.integers(3, 70), seed=st.integers(0, 10_000))
@settings(max_examples=60, deadline=None)
def test_even_clause_counts_give_the_exact_length_and_a_possible_count(length, seed):
    clauses = sample_clauses(length, random.Random(seed), clause_counts="even")
    words = " and ".join(" ".join(c.source()) for c in clauses).split()
    assert len(words) == length and len(clauses) in possible_clause_counts(length)
    assert translate(words) != []


def test_possible_clause_counts_by_hand():
    assert list(possible_clause_counts(3)) == [1]  # "the dog runs"
    assert list(possible_clause_counts(10)) == [1, 2]  # one long clause, or 3 + "and" + 6
    assert list(possible_clause_counts(11)) == [2, 3]  # 11 words cannot be one clause of at most 10
    assert list(possible_clause_counts(30)) == [3, 4, 5, 6, 7]


def test_even_clause_counts_cover_what_natural_sampling_rarely_gives():
    """Natural sampling gives about one clause per 7.5 words; "even" makes every possible count about as common."""
    rng = random.Random(0)
    natural = [len(sample_clauses(30, rng)) for _ in range(600)]
    even = [len(sample_clauses(30, rng, "even")) for _ in range(600)]
    assert natural.count(7) <= 3 and 90 <= even.count(7) <= 150
    assert sample_pairs(5, 20, 30, seed=1, clause_counts="even") != sample_pairs(5, 20, 30, seed=1)


def test_bad_lengths_and_orders_are_errors():
    with pytest.raises(GrammarError, match="shortest sentence"):
        sample_source(2, random.Random(0))
    with pytest.raises(GrammarError, match="min_length"):
        sample_pairs(3, 10, 5, seed=0)
    with pytest.raises(ValueError, match="order must be"):
        translate("the dog runs", order="backwards")
    with pytest.raises(ValueError, match="n must be"):
        sample_pairs(0, 3, 5, seed=0)
    with pytest.raises(ValueError, match="clause_counts must be one of"):
        sample_clauses(10, random.Random(0), clause_counts="many")
    with pytest.raises(ValueError, match="clause_counts must be one of"):
        SyntheticTranslation(clause_counts="many")


# --- vocabularies and batches -------------------------------------------------------------------------------------
def test_vocab_specials_encode_decode_roundtrip():
    vocab = source_vocab()
    assert vocab.itos[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    words = "the dog often sees a cat".split()
    ids = vocab.encode(words)
    assert ids[-1] == Vocab.EOS and vocab.decode(ids) == words
    assert vocab.decode([Vocab.BOS, *ids, Vocab.PAD, 7]) == words  # stops at <eos>, drops <bos>
    assert all(w in target_vocab() for p in sample_pairs(50, 3, 40, seed=0) for w in p.target)


def test_vocab_errors():
    vocab = source_vocab()
    with pytest.raises(KeyError, match="unknown word.*'elephant'.*unknown='unk'"):
        vocab.encode(["the", "elephant", "runs"])
    assert vocab.encode(["the", "elephant"], unknown="unk")[1] == Vocab.UNK
    with pytest.raises(ValueError, match="empty sentence"):
        vocab.encode([])
    with pytest.raises(TypeError, match="list of words"):
        vocab.encode("the dog runs")
    with pytest.raises(IndexError, match="outside this vocabulary"):
        vocab.decode([999])
    with pytest.raises(ValueError, match="non-empty strings"):
        Vocab(["ok", ""])


def test_vocab_build_orders_by_frequency_and_filters_rare_words():
    vocab = Vocab.build([["b", "a", "b"], ["c", "b", "a"]], min_count=2)
    assert vocab.itos[4:] == ["b", "a"]


def test_batch_shapes_masks_and_shift():
    pairs = sample_pairs(5, 3, 12, seed=3)
    batch = make_batch(pairs, source_vocab(), target_vocab())
    longest = max(len(p.source) for p in pairs) + 1
    assert batch.src.shape == (5, longest) and batch.src_mask.shape == (5, longest)
    assert batch.src_lengths.tolist() == [len(p.source) + 1 for p in pairs]
    assert batch.src_mask.sum(1).tolist() == batch.src_lengths.tolist()
    assert (batch.src[~batch.src_mask] == Vocab.PAD).all()
    assert (batch.tgt_in[:, 0] == Vocab.BOS).all()
    for i, pair in enumerate(pairs):
        n = len(pair.target)
        assert batch.tgt_out[i, n] == Vocab.EOS
        assert torch.equal(batch.tgt_in[i, 1 : n + 1], batch.tgt_out[i, :n])
        assert int(batch.tgt_mask[i].sum()) == n + 1


def test_reversed_source_keeps_eos_last():
    pair = sample_pairs(1, 5, 5, seed=0)
    forward = make_batch(pair, source_vocab(), target_vocab())
    backward = make_batch(pair, source_vocab(), target_vocab(), reverse_source=True)
    assert torch.equal(backward.src[0, :5], forward.src[0, :5].flip(0))
    assert backward.src[0, 5] == Vocab.EOS


def test_task_batches_are_seeded_and_windowed():
    task = SyntheticTranslation(3, 30)
    draw = task.batches(32)
    a, b = draw(torch.Generator().manual_seed(1)), draw(torch.Generator().manual_seed(1))
    assert torch.equal(a.src, b.src)
    lengths = a.src_lengths - 1
    assert int(lengths.max() - lengths.min()) <= 4
    whole = task.batches(200, window=None)(torch.Generator().manual_seed(0)).src_lengths - 1
    assert int(whole.max() - whole.min()) > 10
    with pytest.raises(ValueError, match="batch_size"):
        task.batches(0)
    with pytest.raises(GrammarError):
        SyntheticTranslation(5, 4)


# --- the tab-separated corpus loader ------------------------------------------------------------------------------
def write(tmp_path, text, name="fra.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_normalize_splits_punctuation_and_lowercases():
    assert normalize("Hello,  World! It\u2019s  FINE.") == "hello , world ! it's fine ."


def test_loader_reads_pairs_with_and_without_attribution(tmp_path):
    path = write(tmp_path, "Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org\nI am cold.\tJ'ai froid.\n\n")
    corpus = load_parallel(path)
    assert [p.source for p in corpus.pairs] == [["go", "."], ["i", "am", "cold", "."]]
    assert corpus.pairs[1].target == ["j'ai", "froid", "."]
    assert corpus.lines == 3 and corpus.skipped == {"blank": 1}
    swapped = load_parallel(path, swap=True)
    assert swapped.pairs[0].source == ["va", "!"]


def test_loader_filters_are_counted(tmp_path):
    path = write(tmp_path, "I am here.\tJe suis ici.\nYou are very very very tall.\tTu es grand.\nHe runs.\tIl court.\n")
    corpus = load_parallel(path, max_length=5, prefixes=["I am", "he "])
    assert [" ".join(p.source) for p in corpus.pairs] == ["i am here .", "he runs ."]
    assert corpus.skipped == {"too long": 1}
    corpus = load_parallel(path, prefixes=["i am"])
    assert corpus.skipped == {"prefix": 2}


@pytest.mark.parametrize(
    "line, problem",
    [("no tab here", "no tab"), ("a\tb\tc\td", "4 tab-separated columns"), ("   \tVa !", "empty source or target")],
)
def test_malformed_lines_raise_with_file_and_line(tmp_path, line, problem):
    path = write(tmp_path, f"Go.\tVa !\n{line}\n")
    with pytest.raises(CorpusError, match=rf"fra.txt:2: line .*{problem}"):
        load_parallel(path)
    corpus = load_parallel(path, on_error="skip")
    assert len(corpus.pairs) == 1 and corpus.skipped == {"malformed": 1}


def test_loader_file_errors(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        load_parallel(tmp_path / "missing.txt")
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Go.\tVa !\nCaf\xe9\tcaf\xe9\n".encode("latin-1"))
    with pytest.raises(CorpusError, match="latin1.txt:2: line is not valid UTF-8"):
        load_parallel(bad)
    with pytest.raises(ValueError, match="on_error"):
        load_parallel(bad, on_error="ignore")


def test_split_is_seeded_and_complete():
    pairs = sample_pairs(50, 3, 8, seed=0)
    split = split_pairs(pairs, valid=0.1, test=0.2, seed=3)
    assert (len(split.train), len(split.valid), len(split.test)) == (35, 5, 10)
    assert sorted(map(str, split.train + split.valid + split.test)) == sorted(map(str, pairs))
    assert split_pairs(pairs, seed=3) == split_pairs(pairs, seed=3)
    with pytest.raises(ValueError, match="fractions"):
        split_pairs(pairs, valid=0.6, test=0.5)
    with pytest.raises(ValueError, match="at least 3"):
        split_pairs(pairs[:2])
