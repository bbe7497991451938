"""The exercise checkers: right answers pass; each kind of wrong answer gets its own precise, kind message."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from checker_testing import failed

from attnmem import exercises
from attnmem.exercises import (
    EXERCISES,
    Mismatch,
    check,
    check_additive_scores,
    check_laplace_scores,
)


def additive(query, keys, w_query, w_key, v):
    return torch.tanh((query @ w_query).unsqueeze(-2) + (keys @ w_key).unsqueeze(-3)) @ v


def laplace(query, keys, bandwidth):
    return -(query - keys.T).abs() / bandwidth


def test_right_answers_pass():
    for result in (check_additive_scores(additive), check_laplace_scores(laplace)):
        assert result.passed and result and result.status == "passed"
        assert str(result).startswith("✓") and "passed all 7 checks" in result.message


def test_a_stub_is_not_written_yet_rather_than_wrong():
    def my_additive(query, keys, w_query, w_key, v): ...

    def my_laplace_scores(query, keys, bandwidth):
        raise NotImplementedError

    for result in (check("ex-01-additive", my_additive), check("ex-01-laplace", my_laplace_scores)):
        assert result.status == "not written" and not result.passed
        assert "is not written yet" in result.message


def test_a_transposed_result_names_both_shapes_and_the_likely_cause():
    failed(
        check_additive_scores(lambda *args: additive(*args).transpose(-1, -2)),
        "have shape (2, 7, 3), but should have shape (2, 3, 7)",
        "query (2, 3, 5), keys (2, 7, 4)",
        "look transposed",
    )
    failed(check_laplace_scores(lambda q, k, w: laplace(k, q, w)), "shape (9, 6)", "look transposed")


def test_forgetting_v_is_explained():
    def no_v(query, keys, w_query, w_key, v):
        return torch.tanh((query @ w_query).unsqueeze(-2) + (keys @ w_key).unsqueeze(-3))

    failed(check_additive_scores(no_v), "shape (2, 3, 7, 8)", "one number per hidden unit")


def test_a_wrong_value_gives_the_first_index_and_both_values():
    def no_tanh(query, keys, w_query, w_key, v):
        return ((query @ w_query).unsqueeze(-2) + (keys @ w_key).unsqueeze(-3)) @ v

    result = check_additive_scores(no_tanh)
    failed(
        result,
        "differ from the reference at 42 of 42 entries",
        "first is at index (0, 0, 0)",
        "yours is",
        "it should be",
        "without the tanh",
    )


def test_known_slips_of_the_laplace_kernel_get_hints():
    failed(check_laplace_scores(lambda q, k, w: -laplace(q, k, w)), "should never be positive")
    failed(check_laplace_scores(lambda q, k, w: -((q - k.T) ** 2) / w), "not its square")
    failed(check_laplace_scores(lambda q, k, w: -(q - k.T).abs() * w), "does not multiply it")


def test_an_exception_in_the_readers_code_is_caught_and_located():
    def my_additive(query, keys, w_query, w_key, v):
        hidden = query @ w_key  # the wrong projection: sizes do not fit
        return hidden

    result = check("ex-01-additive", my_additive)
    failed(
        result,
        "my_additive raised RuntimeError",
        "at line 2 of my_additive",
        "(hidden = query @ w_key",
        "when called with query (2, 3, 5)",
    )


def test_a_loop_that_ignores_broadcast_batches_is_caught():
    def looped(query, keys, w_query, w_key, v):
        out = torch.zeros(query.shape[:-1] + (keys.shape[-2],))
        for i in range(query.shape[-2]):
            for j in range(keys.shape[-2]):
                out[..., i, j] = torch.tanh(query[..., i, :] @ w_query + keys[..., j, :] @ w_key) @ v
        return out

    failed(check_additive_scores(looped), "raised RuntimeError", "query (2, 1, 3, 5), keys (4, 6, 5)")


def test_a_detached_result_is_told_that_no_gradient_flows():
    failed(check_additive_scores(lambda *args: additive(*args).detach()), "no gradient flows back")

    def through_numpy(query, keys, bandwidth):
        distance = np.abs(query.detach().numpy() - keys.detach().numpy().T)
        return torch.from_numpy(-distance / float(torch.as_tensor(bandwidth).detach()))

    failed(check_laplace_scores(through_numpy), "no gradient flows back")


def test_changing_an_input_in_place_is_reported():
    def my_additive(query, keys, w_query, w_key, v):
        query *= 2
        return additive(query, keys, w_query, w_key, v)

    failed(check_additive_scores(my_additive), "changed its input `query` in place")


def test_wrong_types_and_non_finite_values():
    failed(check_additive_scores(lambda *args: additive(*args).tolist()), "should be a torch.Tensor", "list")
    failed(check_additive_scores(lambda *args: additive(*args).long()), "floating point", "torch.int64")
    failed(check_laplace_scores(lambda q, k, w: laplace(q, k, w) / 0.0), "finite number")


def test_weights_that_do_not_sum_to_one_break_the_distribution_invariant():
    inputs = {"scores": torch.zeros(2, 3)}
    with pytest.raises(
        Mismatch, match=r"must sum to 1 along dimension -1, but the slice at \(1,\) sums to 0.9"
    ):
        exercises.expect_distribution(
            torch.tensor([[0.2, 0.3, 0.5], [0.3, 0.3, 0.3]]), "your weights", inputs
        )
    with pytest.raises(Mismatch, match=r"must be non-negative, but the entry at \(0, 1\) is -0.5"):
        exercises.expect_distribution(torch.tensor([[1.0, -0.5, 0.5]]), "your weights", inputs)
    exercises.expect_distribution(torch.softmax(torch.randn(4, 5), -1), "your weights", inputs)


def test_messages_never_show_the_reference_code():
    wrong = [lambda *a: additive(*a).transpose(-1, -2), lambda *a: additive(*a) + 1, lambda *a: None]
    for fn in wrong:
        message = check_additive_scores(fn).message
        assert "unsqueeze" not in message and "@ v" not in message and "additive_scores(" not in message
    message = check_laplace_scores(lambda q, k, w: laplace(q, k, w) - 1).message
    assert ".abs()" not in message and "transpose" not in message


def test_results_print_nicely():
    passed, wrong = check_additive_scores(additive), check_additive_scores(lambda *a: additive(*a) + 1)
    assert "Well done" in passed._repr_html_() and "#2e7d32" in passed._repr_html_()
    assert "Not quite yet" in wrong._repr_html_() and "<br>" in wrong._repr_html_()
    assert str(wrong).startswith("✗ ex-01-additive:")
    printed = []

    class Printer:
        def text(self, value):
            printed.append(value)

    wrong._repr_pretty_(Printer(), False)
    assert printed == [str(wrong)]


def test_bad_use_of_check_is_a_clear_error():
    with pytest.raises(KeyError, match="no checker for exercise 'ex-01-nope'.*ex-01-additive"):
        check("ex-01-nope", additive)
    with pytest.raises(
        TypeError,
        match=r"check needs your function itself, as in check\('ex-01-additive', "
        r"my_additive\); got a Tensor",
    ):
        check("ex-01-additive", torch.zeros(2))


def test_the_registry_names_what_each_checker_tests():
    for label in ("ex-01-additive", "ex-01-laplace"):
        entry = EXERCISES[label]
        assert entry.chapter == "01" and entry.function.startswith("my_") and len(entry.checks) >= 5
        assert entry.points >= 1


def test_registering_rejects_bad_and_duplicate_labels():
    with pytest.raises(ValueError, match="exercise labels look like 'ex-01-additive'"):
        exercises.exercise("additive", function="f", title="t", checks=("c",))
    with pytest.raises(ValueError, match="registered twice"):
        exercises.exercise("ex-01-additive", function="f", title="t", checks=("c",))(lambda fn: None)


# ---- chapters 6 and 7: neural Turing machines -----------------------------------------------------------


def content(memory, key, beta):
    cosine = torch.nn.functional.cosine_similarity(key.unsqueeze(2), memory.unsqueeze(1), dim=-1)
    return torch.softmax(beta.unsqueeze(-1) * cosine, dim=-1)


def roll_shift(weights, s):
    rolled = (torch.roll(weights, -1, dims=-1), weights, torch.roll(weights, 1, dims=-1))
    return sum(s[..., i : i + 1] * w for i, w in enumerate(rolled))


def bit_errors(logits, targets, mask):
    return (((logits > 0).float() != targets) & mask.unsqueeze(-1)).sum(dim=(1, 2)).float()


def write(memory, weights, erase, add):
    column = weights.unsqueeze(-1)
    return memory * (1 - column * erase.unsqueeze(1)) + column * add.unsqueeze(1)


NTM_ANSWERS = {
    "ex-06-content": content,
    "ex-06-roll": roll_shift,
    "ex-07-bit-errors": bit_errors,
    "ex-07-write": write,
}


@pytest.mark.parametrize("label", NTM_ANSWERS)
def test_right_ntm_answers_pass_and_stubs_are_not_written(label):
    result = check(label, NTM_ANSWERS[label])
    assert result.passed, result.message
    assert f"passed all {len(EXERCISES[label].checks)} checks" in result.message

    def stub(*args): ...

    assert check(label, stub).status == "not written"
    entry = EXERCISES[label]
    assert (
        entry.chapter == label.split("-")[1] and entry.function.startswith("my_") and len(entry.checks) >= 5
    )


def test_content_addressing_explains_zero_norms_and_other_slips():
    def unsafe(memory, key, beta):
        dot = key @ memory.transpose(1, 2)
        norms = key.norm(dim=-1, keepdim=True) * memory.norm(dim=-1).unsqueeze(1)
        return torch.softmax(beta.unsqueeze(-1) * dot / norms, dim=-1)

    failed(check("ex-06-content", unsafe), "holds nan", "a norm is 0 here", "epsilon")

    def square_root(memory, key, beta):
        key_norm = (key**2).sum(-1, keepdim=True).sqrt() + 1e-8
        memory_norm = (memory**2).sum(-1).sqrt().unsqueeze(1) + 1e-8
        return torch.softmax(
            beta.unsqueeze(-1) * (key @ memory.transpose(1, 2)) / (key_norm * memory_norm), -1
        )

    failed(check("ex-06-content", square_root), "with a zero key, the gradient", "the key", "vector_norm")
    failed(check("ex-06-content", lambda m, k, b: content(m, k, torch.ones_like(b))), "ignore beta")
    failed(
        check("ex-06-content", lambda m, k, b: torch.softmax(b.unsqueeze(-1) * (k @ m.transpose(1, 2)), -1)),
        "plain dot product",
    )
    failed(
        check("ex-06-content", lambda m, k, b: content(m, k, b).transpose(1, 2)),
        "shape (2, 8, 1), but should have shape (2, 1, 8)",
        "looks transposed",
    )
    failed(
        check("ex-06-content", lambda m, k, b: torch.softmax(content(m, k, b).log() * 1.0, dim=1)),
        "must sum to 1 along dimension -1",
        "softmax over the locations",
    )
    failed(check("ex-06-content", lambda m, k, b: content(m, k, b).detach()), "no gradient flows back")


def test_shift_explains_the_direction_and_the_wrap_around():
    def backwards(weights, s):
        return roll_shift(weights, s.flip(-1))

    def no_wrap(weights, s):
        padded = torch.nn.functional.pad(weights, (1, 1))
        return s[..., :1] * padded[..., 2:] + s[..., 1:2] * weights + s[..., 2:] * padded[..., :-2]

    failed(check("ex-06-roll", backwards), "differ from the reference", "go the wrong way", "j + 1")
    failed(check("ex-06-roll", no_wrap), "the shift is circular")
    failed(
        check("ex-06-roll", lambda w, s: s), "shape (2, 3, 3), but should have shape (2, 3, 7)", "one weight"
    )


def test_bit_errors_explain_the_mask_the_threshold_and_the_shape():
    def no_mask(logits, targets, mask):
        return ((logits > 0).float() != targets).sum(dim=(1, 2)).float()

    def threshold(limit, strict=True):
        def count(logits, targets, mask):
            predicted = logits > limit if strict else logits >= limit
            return ((predicted.float() != targets) & mask.unsqueeze(-1)).sum(dim=(1, 2)).float()

        return count

    def fraction(logits, targets, mask):
        return bit_errors(logits, targets, mask) / (mask.sum(1) * targets.shape[-1]).clamp_min(1)

    failed(check("ex-07-bit-errors", no_mask), "yours is 45, it should be 10", "mask is True are scored")
    failed(check("ex-07-bit-errors", threshold(0.5)), "threshold the logits at 0")
    failed(check("ex-07-bit-errors", threshold(0.0, strict=False)), "use `> 0`")
    failed(check("ex-07-bit-errors", fraction), "not their fraction")
    failed(check("ex-07-bit-errors", lambda *a: bit_errors(*a).sum()), "shape ()", "whole batch")
    integer = check("ex-07-bit-errors", lambda *a: bit_errors(*a).long())
    assert integer.passed, "an integer count is a fine answer too"


def test_write_explains_the_order_and_the_weighting():
    def add_then_erase(memory, weights, erase, add):
        column = weights.unsqueeze(-1)
        return (memory + column * add.unsqueeze(1)) * (1 - column * erase.unsqueeze(1))

    def unweighted_add(memory, weights, erase, add):
        return memory * (1 - weights.unsqueeze(-1) * erase.unsqueeze(1)) + add.unsqueeze(1)

    def unweighted_erase(memory, weights, erase, add):
        return memory * (1 - erase.unsqueeze(1)) + weights.unsqueeze(-1) * add.unsqueeze(1)

    def in_place(memory, weights, erase, add):
        memory *= 1 - weights.unsqueeze(-1) * erase.unsqueeze(1)
        return memory + weights.unsqueeze(-1) * add.unsqueeze(1)

    failed(check("ex-07-write", add_then_erase), "the entries of your new memory differ", "erase first")
    failed(check("ex-07-write", unweighted_add), "multiply it by the weighting")
    failed(check("ex-07-write", unweighted_erase), "1 - w_i e")
    failed(check("ex-07-write", in_place), "changed its input `memory` in place")
    failed(check("ex-07-write", lambda *a: write(*a).transpose(1, 2)), "looks transposed")


def test_ntm_messages_never_show_the_reference_code():
    for label, answer in NTM_ANSWERS.items():
        message = check(label, lambda *a, answer=answer: answer(*a) * 1.5 + 0.1).message
        for secret in (
            "bmm",
            "unfold",
            "addcmul",
            "baddbmm",
            "vector_norm(key",
            "content_addressing(",
            "& batch",
        ):
            assert secret not in message, (label, message)
