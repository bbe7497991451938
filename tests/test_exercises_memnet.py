"""Chapter 5's exercise checkers: right answers pass; each kind of slip gets its own precise message."""

from __future__ import annotations

import itertools

import pytest
import torch
from checker_testing import failed, passes_and_stubs_are_not_written

from attnmem import memnet
from attnmem.exercise_checks.memnet import hop_reference
from attnmem.training.memnet import babi_data
from attnmem.exercises import check
from attnmem.tasks import babi


def pe(lengths, max_length, dim):
    j = torch.arange(1, max_length + 1, dtype=torch.float32).unsqueeze(1)
    k = torch.arange(1, dim + 1, dtype=torch.float32) / dim
    big_j = lengths.clamp(min=1).float()[..., None, None]
    weights = (1 - j / big_j) - k * (1 - 2 * j / big_j)
    return torch.where(j <= lengths[..., None, None], weights, 0.0)


def hop(u, m, c, mask):
    scores = torch.einsum("bmd,bd->bm", m, u).masked_fill(~mask, -1e9)
    p = torch.softmax(scores, dim=-1) * mask
    return u + torch.einsum("bm,bmd->bd", p, c), p


ANSWERS = {"ex-05-position": pe, "ex-05-hop": hop}


@pytest.mark.parametrize("label", ANSWERS)
def test_right_answers_pass_and_stubs_are_not_written(label):
    passes_and_stubs_are_not_written(label, ANSWERS[label])


def test_other_right_answers_pass_too():
    from attnmem.attention import masked_softmax

    def hop_with_package_softmax(u, m, c, mask):
        p = masked_softmax((m @ u.unsqueeze(-1)).squeeze(-1), mask)
        return u + (p.unsqueeze(-1) * c).sum(1), p

    def pe_with_loops(lengths, max_length, dim):
        out = torch.zeros(*lengths.shape, max_length, dim, dtype=torch.float64)
        for index in itertools.product(*(range(n) for n in lengths.shape)):
            J = int(lengths[index])
            for j in range(1, J + 1):
                for k in range(1, dim + 1):
                    out[index + (j - 1, k - 1)] = (1 - j / J) - (k / dim) * (1 - 2 * j / J)
        return out

    assert check("ex-05-hop", hop_with_package_softmax).passed
    assert check("ex-05-hop", lambda *a: list(hop(*a))).passed, "a list pair is fine too"
    assert check("ex-05-position", pe_with_loops).passed, "loops and float64 are fine"


def test_the_hop_reference_is_the_hop_of_the_package_model():
    vocab = babi.Vocabulary.generator()
    batch = babi_data(2, n_questions=4, seed=5, vocab=vocab)
    torch.manual_seed(0)
    model = memnet.MemN2N(len(vocab), dim=8, hops=1, encoding="bow", temporal=False)
    A, C = model.embeddings[0], model.embeddings[1]
    u_next, p = hop_reference(
        A[batch.query].sum(-2), A[batch.memory].sum(-2), C[batch.memory].sum(-2), batch.memory_mask
    )
    out = model.run(batch)
    torch.testing.assert_close(p, out.attention[:, 0])
    torch.testing.assert_close(u_next @ C.T, out.logits)


def test_position_encoding_slips_get_hints():
    failed(
        check("ex-05-position", lambda l, L, d: pe(l, L, d).transpose(-1, -2)),
        "shape (8, 5), but should have shape (5, 8)",
        "look transposed",
    )

    def one_matrix(lengths, max_length, dim):
        return pe(torch.tensor(max_length), max_length, dim)

    failed(
        check("ex-05-position", one_matrix),
        "have shape (7, 4), but should have shape (3, 7, 4)",
        "one (max_length, dim) matrix per entry of lengths",
    )

    def shifted(j_from=1, k_from=1):
        def weights(lengths, max_length, dim):
            j = torch.arange(j_from, j_from + max_length, dtype=torch.float32).unsqueeze(1)
            k = torch.arange(k_from, k_from + dim, dtype=torch.float32) / dim
            big_j = lengths.clamp(min=1).float()[..., None, None]
            inside = torch.arange(1, max_length + 1).unsqueeze(1) <= lengths[..., None, None]
            return torch.where(inside, (1 - j / big_j) - k * (1 - 2 * j / big_j), 0.0)

        return weights

    failed(
        check("ex-05-position", shifted(j_from=0)), "differ from the reference", "count the word positions j"
    )
    failed(check("ex-05-position", shifted(k_from=0)), "count the embedding coordinates k from 1")
    failed(check("ex-05-position", shifted(j_from=0, k_from=0)), "both counters start at 1")

    def global_length(lengths, max_length, dim):
        inside = torch.arange(1, max_length + 1).unsqueeze(1) <= lengths[..., None, None]
        return torch.where(inside, pe(torch.full_like(lengths, max_length), max_length, dim), 0.0)

    failed(check("ex-05-position", global_length), "J is each sentence's own word count")

    def unmasked(lengths, max_length, dim):
        j = torch.arange(1, max_length + 1, dtype=torch.float32).unsqueeze(1)
        k = torch.arange(1, dim + 1, dtype=torch.float32) / dim
        big_j = lengths.clamp(min=1).float()[..., None, None]
        return (1 - j / big_j) - k * (1 - 2 * j / big_j)

    failed(check("ex-05-position", unmasked), "words past a sentence's end are padding")

    def plus(lengths, max_length, dim):
        j = torch.arange(1, max_length + 1, dtype=torch.float32).unsqueeze(1)
        k = torch.arange(1, dim + 1, dtype=torch.float32) / dim
        big_j = lengths.clamp(min=1).float()[..., None, None]
        return torch.where(j <= lengths[..., None, None], (1 - j / big_j) + k * (1 - 2 * j / big_j), 0.0)

    failed(check("ex-05-position", plus), "is subtracted from 1 - j/J, not added")

    def divides_by_zero(lengths, max_length, dim):
        j = torch.arange(1, max_length + 1, dtype=torch.float32).unsqueeze(1)
        k = torch.arange(1, dim + 1, dtype=torch.float32) / dim
        big_j = lengths.float()[..., None, None]
        return ((1 - j / big_j) - k * (1 - 2 * j / big_j)) * (j <= lengths[..., None, None])

    failed(check("ex-05-position", divides_by_zero), "hold nan", "slot of length 0", "clamped to at least 1")
    failed(check("ex-05-position", lambda *a: pe(*a).long()), "floating point")


def test_hop_slips_get_hints():
    def unmasked(u, m, c, mask):
        p = torch.softmax(torch.einsum("bmd,bd->bm", m, u), -1)
        return u + torch.einsum("bm,bmd->bd", p, c), p

    def zero_scores(u, m, c, mask):
        p = torch.softmax(torch.einsum("bmd,bd->bm", m, u) * mask, -1)
        return u + torch.einsum("bm,bmd->bd", p, c), p

    def masked_after(u, m, c, mask):
        p = torch.softmax(torch.einsum("bmd,bd->bm", m, u), -1) * mask
        return u + torch.einsum("bm,bmd->bd", p, c), p

    def minus_infinity(u, m, c, mask):
        p = torch.softmax(torch.einsum("bmd,bd->bm", m, u).masked_fill(~mask, float("-inf")), -1)
        return u + torch.einsum("bm,bmd->bd", p, c), p

    def nan_to_num(u, m, c, mask):  # right: the NaN of an empty row never reaches a gradient
        p = minus_infinity(u, m, c, mask)[1].nan_to_num()
        return u + torch.einsum("bm,bmd->bd", p, c), p

    def root_of_zero(u, m, c, mask):  # right outputs, but sqrt(0) has an infinite slope
        u_next, p = hop(u, m, c, mask)
        empty = (m * mask.unsqueeze(-1)).sum(1).norm(dim=-1, keepdim=True)
        return u_next + 0 * empty.sqrt(), p

    def naive_exp(u, m, c, mask):
        e = torch.einsum("bmd,bd->bm", m, u).exp() * mask
        p = e / e.sum(-1, keepdim=True).clamp_min(1e-30)
        return u + torch.einsum("bm,bmd->bd", p, c), p

    def scored_with_c(u, m, c, mask):
        return hop(u, c, c, mask)[0], hop(u, c, c, mask)[1]

    failed(check("ex-05-hop", unmasked), "which is empty", "very large negative number")
    failed(check("ex-05-hop", zero_scores), "which is empty", "a score of 0 still gets weight")
    failed(check("ex-05-hop", masked_after), "must sum to 1", "zeroing the empty slots after the softmax")
    failed(check("ex-05-hop", minus_infinity), "hold nan", "no sentence at all in memory", "masked_softmax")
    assert check("ex-05-hop", nan_to_num).passed
    failed(check("ex-05-hop", root_of_zero), "gradient with respect to m holds NaN", "square root of 0")
    failed(check("ex-05-hop", naive_exp), "overflows", "subtracts the largest score")
    failed(check("ex-05-hop", scored_with_c), "attention weights differ", "input memory m_i")
    failed(check("ex-05-hop", lambda *a: (hop(*a)[0] - a[0], hop(*a)[1])), "the read o alone", "u + o")
    failed(check("ex-05-hop", lambda *a: (a[0] * 1.0, hop(*a)[1])), "the query unchanged")
    failed(check("ex-05-hop", lambda u, m, c, mask: hop(u, m, m, mask)), "not the input memories m_i")
    failed(
        check("ex-05-hop", lambda *a: hop(*a)[0]), "returned one tensor of shape (3, 5)", "return u_next, p"
    )
    failed(check("ex-05-hop", lambda *a: (*hop(*a), 1)), "a tuple of length 3")
    failed(
        check("ex-05-hop", lambda *a: (hop(*a)[0].detach(), hop(*a)[1].detach())), "no gradient flows back"
    )
    failed(
        check("ex-05-hop", lambda u, m, c, mask: (u, (m * u.unsqueeze(1)).softmax(-1))),
        "shape (3, 6, 5), but should have shape (3, 6)",
        "one weight per coordinate",
    )
    failed(
        check("ex-05-hop", lambda u, m, c, mask: (u, (u @ m.transpose(1, 2)).softmax(-1))),
        "should have shape (3, 6)",
        "every question against every story",
    )

    def in_place(u, m, c, mask):
        m[~mask] = 0.0
        return hop(u, m, c, mask)

    failed(check("ex-05-hop", in_place), "changed its input `m` in place")


def test_messages_never_show_the_reference_code():
    wrong = {
        "ex-05-position": [lambda *a: pe(*a) * 1.5, lambda *a: pe(*a).transpose(-1, -2), lambda *a: None],
        "ex-05-hop": [
            lambda *a: (hop(*a)[0] * 1.5 + 0.1, hop(*a)[1]),
            lambda *a: (hop(*a)[0], hop(*a)[1] * 2),
        ],
    }
    for label, answers in wrong.items():
        for fn in answers:
            message = check(label, fn).message
            for secret in (
                'einsum("bmd',
                "masked_softmax(torch",
                "clamp(min=1)",
                "position_encoding(",
                "arange(",
            ):
                assert secret not in message, (label, message)
