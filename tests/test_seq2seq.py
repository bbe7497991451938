"""Tests for the encoder-decoder models: shapes, masks, decoding, errors, and a small learning test."""
from __future__ import annotations

import pytest
import torch

from attnmem.seq2seq import (
    ATTENTIONS,
    Encoder,
    LuongDecoder,
    bahdanau_init,
    beam_search,
    build_model,
    evaluate_pairs,
    greedy_batch,
    greedy_decode,
    score_translations,
    sequence_loss,
    translate_sentence,
)
from attnmem.tasks.translation import SyntheticTranslation, make_batch, sample_pairs, source_vocab, target_vocab
from attnmem.training import fit
from attnmem.training.translation import main

SMALL = {"src_vocab": len(source_vocab()), "tgt_vocab": len(target_vocab()), "embed": 8, "hidden": 8}


def model_for(attention: str, seed: int = 0, **extra):
    torch.manual_seed(seed)
    return build_model({**SMALL, "attention": attention, **extra}).eval()


def small_batch(n: int = 4, seed: int = 0):
    return make_batch(sample_pairs(n, 3, 9, seed), source_vocab(), target_vocab())


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_teacher_forced_shapes_and_alignments_are_distributions_with_zero_padding(attention):
    model, batch = model_for(attention), small_batch()
    out = model(batch.src, batch.src_lengths, batch.tgt_in)
    assert out.logits.shape == (*batch.tgt_in.shape, SMALL["tgt_vocab"])
    if attention == "none":
        assert out.alignments is None
        return
    weights = out.alignments
    assert weights.shape == (*batch.tgt_in.shape, batch.src.shape[1])
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(batch.tgt_in.shape))
    padded = ~batch.src_mask.unsqueeze(1).expand_as(weights)
    assert padded.any() and (weights[padded] == 0).all()


def test_encoder_ignores_padding_and_is_bidirectional():
    torch.manual_seed(0)
    encoder = Encoder(len(source_vocab()), 8, 6, bidirectional=True).eval()
    ids = torch.tensor([source_vocab().encode("the dog runs".split())])
    alone = encoder(ids, torch.tensor([4]))
    padded = encoder(torch.cat([ids, torch.zeros(1, 3, dtype=torch.long)], 1), torch.tensor([4]))
    torch.testing.assert_close(padded.outputs[:, :4], alone.outputs)
    torch.testing.assert_close(padded.final, alone.final)
    assert (padded.outputs[:, 4:] == 0).all() and alone.outputs.shape == (1, 4, 12)
    assert padded.mask.tolist() == [[True] * 4 + [False] * 3]


def test_precomputed_keys_give_bahdanau_eq_6_exactly():
    """``prepare`` computes U h_j once; a step then scores v · tanh(W s + U h_j) as the AdditiveScore module does."""
    from attnmem.attention import attend

    model, batch = model_for("bahdanau", seed=2), small_batch()
    encoded = model.encode(batch.src, batch.src_lengths)
    assert encoded.keys is not None and encoded.keys.shape[:2] == batch.src.shape
    state = model.decoder.start(encoded)
    step = model.decoder.step(batch.tgt_in[:, 0], state, encoded)
    direct = attend(state[0].unsqueeze(1), encoded.outputs, encoded.outputs, encoded.mask.unsqueeze(1),
                    score=model.decoder.score)
    torch.testing.assert_close(step.weights, direct.weights.squeeze(1))
    unprepared = model.decoder.step(batch.tgt_in[:, 0], state, encoded._replace(keys=None))
    torch.testing.assert_close(unprepared.logits, step.logits)


def test_dropout_acts_only_in_training_and_keeps_the_parameter_layout():
    plain, dropped = model_for("bahdanau", seed=0), model_for("bahdanau", seed=0, dropout=0.3)
    assert plain.state_dict().keys() == dropped.state_dict().keys()
    batch = small_batch()
    inputs = (batch.src, batch.src_lengths, batch.tgt_in)
    torch.testing.assert_close(dropped(*inputs).logits, plain(*inputs).logits)  # eval mode: no dropout
    dropped.train()
    assert not torch.allclose(dropped(*inputs).logits, plain(*inputs).logits)
    with pytest.raises(ValueError, match="dropout must be a probability"):
        build_model({**SMALL, "attention": "none", "dropout": 1.5})


def test_bahdanau_init_follows_their_appendix_and_keeps_the_layout():
    default, model = model_for("bahdanau"), model_for("bahdanau", init="bahdanau")
    assert default.state_dict().keys() == model.state_dict().keys()
    hidden = SMALL["hidden"]
    for weight in (model.encoder.rnn.weight_hh_l0, model.encoder.rnn.weight_hh_l0_reverse, model.decoder.cell.weight_hh):
        for block in weight.detach().chunk(3):  # one orthogonal matrix per gate
            torch.testing.assert_close(block @ block.T, torch.eye(len(block)), atol=1e-5, rtol=0)
    assert model.decoder.cell.weight_hh.shape == (3 * 2 * hidden, 2 * hidden)
    assert not model.decoder.score.v.any() and float(model.decoder.score.w_key.detach().std()) < 0.003
    assert 0.005 < float(model.encoder.embedding.weight.detach().std()) < 0.02 and not model.decoder.out.bias.any()
    batch = small_batch()
    weights = model(batch.src, batch.src_lengths, batch.tgt_in).alignments  # v_a = 0: attention starts uniform
    uniform = batch.src_mask / batch.src_lengths.unsqueeze(1)
    torch.testing.assert_close(weights, uniform.unsqueeze(1).expand_as(weights))
    plain = build_model({**SMALL, "attention": "none", "init": "bahdanau"})  # no attention: the rest still applies
    assert not plain.decoder.cell.bias_hh.any() and not plain.encoder.rnn.bias_ih_l0.any()
    bahdanau_init(default)  # also works on a model already built
    assert not default.decoder.score.v.any()
    with pytest.raises(ValueError, match="init must be one of"):
        build_model({**SMALL, "attention": "bahdanau", "init": "xavier"})


def test_location_decoder_starts_as_bahdanau_and_tracks_where_it_looked():
    """Chorowski et al. (2015): with the location map at zero the scores are Bahdanau's; the state carries the last
    and the cumulative weights, and padding changes nothing."""
    location, bahdanau = model_for("location", seed=1), model_for("bahdanau", seed=1)
    missing = location.load_state_dict(bahdanau.state_dict(), strict=False).missing_keys
    assert sorted(missing) == ["decoder.location.conv.weight", "decoder.location.project"]
    batch = small_batch(5, seed=3)
    ours = location(batch.src, batch.src_lengths, batch.tgt_in)
    theirs = bahdanau(batch.src, batch.src_lengths, batch.tgt_in)
    torch.testing.assert_close(ours.logits, theirs.logits)
    torch.testing.assert_close(ours.alignments, theirs.alignments)

    with torch.no_grad():
        location.decoder.location.project.normal_()  # now where it looked matters
    encoded = location.encode(batch.src, batch.src_lengths)
    state = location.decoder.start(encoded)
    assert state[1][:, 0].eq(1).all() and state[1].sum(-1).eq(1).all() and not state[2].any()
    rows = []
    for t in range(4):
        step = location.decoder.step(batch.tgt_in[:, t], state, encoded)
        rows.append(step.weights)
        state = step.state
        torch.testing.assert_close(state[1], step.weights)
        torch.testing.assert_close(state[2], torch.stack(rows).sum(0))
    assert not state[2][~batch.src_mask].any()
    pairs = sample_pairs(3, 4, 12, seed=2)  # padding does not change a sentence's translation
    together = make_batch(pairs, source_vocab(), target_vocab())
    alone = make_batch(pairs[:1], source_vocab(), target_vocab())
    steps = alone.tgt_in.shape[1]
    torch.testing.assert_close(location(together.src, together.src_lengths, together.tgt_in).logits[0, :steps],
                               location(alone.src, alone.src_lengths, alone.tgt_in).logits[0], atol=1e-5, rtol=1e-4)
    initialized = build_model({**SMALL, "attention": "location", "init": "bahdanau"})
    assert not initialized.decoder.location.project.any()  # the appendix does not touch the location filters
    assert float(initialized.decoder.location.conv.weight.detach().std()) > 0.05
    for width in (4, 0, 2.5):
        with pytest.raises(ValueError, match="positive odd int"):
            build_model({**SMALL, "attention": "location", "location_width": width})
    with pytest.raises(ValueError, match="location_filters must be a positive int"):
        build_model({**SMALL, "attention": "location", "location_filters": 0})


def test_padding_does_not_change_a_sentence_translation():
    model = model_for("bahdanau")
    pairs = sample_pairs(3, 4, 12, seed=2)
    together = model(*(lambda b: (b.src, b.src_lengths, b.tgt_in))(make_batch(pairs, source_vocab(), target_vocab())))
    alone = make_batch(pairs[:1], source_vocab(), target_vocab())
    single = model(alone.src, alone.src_lengths, alone.tgt_in)
    steps = alone.tgt_in.shape[1]
    torch.testing.assert_close(together.logits[0, :steps], single.logits[0], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_greedy_equals_beam_of_one(attention):
    model = model_for(attention, seed=3)
    src = torch.tensor(source_vocab().encode("the big cat often sees a small dog and the owl sleeps".split()))
    greedy = greedy_decode(model, src, max_length=20)
    beam = beam_search(model, src, beam_size=1, max_length=20)
    assert len(beam) == 1
    assert beam[0].ids == greedy.ids
    assert beam[0].log_prob == pytest.approx(greedy.log_prob, abs=1e-4)
    if attention != "none":
        torch.testing.assert_close(beam[0].alignment, greedy.alignment)
        assert greedy.alignment.shape[1] == src.numel()


def test_beam_results_are_ranked_and_beat_greedy():
    model = model_for("general", seed=1)
    src = torch.tensor(source_vocab().encode("a fox chases the old cow".split()))
    results = beam_search(model, src, beam_size=4, max_length=12)
    scores = [r.log_prob for r in results]
    assert scores == sorted(scores, reverse=True) and len(results) <= 4
    assert scores[0] >= greedy_decode(model, src, max_length=12).log_prob - 1e-5
    for r in results:
        if r.alignment is not None:
            assert r.alignment.shape == (len(r.ids) + 1, src.numel()) or len(r.ids) == 12


def test_greedy_batch_matches_single_sentence_decoding():
    model = model_for("bahdanau", seed=4)
    batch = small_batch(3, seed=5)
    ids, weights = greedy_batch(model, batch.src, batch.src_lengths, max_length=15)
    for i in range(3):
        single = greedy_decode(model, batch.src[i, : batch.src_lengths[i]], max_length=15)
        assert target_vocab().decode(ids[i].tolist()) == target_vocab().decode(single.ids)
        rows = single.alignment.shape[0]
        torch.testing.assert_close(weights[i, :rows, : batch.src_lengths[i]], single.alignment, atol=1e-5, rtol=1e-4)


def test_score_translations_by_hand():
    reference = "a b c d e".split()
    scores = score_translations([reference, ["a", "b", "c", "d", "x"]], [reference, reference])
    assert scores["exact_match"] == 0.5
    assert scores["token_accuracy"] == pytest.approx((1 + 4 / 5) / 2)
    short = score_translations([["a", "x"]], [["a", "b", "c"]])
    assert short["token_accuracy"] == pytest.approx(1 / 3) and short["exact_match"] == 0
    assert 0 < scores["bleu"] < 100
    with pytest.raises(ValueError, match="as many hypotheses"):
        score_translations([["a"]], [])


def test_bad_inputs_get_clear_errors():
    model = model_for("bahdanau")
    batch = small_batch()
    with pytest.raises(ValueError, match="src must be a .batch, positions. LongTensor"):
        model(batch.src.float(), batch.src_lengths, batch.tgt_in)
    with pytest.raises(ValueError, match="one length per sentence"):
        model(batch.src, batch.src_lengths[:2], batch.tgt_in)
    with pytest.raises(ValueError, match="between 1 and"):
        model(batch.src, batch.src_lengths + 50, batch.tgt_in)
    with pytest.raises(ValueError, match="tgt_in must be"):
        model(batch.src, batch.src_lengths, batch.tgt_in[:2])
    with pytest.raises(ValueError, match="one sentence at a time"):
        greedy_decode(model, batch.src)
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(model, batch.src[0], beam_size=0)
    with pytest.raises(ValueError, match="attention must be one of"):
        build_model({**SMALL, "attention": "magic"})
    with pytest.raises(KeyError, match="lacks"):
        build_model({"attention": "dot"})
    with pytest.raises(ValueError, match="dot scores need"):
        LuongDecoder(10, 4, 8, 16, score="dot")
    with pytest.raises(ValueError, match="Luong score"):
        LuongDecoder(10, 4, 8, 8, score="cosine")
    with pytest.raises(KeyError, match="unknown word"):
        translate_sentence(model, "the elephant runs", source_vocab(), target_vocab())
    with pytest.raises(ValueError, match="empty sentence"):
        translate_sentence(model, "   ", source_vocab(), target_vocab())


def test_training_is_deterministic_under_a_seed():
    task = SyntheticTranslation(3, 6)
    losses = []
    for _ in range(2):
        model = model_for("dot", seed=0)
        history = fit(model, sequence_loss, task.batches(8), steps=3, seed=7, progress=False)
        losses.append([r["loss"] for r in history.train])
    assert losses[0] == losses[1]


@pytest.mark.learning
def test_attention_model_learns_the_monotone_task_beyond_a_baseline():
    """A tiny Bahdanau model learns short word-by-word translations in seconds; untrained it gets nothing right."""
    task = SyntheticTranslation(3, 6, order="monotone")
    model = model_for("bahdanau", seed=0, embed=16, hidden=32)
    test = task.pairs(100, seed=123)
    before = evaluate_pairs(model, test, task.src_vocab, task.tgt_vocab)
    fit(model, sequence_loss, task.batches(32, window=None), steps=150, lr=0.01, seed=0, progress=False)
    after = evaluate_pairs(model, test, task.src_vocab, task.tgt_vocab)
    assert before["exact_match"] == 0.0
    assert after["token_accuracy"] > 0.9 and after["exact_match"] > 0.6, after


def test_command_line_trains_on_a_tab_separated_file(tmp_path, capsys):
    lines = [f"{' '.join(p.source)}\t{' '.join(p.target)}\tCC-BY" for p in sample_pairs(40, 3, 5, seed=0)]
    corpus = tmp_path / "toy.txt"
    corpus.write_text("\n".join(lines + ["a line without a tab"]) + "\n", encoding="utf-8")
    out = tmp_path / "toy.pt"
    code = main([str(corpus), "--out", str(out), "--steps", "5", "--hidden", "8", "--embed", "8", "--min-count", "1"])
    assert code == 0 and out.exists() and out.with_suffix(".json").exists()
    printed = capsys.readouterr().out
    assert "40 pairs from 41 lines; skipped: malformed 1" in printed and "exact_match" in printed
    assert main([str(tmp_path / "nope.txt"), "--out", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err



def test_alignment_explorer_views_and_errors():
    from attnmem.viz.translation import AlignmentExplorer

    model = model_for("bahdanau")
    explorer = AlignmentExplorer(model, source_vocab(), target_vocab(), ["the dog runs", "a cat sees the owl"],
                                 beam_sizes=(1, 3))
    spec = explorer.view_spec()
    assert spec["kind"] == "alignment" and len(spec["examples"]) == 4
    first = spec["examples"][0]
    assert first["name"].startswith("greedy: the dog runs") and first["cols"] == ["the", "dog", "runs", "<eos>"]
    assert len(first["weights"]) == len(first["rows"])
    assert all(abs(sum(row) - 1) < 0.01 for row in first["weights"])
    assert "the grammar says" in first["note"] or "correct" in first["note"]
    assert 'data-kind="alignment"' in explorer.to_html()
    assert explorer.to_png()[:4] == b"\x89PNG"
    with pytest.raises(KeyError, match="unknown word"):
        AlignmentExplorer(model, source_vocab(), target_vocab(), ["the unicorn runs"])
    with pytest.raises(ValueError, match="no attention"):
        AlignmentExplorer(model_for("none"), source_vocab(), target_vocab(), ["the dog runs"])
    with pytest.raises(ValueError, match="at least one sentence"):
        AlignmentExplorer(model, source_vocab(), target_vocab(), [])
    with pytest.raises(ValueError, match="beam_sizes"):
        AlignmentExplorer(model, source_vocab(), target_vocab(), ["the dog runs"], beam_sizes=(0,))
