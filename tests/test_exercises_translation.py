"""The checkers of chapters 2–4: right answers pass, stubs wait, and each kind of slip gets its own hint."""

from __future__ import annotations

import math

import pytest
import torch
from checker_testing import failed, passes_and_stubs_are_not_written

from attnmem import attention
from attnmem.exercises import check


def token_accuracy(logits, tgt_out, tgt_mask):
    right = (logits.argmax(-1) == tgt_out) & tgt_mask
    return right.sum() / tgt_mask.sum().clamp_min(1)


def reverse_source(src, src_lengths):
    out = src.clone()
    for row, length in enumerate(src_lengths.tolist()):
        out[row, : length - 1] = src[row, : length - 1].flip(0)
    return out


def bahdanau(state, annotations, mask, w_query, w_key, v):
    scores = torch.tanh((state @ w_query).unsqueeze(1) + annotations @ w_key) @ v
    weights = attention.masked_softmax(scores, mask)
    return (weights.unsqueeze(1) @ annotations).squeeze(1), weights


def row_entropy(alignment):
    return -(alignment * alignment.clamp_min(1e-12).log()).sum(-1)


def position(states, lengths, w_p, v_p):
    return lengths.unsqueeze(-1) * torch.sigmoid(torch.tanh(states @ w_p) @ v_p)


def local(scores, p, D):
    distance = torch.arange(scores.shape[-1]).float() - p.unsqueeze(-1)
    weights = attention.masked_softmax(scores, distance.abs() <= D)
    return weights * torch.exp(-(distance**2) / (2 * (D / 2) ** 2))


def location_terms(last, total, filters, project):
    features = torch.nn.functional.conv1d(torch.stack([last, total], 1), filters, padding=filters.shape[-1] // 2)
    return features.transpose(1, 2) @ project


ANSWERS = {
    "ex-02-token-accuracy": token_accuracy,
    "ex-02-reverse": reverse_source,
    "ex-03-step": bahdanau,
    "ex-03-entropy": row_entropy,
    "ex-03-location-terms": location_terms,
    "ex-04-position": position,
    "ex-04-local": local,
}


@pytest.mark.parametrize("label", ANSWERS)
def test_right_answers_pass_and_stubs_are_not_written(label):
    passes_and_stubs_are_not_written(label, ANSWERS[label])


def test_token_accuracy_explains_padding_the_denominator_and_the_pooling():
    def with_padding(logits, tgt_out, tgt_mask):
        return (logits.argmax(-1) == tgt_out).float().mean()

    def all_positions(logits, tgt_out, tgt_mask):
        return ((logits.argmax(-1) == tgt_out) & tgt_mask).sum() / tgt_mask.numel()

    def per_sentence(logits, tgt_out, tgt_mask):
        right = (logits.argmax(-1) == tgt_out) & tgt_mask
        return (right.sum(1) / tgt_mask.sum(1).clamp_min(1)).mean()

    def unguarded(logits, tgt_out, tgt_mask):
        return ((logits.argmax(-1) == tgt_out) & tgt_mask).sum() / tgt_mask.sum()

    failed(check("ex-02-token-accuracy", with_padding), "tgt_mask is True")
    failed(check("ex-02-token-accuracy", all_positions), "not by all positions")
    failed(check("ex-02-token-accuracy", per_sentence), "per-sentence accuracies")
    failed(check("ex-02-token-accuracy", unguarded), "divide by at least 1")
    failed(
        check("ex-02-token-accuracy", lambda lo, t, m: ((lo.argmax(-1) == t) & m).float()),
        "one entry per position",
    )
    as_float = check("ex-02-token-accuracy", lambda *a: float(token_accuracy(*a)))
    assert as_float.passed, "a Python float is a fine answer too"


def test_reverse_explains_the_padding_and_eos():
    def whole_rows(src, src_lengths):
        return src.flip(-1)

    def with_eos(src, src_lengths):
        out = src.clone()
        for row, length in enumerate(src_lengths.tolist()):
            out[row, :length] = src[row, :length].flip(0)
        return out

    failed(check("ex-02-reverse", whole_rows), "padding now comes first")
    failed(check("ex-02-reverse", with_eos), "<eos> moved to the front")
    failed(check("ex-02-reverse", lambda src, lengths: src.clone()), "nothing changed")
    failed(check("ex-02-reverse", lambda src, lengths: reverse_source(src, lengths).float()), "torch.long")
    failed(check("ex-02-reverse", lambda src, lengths: reverse_source(src, lengths).T), "shape")


def test_a_bahdanau_step_explains_masks_shapes_and_gradients():
    def unmasked(state, annotations, mask, w_query, w_key, v):
        return bahdanau(state, annotations, torch.ones_like(mask), w_query, w_key, v)

    def not_renormalised(state, annotations, mask, w_query, w_key, v):
        scores = torch.tanh((state @ w_query).unsqueeze(1) + annotations @ w_key) @ v
        weights = torch.softmax(scores, -1) * mask
        return (weights.unsqueeze(1) @ annotations).squeeze(1), weights

    def no_tanh(state, annotations, mask, w_query, w_key, v):
        scores = ((state @ w_query).unsqueeze(1) + annotations @ w_key) @ v
        weights = attention.masked_softmax(scores, mask)
        return (weights.unsqueeze(1) @ annotations).squeeze(1), weights

    def unsqueezed(*args):
        context, weights = bahdanau(*args)
        return context.unsqueeze(1), weights

    failed(check("ex-03-step", unmasked), "padded position (1, 4)", "before the softmax")
    failed(check("ex-03-step", not_renormalised), "must sum to 1", "after masking")
    failed(check("ex-03-step", no_tanh), "without the tanh")
    failed(check("ex-03-step", unsqueezed), "your context have shape (3, 1, 6)", "drop the query dimension")
    failed(check("ex-03-step", lambda *a: bahdanau(*a)[1]), "should return two tensors")
    failed(check("ex-03-step", lambda *a: tuple(t.detach() for t in bahdanau(*a))), "no gradient flows back")


def test_the_step_checker_leaves_the_global_random_state_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    assert check("ex-03-step", bahdanau).passed
    torch.testing.assert_close(torch.rand(3), expected)


def test_entropy_explains_zero_weights_units_sign_and_shape():
    def unsafe(alignment):
        return -(alignment * alignment.log()).sum(-1)

    failed(check("ex-03-entropy", unsafe), "hold nan", "0 · log 0")
    failed(check("ex-03-entropy", lambda a: -row_entropy(a)), "never negative")
    failed(check("ex-03-entropy", lambda a: row_entropy(a) / math.log(2)), "in bits")
    failed(check("ex-03-entropy", lambda a: row_entropy(a).mean()), "one number for the whole alignment")
    failed(check("ex-03-entropy", lambda a: -(a * a.clamp_min(1e-12).log()).sum(-2)), "per source column")


def test_location_terms_explain_flipping_channels_padding_and_gradients():
    def flipped(last, total, filters, project):
        return location_terms(last, total, filters.flip(-1), project)

    def unpadded(last, total, filters, project):
        return torch.nn.functional.conv1d(torch.stack([last, total], 1), filters).transpose(1, 2) @ project

    failed(check("ex-03-location-terms", flipped), "without flipping")
    failed(check("ex-03-location-terms", lambda l, t, f, p: location_terms(t, l, f, p)), "channels swapped")
    failed(check("ex-03-location-terms", unpadded), "have shape (3, 3, 6)", "padding=width // 2")
    failed(check("ex-03-location-terms", lambda *a: location_terms(*a).transpose(1, 2)), "have shape (3, 6, 7)")
    failed(check("ex-03-location-terms", lambda *a: location_terms(*a).detach()), "no gradient flows back")


def test_position_explains_lengths_the_tanh_and_the_range():
    def longest(states, lengths, w_p, v_p):
        return lengths.max() * torch.sigmoid(torch.tanh(states @ w_p) @ v_p)

    def no_tanh(states, lengths, w_p, v_p):
        return lengths.unsqueeze(-1) * torch.sigmoid(states @ w_p @ v_p)

    def minus_one(states, lengths, w_p, v_p):
        return (lengths.unsqueeze(-1) - 1) * torch.sigmoid(torch.tanh(states @ w_p) @ v_p)

    def no_sigmoid(states, lengths, w_p, v_p):
        return lengths.unsqueeze(-1) * (torch.tanh(states @ w_p) @ v_p)

    failed(check("ex-04-position", longest), "its own length")
    failed(check("ex-04-position", no_tanh), "without the tanh")
    failed(check("ex-04-position", minus_one), "not by S - 1")
    failed(check("ex-04-position", no_sigmoid), "outside [0,", "sigmoid squeezes")
    failed(check("ex-04-position", lambda *a: position(*a).unsqueeze(-1)), "drop the last dimension")
    failed(check("ex-04-position", lambda *a: position(*a).detach()), "no gradient flows back")


def test_local_weights_explain_the_window_the_gaussian_and_nan():
    def wide_gaussian(scores, p, D):
        distance = torch.arange(scores.shape[-1]).float() - p.unsqueeze(-1)
        weights = attention.masked_softmax(scores, distance.abs() <= D)
        return weights * torch.exp(-(distance**2) / (2 * D**2))

    def no_window(scores, p, D):
        distance = torch.arange(scores.shape[-1]).float() - p.unsqueeze(-1)
        return torch.softmax(scores, -1) * torch.exp(-(distance**2) / (2 * (D / 2) ** 2))

    def no_gaussian(scores, p, D):
        distance = torch.arange(scores.shape[-1]).float() - p.unsqueeze(-1)
        return attention.masked_softmax(scores, distance.abs() <= D)

    def renormalised(scores, p, D):
        weights = local(scores, p, D)
        return weights / weights.sum(-1, keepdim=True)

    def not_a_number(scores, p, D):
        return local(scores, p, D) * torch.tensor(float("nan"))

    failed(check("ex-04-local", wide_gaussian), "D / 2, not D")
    failed(check("ex-04-local", no_window), "exactly 0", "before the softmax")
    failed(check("ex-04-local", no_gaussian), "multiply them by the Gaussian")
    failed(check("ex-04-local", renormalised), "do not normalise again")
    failed(check("ex-04-local", not_a_number), "hold nan", "masked_softmax")
    failed(check("ex-04-local", lambda s, p, D: local(s, p.detach(), D)), "the centres p")


def test_messages_never_show_the_reference_code():
    for label, answer in ANSWERS.items():

        def wrong(*args, answer=answer):
            got = answer(*args)
            if isinstance(got, tuple):
                return tuple(t * 1.5 + 0.1 for t in got)
            return got * 3 + 1

        message = check(label, wrong).message
        for secret in (
            "masked_softmax(scores",
            "additive_scores(",
            "entr(",
            "flip(",
            "sequence_loss",
            "xlogy(",
        ):
            assert secret not in message, (label, message)
