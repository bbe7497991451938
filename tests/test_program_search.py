"""The consistent programs of a table question, and the maximum-marginal-likelihood loss over them."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from attnmem import programmer as P
from attnmem.tasks.tables import KINDS, collate, reference_program, sample_questions
from attnmem.training import programmer as T
from attnmem.training.program_search import (
    consistent_programs,
    discrete_steps,
    marginal_log_likelihood,
    program_paths,
    same_function,
    step_log_probabilities,
)


def answers(program, question) -> bool:
    result = P.run_program(program, question.table, question.numbers)
    if question.is_lookup:
        return result.cells == (question.lookup_cell,)
    return abs(result.scalar - question.answer) < 0.5


def usable_steps(question):
    return [s for s in discrete_steps(question.table.shape[1])
            if s[0] not in ("greater", "lesser") or s[2] < max(len(question.numbers), 1)]


def test_there_are_29_distinct_steps_for_four_columns_and_two_numbers():
    steps = discrete_steps(4)
    assert len(steps) == len(set(steps)) == 29
    assert ("greater", 3, 1) in steps and ("count", 0, 0) in steps and ("count", 1, 0) not in steps


@pytest.mark.parametrize("kind", KINDS)
def test_the_graph_holds_exactly_the_programs_that_answer(kind):
    question = sample_questions(1, seed=KINDS.index(kind), kinds=[kind])[0]
    for n_steps in (1, 2):
        brute_force = [list(p) for p in itertools.product(usable_steps(question), repeat=n_steps)
                       if answers(list(p), question)]
        graph = consistent_programs(question, n_steps)
        assert graph.count == len(brute_force)
        assert sorted(program_paths(graph)) == sorted(brute_force)


def test_three_step_graphs_match_the_brute_force_count():
    for question in sample_questions(3, seed=11, kinds=["count_between", "difference", "lookup"]):
        brute_force = sum(answers(list(p), question) for p in itertools.product(usable_steps(question), repeat=3))
        assert consistent_programs(question, 3).count == brute_force


def test_four_step_programs_answer_and_include_the_reference():
    for question in sample_questions(8, seed=3):
        graph = consistent_programs(question)
        listed = list(itertools.islice(program_paths(graph), 200))
        assert listed and all(answers(p, question) for p in listed)
        assert graph.count >= len(listed)
        reference = [(op, col if op in ("sum", "greater", "lesser", "print") else 0,
                      k if op in ("greater", "lesser") else 0) for op, col, k in reference_program(question)]
        node = 0
        for t, step in enumerate(reference):  # follow the reference program's steps through the graph
            frm, stp, to = graph.edges[t]
            leaving = ((frm == node) & (stp == graph.steps.index(step))).nonzero().flatten()
            assert len(leaving) == 1, (question.kind, t, step)
            node = int(to[leaving[0]])


def test_marginal_likelihood_is_the_summed_probability_of_the_listed_programs():
    torch.manual_seed(0)
    questions = sample_questions(4, seed=5, kinds=["count_between", "sum_where", "lookup", "sum"])
    graphs = [consistent_programs(q, 3) for q in questions]
    batch = collate(questions)
    model = P.TableProgrammer(steps=3)
    steps = graphs[0].steps
    log_p = step_log_probabilities(model(batch), batch.number_mask.any(1), steps).double()
    forward = marginal_log_likelihood(log_p, graphs)
    for b, graph in enumerate(graphs):
        total = sum(math.exp(sum(float(log_p.detach()[b, t, steps.index(s)]) for t, s in enumerate(p)))
                    for p in program_paths(graph))
        assert float(forward.detach()[b]) == pytest.approx(math.log(total), abs=1e-9)


def test_program_loss_gives_finite_gradients_to_every_choice():
    config = {"kinds": ["count_between", "count_or", "lookup"], "n_rows": 8, "n_cols": 4, "steps": 4}
    questions, graphs = T.program_pool(6, 0, config)
    model = P.TableProgrammer()
    loss, metrics = T.program_loss(model, T.ProgramBatch(collate(questions), graphs))
    loss.backward()
    assert torch.isfinite(loss) and 0 < metrics["p_consistent"] < 1
    for name in ("operation_embedding", "column_key.weight", "number_query.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_unknown_objective_is_named():
    config = {"steps": 4, "embed": 8, "hidden": 8, "match_weight": 4.0, "objective": "reinforce"}
    with pytest.raises(ValueError, match="objective must be 'soft_answer' or 'consistent_programs'"):
        T.train_tables(config, seed=0, progress=False)


def test_same_function_tells_a_spurious_program_from_a_general_one():
    question = sample_questions(1, seed=3, kinds=["count_between"], split="test")[0]
    reference = reference_program(question)
    a = question.slots[0]
    other = next(c for c in range(question.table.shape[1]) if c != a)
    reordered = [reference[1], reference[0], *reference[2:]]
    wrong_column = [(op, other if op in ("greater", "lesser") else col, k) for op, col, k in reference]
    assert same_function(reordered, reference, question)
    assert not same_function(wrong_column, reference, question)
    lookup = sample_questions(1, seed=4, kinds=["lookup"], split="test")[0]
    ref = reference_program(lookup)
    summing_first = [ref[0], ("sum", ref[1][1], 0), ref[1], ("reset", 0, 0)]  # a sum on the side leaves the cells
    assert same_function(summing_first, ref, lookup)
    assert not same_function([ref[0], ("print", (ref[1][1] + 1) % 4, 0), *ref[2:]], ref, lookup)
