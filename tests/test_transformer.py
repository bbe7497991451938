"""Tests for the chapter 10 Transformer: heads, masks, positions, decoding, the loss, errors, and learning."""
from __future__ import annotations

import math

import pytest
import torch

from attnmem.attention import attend
from attnmem.seq2seq import beam_search, evaluate_pairs, greedy_batch, greedy_decode
from attnmem.tasks.translation import (
    ADVERBS,
    ORDERS,
    SyntheticTranslation,
    alignment,
    parse,
    sample_pairs,
    source_vocab,
    target_vocab,
    translate,
)
from attnmem.training import fit
from attnmem.training.transformer import agreement_pairs, head_agreement, learning_rate, transformer_loss
from attnmem.transformer import (
    MultiHeadAttention,
    Positions,
    build_transformer,
    causal_mask,
    label_smoothed_loss,
    padding_mask,
    scaled_dot_product_attention,
    sinusoidal_encoding,
)

SMALL = {"src_vocab": len(source_vocab()), "tgt_vocab": len(target_vocab()), "d_model": 16, "heads": 4, "d_ff": 32,
         "layers": 2, "dropout": 0.0}


def small_model(seed: int = 0, **extra):
    torch.manual_seed(seed)
    return build_transformer({**SMALL, **extra}).eval()


def test_scaled_dot_product_attention_agrees_with_torch():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)
    mask = torch.rand(2, 1, 5, 7) > 0.3
    mask[..., 0] = True
    ours = scaled_dot_product_attention(q, k, v, mask).context
    theirs = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(ours, theirs)


def test_heads_agree_with_a_loop_over_single_heads():
    torch.manual_seed(0)
    attention = MultiHeadAttention(12, 3)
    x, memory = torch.randn(2, 4, 12), torch.randn(2, 6, 12)
    mask = padding_mask(torch.tensor([6, 3]), 6)
    out, weights = attention(x, memory, mask)
    heads, width = 3, 4
    contexts = []
    for h in range(heads):
        rows = slice(h * width, (h + 1) * width)
        q = x @ attention.w_q.weight[rows].T + attention.w_q.bias[rows]
        k = memory @ attention.w_k.weight[rows].T + attention.w_k.bias[rows]
        v = memory @ attention.w_v.weight[rows].T + attention.w_v.bias[rows]
        single = attend(q, k, v, mask[:, 0], score=lambda a, b: a @ b.transpose(-1, -2) / math.sqrt(width))
        torch.testing.assert_close(single.weights, weights[:, h])
        contexts.append(single.context)
    torch.testing.assert_close(attention.w_o(torch.cat(contexts, -1)), out)


def test_heads_agree_with_torch_multihead_attention():
    torch.manual_seed(0)
    ours = MultiHeadAttention(8, 2)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([ours.w_q.weight, ours.w_k.weight, ours.w_v.weight]))
        theirs.in_proj_bias.copy_(torch.cat([ours.w_q.bias, ours.w_k.bias, ours.w_v.bias]))
        theirs.out_proj.weight.copy_(ours.w_o.weight)
        theirs.out_proj.bias.copy_(ours.w_o.bias)
    x = torch.randn(3, 5, 8)
    out, weights = ours(x, x)
    expected, expected_weights = theirs(x, x, x, average_attn_weights=False)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(weights, expected_weights)


def test_a_padded_source_position_gets_zero_weight():
    model = small_model()
    batch = SyntheticTranslation().batch(sample_pairs(4, 3, 12, seed=1))
    with torch.no_grad():
        maps = model(batch.src, batch.src_lengths, batch.tgt_in).attention
    padded = ~batch.src_mask
    assert padded.any()
    for weights in maps.encoder + maps.cross:
        assert float(weights.masked_select(padded[:, None, None, :].expand_as(weights)).abs().max()) == 0.0
        torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))


def test_padding_does_not_change_a_sentence_translation():
    model = small_model()
    pairs = sample_pairs(3, 4, 15, seed=2)
    task = SyntheticTranslation()
    together = model(*task.batch(pairs)[:2], task.batch(pairs).tgt_in).logits
    for i, pair in enumerate(pairs):
        alone = task.batch([pair])
        logits = model(alone.src, alone.src_lengths, alone.tgt_in).logits
        torch.testing.assert_close(logits[0], together[i, : logits.shape[1]], atol=1e-5, rtol=1e-5)


def test_the_decoder_never_sees_the_future():
    model = small_model()
    batch = SyntheticTranslation().batch(sample_pairs(2, 6, 10, seed=3))
    logits = model(batch.src, batch.src_lengths, batch.tgt_in).logits
    changed = batch.tgt_in.clone()
    changed[:, 5:] = (changed[:, 5:] + 7) % len(target_vocab())
    with torch.no_grad():
        after = model(batch.src, batch.src_lengths, changed)
    torch.testing.assert_close(after.logits[:, :5], logits[:, :5])
    assert not torch.allclose(after.logits[:, 5:], logits[:, 5:])
    for weights in after.attention.decoder:
        assert float(weights.triu(1).abs().max()) == 0.0


def test_causal_mask_is_lower_triangular():
    mask = causal_mask(4)
    assert mask.dtype == torch.bool
    assert mask.tolist() == [[i <= j for i in range(4)] for j in range(4)]


def test_sinusoidal_encoding_matches_the_paper_formula():
    d_model, table = 10, sinusoidal_encoding(50, 10)
    for pos in (0, 1, 7, 49):
        for i in range(d_model // 2):
            angle = pos / 10000 ** (2 * i / d_model)
            assert table[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-5)
            assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-5)


def test_positions_none_makes_the_encoder_a_bag_of_words():
    model = small_model(positions="none")
    src = torch.tensor([[4, 5, 6, 7, 2]])
    shuffled = torch.tensor([[6, 4, 7, 5, 2]])
    a = model.encode(src, torch.tensor([5])).outputs
    b = model.encode(shuffled, torch.tensor([5])).outputs
    torch.testing.assert_close(a[0, [2, 0, 3, 1, 4]], b[0])
    with_positions = small_model(positions="sinusoidal")
    a = with_positions.encode(src, torch.tensor([5])).outputs
    b = with_positions.encode(shuffled, torch.tensor([5])).outputs
    assert not torch.allclose(a[0, [2, 0, 3, 1, 4]], b[0])


def test_learned_positions_refuse_sequences_past_their_table():
    with pytest.raises(ValueError, match="longer than the 8"):
        Positions("learned", 4, 8)(torch.zeros(1, 9, 4))


def test_step_decoding_equals_teacher_forcing():
    model = small_model()
    src = torch.tensor(source_vocab().encode("the big dog often sees a cat".split()))
    result = greedy_decode(model, src, max_length=12)
    tgt_in = torch.tensor([[1] + result.ids[:11]])
    maps = model(src.unsqueeze(0), torch.tensor([src.numel()]), tgt_in).attention
    rows = len(result.alignment)
    torch.testing.assert_close(result.alignment, maps.alignment[0, :rows], atol=1e-5, rtol=1e-5)


def test_beam_of_width_one_equals_greedy():
    model = small_model(seed=4)
    for pair in sample_pairs(4, 3, 12, seed=5):
        src = torch.tensor(source_vocab().encode(pair.source))
        greedy = greedy_decode(model, src, max_length=20)
        beam = beam_search(model, src, beam_size=1, max_length=20)[0]
        assert beam.ids == greedy.ids
        assert beam.log_prob == pytest.approx(greedy.log_prob, abs=1e-4)


def test_batched_greedy_equals_one_at_a_time():
    model = small_model(seed=6)
    task = SyntheticTranslation()
    pairs = sample_pairs(5, 3, 14, seed=7)
    batch = task.batch(pairs)
    ids, _ = greedy_batch(model, batch.src, batch.src_lengths, 20)
    for i, pair in enumerate(pairs):
        alone = greedy_decode(model, torch.tensor(source_vocab().encode(pair.source)), 20)
        assert target_vocab().decode(ids[i]) == target_vocab().decode(alone.ids)


def test_label_smoothing_agrees_with_torch():
    torch.manual_seed(0)
    logits, targets = torch.randn(3, 5, 11), torch.randint(1, 11, (3, 5))
    targets[0, 3:] = 0
    ours = label_smoothed_loss(logits, targets, 0.1, ignore_index=0)
    theirs = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=0,
                                               label_smoothing=0.1)
    torch.testing.assert_close(ours, theirs)


def test_learning_rate_warms_up_then_decays():
    rates = [learning_rate(s, 1e-3, 10, 100) for s in range(100)]
    assert rates[0] == pytest.approx(1e-4) and rates[9] == pytest.approx(1e-3)
    assert learning_rate(100, 1e-3, 10, 100) == pytest.approx(1e-4) and all(a >= b for a, b in zip(rates[9:], rates[10:]))


@pytest.mark.parametrize("order", ORDERS)
def test_alignment_points_each_target_word_at_its_source_word(order):
    assert alignment("the big dog often sees a cat") == [2, 1, 0, 6, 5, 3, 3, 4]
    adverbs = {w for phrase in ADVERBS.values() for w in phrase}
    for pair in sample_pairs(50, 3, 30, seed=8, order=order):
        aligned = alignment(pair.source, order)
        assert len(aligned) == len(pair.target) == len(translate(pair.source, order))
        for word, j in zip(pair.target, aligned):
            if word in adverbs:
                assert pair.source[j] in ADVERBS


def test_agreement_pairs_point_each_verb_at_its_subject_noun():
    sentence = "the big dog often sees a cat and the fox runs"
    pairs = agreement_pairs(sentence)
    target = translate(sentence)
    assert [(target[t], sentence.split()[j]) for t, j in pairs] == [("vido", "dog"), ("kura", "fox")]
    assert len(agreement_pairs("a cat sleeps and a dog runs and the owl sees the frog")) == len(parse(
        "a cat sleeps and a dog runs and the owl sees the frog"))


def test_head_agreement_counts_argmax_hits():
    weights = torch.zeros(1, 2, 3, 4)
    weights[0, 0, [0, 1, 2], [1, 2, 3]] = 1.0  # head 0 looks at the gold word each time
    weights[0, 1, :, 0] = 1.0  # head 1 always at the first word
    gold = torch.tensor([[1, 2, 3]])
    mask = torch.tensor([[True, True, True]])
    assert head_agreement(weights, gold, mask).tolist() == pytest.approx([1.0, 0.0])


@pytest.mark.parametrize("config, message", [
    ({"d_model": 10, "heads": 4}, "multiple of heads"),
    ({"positions": "rotary"}, "positions"),
    ({"norm": "middle"}, "norm"),
    ({"layers": 0}, "positive int"),
    ({"dropout": 1.5}, "probability"),
])
def test_bad_configs_are_clear_errors(config, message):
    with pytest.raises(ValueError, match=message):
        build_transformer({**SMALL, **config})


def test_missing_vocab_sizes_and_bad_inputs_are_clear_errors():
    with pytest.raises(KeyError, match="vocabulary sizes"):
        build_transformer({"d_model": 16})
    model = small_model()
    with pytest.raises(ValueError, match="tgt_in must be"):
        model(torch.tensor([[4, 2]]), torch.tensor([2]), torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="src must be"):
        model(torch.tensor([4.0, 2.0]), torch.tensor([2]), torch.tensor([[1]]))


def test_learns_short_sentences_in_seconds():
    task = SyntheticTranslation(3, 6)
    torch.manual_seed(0)
    model = build_transformer({**SMALL, "d_model": 32, "d_ff": 64})
    before = evaluate_pairs(model, sample_pairs(100, 3, 6, seed=9), task.src_vocab, task.tgt_vocab)["exact_match"]
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3, betas=(0.9, 0.98))
    fit(model, transformer_loss, task.batches(32), steps=250, optimizer=optimizer, seed=0, progress=False)
    after = evaluate_pairs(model, sample_pairs(100, 3, 6, seed=9), task.src_vocab, task.tgt_vocab)["exact_match"]
    assert before == 0.0
    assert after >= 0.8


def test_head_explorer_renders_every_layer_and_head_with_the_gold_alignment():
    from attnmem import zoo
    from attnmem.viz.transformer import HeadExplorer, read_heads

    model = zoo.load("transformer")
    sentence = "the big dog often sees a cat"
    heads = read_heads(model, sentence, source_vocab(), target_vocab())
    assert heads.target[:-1] == translate(sentence) and heads.gold == alignment(sentence) + [7]
    assert heads.agreement.shape == (2, 4) and 0.0 <= float(heads.agreement.min()) <= float(heads.agreement.max()) <= 1
    spec = HeadExplorer(model, source_vocab(), target_vocab(), [sentence]).view_spec()
    assert len(spec["examples"]) == 2 * 5 + 2 * 4
    assert all(len(e["weights"]) == len(e["rows"]) for e in spec["examples"])
    assert "gold: 'dog'" in spec["examples"][0]["row_notes"][0]
    cross, encoder = spec["examples"][0], spec["examples"][-1]
    assert cross["gold"] == [[g] for g in alignment(sentence) + [7]] and "gold" not in encoder


def test_the_gold_alignment_is_outlined_in_the_grid_and_checked():
    from attnmem.viz import alignment_example, alignment_view, static_html

    example = alignment_example("x", ["a", "b", "c"], ["d", "e"], torch.full((3, 2), 0.5), gold=[1, None, [0, 1]])
    assert example["gold"] == [[1], [], [0, 1]]
    page = static_html(alignment_view([example]))
    assert '"gold":[[1],[],[0,1]]' in page and "am-gold" in page
    with pytest.raises(ValueError, match="gold alignment for 2 rows, but there are 3 rows"):
        alignment_example("x", ["a", "b", "c"], ["d", "e"], torch.rand(3, 2), gold=[0, 1])
    with pytest.raises(ValueError, match=r"gold columns \[2\] are outside the 2 columns"):
        alignment_example("x", ["a", "b", "c"], ["d", "e"], torch.rand(3, 2), gold=[0, 1, 2])


def test_head_explorer_errors_are_clear():
    from attnmem.viz.transformer import HeadExplorer

    with pytest.raises(ValueError, match="at least one sentence"):
        HeadExplorer(small_model(), source_vocab(), target_vocab(), [])
    with pytest.raises(KeyError, match="unknown word"):
        HeadExplorer(small_model(), source_vocab(), target_vocab(), ["the dragon sleeps"])
    with pytest.raises(TypeError, match="AlignmentExplorer"):
        HeadExplorer(torch.nn.Linear(2, 2), source_vocab(), target_vocab(), ["the dog runs"])
