"""Plots and explorers: the heatmap helper, view specs, the static HTML and the three-way mime bundle."""
from __future__ import annotations

import json
import re

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from attnmem.tasks.regression import sample_regression  # noqa: E402
from attnmem.viz import (  # noqa: E402
    alignment_example,
    alignment_view,
    bars_panel,
    frame,
    frames_view,
    heatmap,
    matrix_panel,
    static_html,
    text_panel,
    tokens_panel,
)
from attnmem.viz.pooling import KernelRegressionExplorer  # noqa: E402


def test_heatmap_draws_labels_and_values():
    ax = heatmap(torch.eye(3), x_labels=["a", "b", "c"], y_labels=["x", "y", "z"], annotate=True, title="t")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert ax.get_title() == "t" and len(ax.texts) == 9


def test_heatmap_errors():
    with pytest.raises(ValueError, match=r"must be a 2-D matrix.*weights\[0\]"):
        heatmap(torch.rand(2, 3, 4))
    with pytest.raises(ValueError, match="x_labels .* got 2 labels for a matrix of shape"):
        heatmap(torch.rand(2, 3), x_labels=["a", "b"])
    with pytest.raises(ValueError, match="is empty"):
        heatmap(torch.rand(0, 3))


def test_view_spec_builders_validate():
    with pytest.raises(ValueError, match="weights have shape \\(2, 2\\) but there are 2 row tokens and 3"):
        alignment_example("x", ["a", "b"], ["c", "d", "e"], torch.rand(2, 2))
    with pytest.raises(ValueError, match="NaN or infinite"):
        alignment_example("x", ["a"], ["b"], torch.tensor([[float("nan")]]))
    with pytest.raises(ValueError, match="at least one example"):
        alignment_view([])
    with pytest.raises(ValueError, match="3 labels for 2 values"):
        bars_panel([0.5, 0.5], labels=["a", "b", "c"])
    with pytest.raises(ValueError, match="has no panels"):
        frame("empty", [])
    with pytest.raises(ValueError, match="has no frames"):
        frames_view([{"name": "e", "frames": []}])
    with pytest.raises(ValueError, match="unknown view kind"):
        static_html({"kind": "pie"})


def test_static_html_is_self_contained():
    spec = frames_view([{"name": "one", "frames": [
        frame("t=0", [bars_panel([0.2, 0.8], title="read"), matrix_panel(torch.eye(2), highlight_col=0),
                      text_panel("</script><b>tricky</b>")]),
    ]}])
    page = static_html(spec)
    assert page.count("<script") == 2  # the data and the runtime, nothing fetched
    assert "src=" not in page and "http" not in page.lower().replace("https://", "").split("<script>")[0]
    assert not re.search(r"<script[^>]+src=", page)
    data = re.search(r'<script type="application/json">(.*?)</script>', page, re.S).group(1)
    assert json.loads(data.replace("<\\/", "</"))["examples"][0]["frames"][0]["panels"][2]["text"].startswith("</")


def _explorer():
    data = sample_regression(20, seed=0)
    return KernelRegressionExplorer(data.x, data.y, {"narrow": 0.1, "wide": 1.0})


def test_explorer_bundle_has_html_and_png_outside_a_kernel():
    bundle = _explorer()._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", "image/png"}
    assert 'class="attnmem-explorer"' in bundle["text/html"]
    spec = json.loads(re.search(r'<script type="application/json">(.*?)</script>', bundle["text/html"], re.S).group(1))
    assert spec["kind"] == "alignment" and len(spec["examples"]) == 2
    weights = torch.tensor(spec["examples"][0]["weights"])
    torch.testing.assert_close(weights.sum(-1), torch.ones(len(weights)), atol=5e-3, rtol=0)


def test_explorer_live_widget_builds_and_redraws():
    explorer = _explorer()
    drawn = []
    draw = explorer.draw_live

    def recording_draw(**values):
        drawn.append(values)
        return draw(**values)

    explorer.draw_live = recording_draw
    widget = explorer.widget()
    name, control = next(iter(explorer.controls().items()))
    slider = widget.children[0].children[0]
    assert type(slider) is type(control) and len(drawn) == 1  # drawn once when built
    slider.value = 1.0
    assert len(drawn) == 2 and drawn[-1][name] == 1.0  # and again, with the new value, when the slider moves


def test_explorer_rejects_bad_input():
    data = sample_regression(5, seed=0)
    with pytest.raises(ValueError, match="at least one bandwidth"):
        KernelRegressionExplorer(data.x, data.y, {})
    with pytest.raises(ValueError, match="x_train must be a 1-D tensor"):
        KernelRegressionExplorer(data.x.reshape(5, 1), data.y, {"w": 1.0})


# --- the translation and NTM explorers: first errors, new panels, labels that match the data ------------------------
def test_first_error_finds_the_first_word_that_leaves_the_reference():
    from attnmem.viz.translation import first_error

    reference = ["a", "b", "c", "<eos>"]
    assert first_error(reference, reference) is None
    assert first_error(["a", "x", "c", "<eos>"], reference) == 1
    assert first_error(["a", "b", "<eos>"], reference) == 2  # stopped early: wrong at its <eos>
    assert first_error(["a", "b", "c", "d", "<eos>"], reference) == 3  # ran on: wrong where the reference ends


def test_tokens_panel_marks_and_value_axis_are_checked():
    assert tokens_panel(["a", "b"], judged=True, first_wrong=1)["first_wrong"] == 1
    assert "judged" not in tokens_panel(["a", "b"])  # a source sentence: neither right nor wrong
    with pytest.raises(ValueError, match="first_wrong=2 needs judged=True and one of the 2 tokens"):
        tokens_panel(["a", "b"], judged=True, first_wrong=2)
    with pytest.raises(ValueError, match="needs judged=True"):
        tokens_panel(["a", "b"], first_wrong=0)
    example = alignment_example("x", ["a", "b"], ["c"], torch.ones(2, 1), marks={1: "the first wrong word"})
    assert example["marks"] == {"1": "the first wrong word"}
    with pytest.raises(ValueError, match=r"marked rows \[5\] are outside the 2 rows"):
        alignment_example("x", ["a", "b"], ["c"], torch.ones(2, 1), marks={5: "?"})
    panel = bars_panel([1.0, 2.0], value_label="steps", label_title="entries")
    assert panel["value_label"] == "steps" and panel["label_title"] == "entries"


def _small_translation_model(attention: str, seed: int = 0):
    from attnmem.seq2seq import build_model
    from attnmem.tasks.translation import source_vocab, target_vocab

    torch.manual_seed(seed)
    return build_model({"attention": attention, "src_vocab": len(source_vocab()), "tgt_vocab": len(target_vocab()),
                        "embed": 8, "hidden": 12, "bidirectional": True}).eval()


def test_bottleneck_explorer_steps_through_lengths_with_first_errors():
    from attnmem.tasks.translation import source_vocab, target_vocab
    from attnmem.viz.translation import BottleneckExplorer, first_error

    models = {"plain": _small_translation_model("none"), "attention": _small_translation_model("bahdanau")}
    explorer = BottleneckExplorer(models, source_vocab(), target_vocab(), lengths=[4, 8], per_length=3)
    spec = explorer.view_spec()
    frames = spec["examples"][0]["frames"]
    assert [f["name"] for f in frames] == ["sentences of 4 words", "sentences of 8 words"]
    for length, shown in zip([4, 8], frames):
        pair = explorer.results[length]["pairs"][0]
        translations = [p for p in shown["panels"] if p["type"] == "tokens"][2:]
        for name, panel in zip(models, translations):
            words = explorer.results[length]["translations"][name][0]
            assert panel["tokens"] == words and panel.get("first_wrong") == first_error(words, pair.target + ["<eos>"])
        bars = [p for p in shown["panels"] if p["type"] == "bars"]
        assert len(bars) == 2 and all(0 <= v <= 1 for p in bars for v in p["values"])
    assert explorer.to_png()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="at least 3"):
        BottleneckExplorer(models, source_vocab(), target_vocab(), lengths=[2])


def test_score_functions_explorer_measures_exact_match_and_marks_wrong_words():
    from attnmem.seq2seq import evaluate_pairs
    from attnmem.tasks.translation import sample_pairs, source_vocab, target_vocab
    from attnmem.viz.translation import ScoreFunctionsExplorer

    models = {"dot": _small_translation_model("dot"), "general": _small_translation_model("general")}
    held_out = sample_pairs(6, 3, 6, seed=1)
    explorer = ScoreFunctionsExplorer(models, source_vocab(), target_vocab(), ["the dog runs"], held_out)
    for name, model in models.items():
        assert explorer.exact_match[name] == evaluate_pairs(model, held_out, source_vocab(), target_vocab())["exact_match"]
    examples = explorer.view_spec()["examples"]
    assert [e["name"] for e in examples] == ["dot: the dog runs", "general: the dog runs"]
    for example in examples:  # an untrained model translates wrongly: its first wrong word is marked
        wrong = re.search(r"wrong from target word (\d+)", example["note"])
        assert wrong and example["marks"] == {str(int(wrong.group(1)) - 1): "the first wrong word"}
    with pytest.raises(ValueError, match="no attention"):
        ScoreFunctionsExplorer({"none": _small_translation_model("none")}, source_vocab(), target_vocab(),
                               ["the dog runs"], held_out)


def test_translation_explorers_draw_live_a_titled_alignment_and_a_verdict(capsys, monkeypatch):
    import matplotlib.pyplot as plt

    from attnmem.tasks.translation import sample_pairs, source_vocab, target_vocab
    from attnmem.viz.translation import AlignmentExplorer, ScoreFunctionsExplorer

    model, titles = _small_translation_model("dot"), []
    monkeypatch.setattr(plt, "show", lambda: titles.append(plt.gcf().axes[0].get_title()))
    AlignmentExplorer(model, source_vocab(), target_vocab(), ["the dog runs"]).draw_live("the dog runs", 3)
    scores = ScoreFunctionsExplorer({"dot": model}, source_vocab(), target_vocab(), ["the dog runs"],
                                    sample_pairs(4, 3, 6, seed=1))
    scores.draw_live("dot", "the dog runs")
    scores.draw_live("dot", "the unicorn runs")  # an unknown word: a message instead of a figure
    plt.close("all")
    printed = capsys.readouterr().out.splitlines()
    assert len(titles) == 2 and titles[0].startswith("beam 3: ")
    assert titles[1] == f"dot (exact match {scores.exact_match['dot']:.2f})"
    assert all(line.startswith(("wrong from target word", "correct:")) for line in printed[:2])
    assert printed[2].startswith("cannot translate this sentence:") and "unicorn" in printed[2]


def test_head_weights_explorer_labels_rows_by_the_locations_its_peaks_name():
    from attnmem.ntm import NTM
    from attnmem.viz.ntm import HeadWeightsExplorer

    torch.manual_seed(0)
    explorer = HeadWeightsExplorer(NTM(9, 8, memory_size=16, memory_width=6, controller_size=16), lengths=(4,),
                                   figure_length=5)
    run = explorer.runs[4]
    assert run["write"].shape[0] == 16  # every location, so run["write"].argmax(0) names locations
    last = explorer.view_spec()["examples"][0]["frames"][-1]["panels"][0]
    for label, row in zip(last["row_labels"], last["values"]):  # the row labelled L shows location L's weights
        torch.testing.assert_close(torch.tensor(row), run["write"][int(label)], atol=1e-3, rtol=0)
