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
    widget = explorer.widget()
    slider = widget.children[0].children[0]
    slider.value = 1.0
    assert widget.children[1] is not None


def test_explorer_rejects_bad_input():
    data = sample_regression(5, seed=0)
    with pytest.raises(ValueError, match="at least one bandwidth"):
        KernelRegressionExplorer(data.x, data.y, {})
    with pytest.raises(ValueError, match="x_train must be a 1-D tensor"):
        KernelRegressionExplorer(data.x.reshape(5, 1), data.y, {"w": 1.0})
