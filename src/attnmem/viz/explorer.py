"""Explorers: one ``display(explorer)``, three renderings.

- **live** (a running kernel: JupyterLab, Colab): an ipywidgets UI that recomputes with the model;
- **static HTML** (the rendered book, no kernel): a self-contained HTML + JavaScript view of precomputed weights,
  drawn by ``explorer.js`` from a JSON *view spec*, with no CDN and no network;
- **figure** (PDF, plain-text readers, tests): a matplotlib figure.

A subclass implements ``view_spec()`` (the static view), ``figure()``, and either ``controls()`` + ``draw_live()``
or a whole ``widget()``. ``_repr_mimebundle_`` returns all three; a front end shows the richest it can, and the book's
``_config.yml`` asks for the ``text/html`` view.

View specs come in two kinds (build them with ``alignment_view`` and ``frames_view``):

- ``alignment``: examples of a rows x columns weight matrix with row and column tokens; hovering a row token lights
  up the columns by weight (a target word and its source words, a query and its keys);
- ``frames``: examples made of frames (time steps, hops, presets) each holding panels — ``bars_panel``,
  ``matrix_panel``, ``text_panel``, ``tokens_panel`` — stepped through with a slider.
"""
from __future__ import annotations

import base64
import hashlib
import html
import io
import json
from functools import lru_cache
from importlib import resources
from typing import Any, Sequence

import numpy as np

from attnmem.viz.plots import as_matrix

__all__ = [
    "Explorer",
    "alignment_view",
    "alignment_example",
    "frames_view",
    "frame",
    "bars_panel",
    "matrix_panel",
    "text_panel",
    "points_panel",
    "tokens_panel",
    "static_html",
]


def _numbers(values: Any, name: str, digits: int = 3) -> list:
    """Round a tensor/array/list to plain floats for compact JSON."""
    try:
        import torch

        if isinstance(values, torch.Tensor):
            values = values.detach().cpu().float().numpy()
    except ImportError:  # pragma: no cover
        pass
    array = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values; an explorer can only show finite numbers")
    return np.round(array, digits).tolist()


def alignment_example(
    name: str,
    rows: Sequence[str],
    cols: Sequence[str],
    weights: Any,
    *,
    note: str | None = None,
    row_label: str | None = None,
    col_label: str | None = None,
    row_notes: Sequence[str] | None = None,
    marks: dict[int, str] | None = None,
    gold: Sequence[int | Sequence[int] | None] | None = None,
) -> dict:
    """One example of an alignment view: ``weights[i, j]`` is how much row token ``i`` attends to column ``j``.

    ``marks`` maps a row index to a short reason the row is marked (outlined in red), e.g. the first wrong word.
    ``gold`` gives each row the column (or columns; None for none) of its known alignment, outlined in the grid.
    """
    matrix = as_matrix(weights, f"weights of example {name!r}")
    if matrix.shape != (len(rows), len(cols)):
        raise ValueError(
            f"example {name!r}: weights have shape {matrix.shape} but there are {len(rows)} row tokens and "
            f"{len(cols)} column tokens; weights must be (rows, columns)"
        )
    example = {"name": name, "rows": [str(r) for r in rows], "cols": [str(c) for c in cols],
               "weights": _numbers(matrix, "weights")}
    for key, value in (("note", note), ("row_label", row_label), ("col_label", col_label)):
        if value:
            example[key] = value
    if row_notes is not None:
        if len(row_notes) != len(rows):
            raise ValueError(f"example {name!r}: {len(row_notes)} row notes for {len(rows)} rows")
        example["row_notes"] = [str(n) for n in row_notes]
    if marks:
        outside = [i for i in marks if not 0 <= i < len(rows)]
        if outside:
            raise ValueError(f"example {name!r}: marked rows {outside} are outside the {len(rows)} rows")
        example["marks"] = {str(int(i)): str(reason) for i, reason in marks.items()}
    if gold is not None:
        example["gold"] = _gold_columns(name, gold, len(rows), len(cols))
    return example


def _gold_columns(name: str, gold: Sequence[int | Sequence[int] | None], rows: int, cols: int) -> list[list[int]]:
    if len(gold) != rows:
        raise ValueError(f"example {name!r}: gold alignment for {len(gold)} rows, but there are {rows} rows")
    columns = [[] if g is None else [int(g)] if isinstance(g, (int, np.integer)) else [int(j) for j in g]
               for g in gold]
    outside = sorted({j for row in columns for j in row if not 0 <= j < cols})
    if outside:
        raise ValueError(f"example {name!r}: gold columns {outside} are outside the {cols} columns (0 .. {cols - 1})")
    return columns


def alignment_view(examples: Sequence[dict], *, title: str = "", caption: str = "", row_label: str = "queries",
                   col_label: str = "keys", example_label: str = "example", hint: str | None = None) -> dict:
    """A static view of weight matrices; hover a row token to light up the columns it attends to."""
    if not examples:
        raise ValueError("an alignment view needs at least one example")
    spec = {"kind": "alignment", "title": title, "caption": caption, "row_label": row_label, "col_label": col_label,
            "example_label": example_label, "examples": list(examples)}
    if hint:
        spec["hint"] = hint
    return spec


def bars_panel(values: Any, *, title: str = "", labels: Sequence[str] | None = None,
               highlight: Sequence[int] = (), horizontal: bool = False, max_value: float | None = None,
               wide: bool = False, value_label: str = "", label_title: str = "") -> dict:
    """A bar chart panel: a weighting over memory locations (vertical) or over sentences (horizontal, labelled).

    Vertical bars get a value axis (0 to the top value); ``value_label`` names it and ``label_title`` names the
    bars' labels (the horizontal axis).
    """
    numbers = _numbers(values, f"values of panel {title!r}")
    if not isinstance(numbers, list) or (numbers and isinstance(numbers[0], list)):
        raise ValueError(f"panel {title!r}: bars need a 1-D sequence of values")
    if labels is not None and len(labels) != len(numbers):
        raise ValueError(f"panel {title!r}: {len(labels)} labels for {len(numbers)} values")
    panel: dict[str, Any] = {"type": "bars", "title": title, "values": numbers,
                             "orientation": "horizontal" if horizontal else "vertical",
                             "highlight": [int(i) for i in highlight]}
    if labels is not None:
        panel["labels"] = [str(label) for label in labels]
    if max_value is not None:
        panel["max"] = float(max_value)
    if wide:
        panel["wide"] = True
    for key, value in (("value_label", value_label), ("label_title", label_title)):
        if value:
            panel[key] = str(value)
    return panel


def matrix_panel(values: Any, *, title: str = "", row_labels: Sequence[str] | None = None,
                 col_labels: Sequence[str] | None = None, highlight_col: int | None = None,
                 max_value: float | None = None, wide: bool = True) -> dict:
    """A heatmap panel (e.g. memory locations x time), optionally with one column marked as the cursor."""
    matrix = as_matrix(values, f"values of panel {title!r}")
    panel: dict[str, Any] = {"type": "matrix", "title": title, "values": _numbers(matrix, "values"), "wide": wide}
    if row_labels is not None:
        panel["row_labels"] = [str(label) for label in row_labels]
    if col_labels is not None:
        panel["col_labels"] = [str(label) for label in col_labels]
    if highlight_col is not None:
        panel["highlight_col"] = int(highlight_col)
    if max_value is not None:
        panel["max"] = float(max_value)
    return panel


def tokens_panel(tokens: Sequence[str], *, title: str = "", judged: bool = False, first_wrong: int | None = None,
                 wide: bool = True) -> dict:
    """A panel of word tokens (a sentence, a translation).

    A ``judged`` translation is shaded right up to ``first_wrong`` (all of it when None) and wrong from there on,
    the first wrong token outlined.
    """
    words = [str(t) for t in tokens]
    if first_wrong is not None and not (judged and 0 <= first_wrong < len(words)):
        raise ValueError(f"panel {title!r}: first_wrong={first_wrong} needs judged=True and one of the "
                         f"{len(words)} tokens")
    panel: dict[str, Any] = {"type": "tokens", "title": title, "tokens": words, "wide": wide}
    if judged:
        panel["judged"] = True
    if first_wrong is not None:
        panel["first_wrong"] = int(first_wrong)
    return panel


def text_panel(text: str, *, title: str = "", wide: bool = True) -> dict:
    """A panel of monospaced text (an induced program, a story, a decoded sentence)."""
    return {"type": "text", "title": title, "text": str(text), "wide": wide}


def points_panel(points: Any, *, title: str = "", weights: Any = None, path: Sequence[int] = (),
                 closed: bool = False, reference: Sequence[int] = (), highlight: Sequence[int] = (),
                 labels: bool = False, max_value: float | None = None, width: int = 320) -> dict:
    """Points on a plane: ``points`` (n, 2), optional ``weights`` (n,) drawn as the points' size and colour (a pointer
    distribution), a ``path`` through point indices (``closed`` joins its ends), a dashed ``reference`` polygon (a
    true hull or tour) and ringed ``highlight`` points; ``labels`` writes each point's index beside it."""
    coordinates = _numbers(points, f"points of panel {title!r}", digits=4)
    if not isinstance(coordinates, list) or not coordinates or any(
            not isinstance(p, list) or len(p) != 2 for p in coordinates):
        raise ValueError(f"panel {title!r}: points must be an (n, 2) array of x, y coordinates with n >= 1")
    n = len(coordinates)
    for name, indices in (("path", path), ("reference", reference), ("highlight", highlight)):
        outside = [int(i) for i in indices if not 0 <= int(i) < n]
        if outside:
            raise ValueError(f"panel {title!r}: {name} names points {outside}, but there are {n} points (0 .. {n - 1})")
    panel: dict[str, Any] = {"type": "points", "title": title, "points": coordinates, "path": [int(i) for i in path],
                             "closed": bool(closed), "reference": [int(i) for i in reference],
                             "highlight": [int(i) for i in highlight], "labels": bool(labels), "width": int(width)}
    if weights is not None:
        values = _numbers(weights, f"weights of panel {title!r}")
        if not isinstance(values, list) or len(values) != n or (values and isinstance(values[0], list)):
            raise ValueError(f"panel {title!r}: weights must have one number per point ({n})")
        panel["weights"] = values
    if max_value is not None:
        panel["max"] = float(max_value)
    return panel


def frame(name: str, panels: Sequence[dict], text: str = "") -> dict:
    """One frame of a frames view: a title, an optional sentence, and its panels."""
    if not panels:
        raise ValueError(f"frame {name!r} has no panels")
    return {"name": name, "text": text, "panels": list(panels)}


def frames_view(examples: Sequence[dict], *, title: str = "", caption: str = "", frame_label: str = "step",
                example_label: str = "example", interval_ms: int = 700) -> dict:
    """A static view stepped through with a slider; ``examples`` are ``{"name": ..., "frames": [frame(...)]}``."""
    if not examples:
        raise ValueError("a frames view needs at least one example")
    for example in examples:
        if not example.get("frames"):
            raise ValueError(f"example {example.get('name')!r} has no frames")
    return {"kind": "frames", "title": title, "caption": caption, "frame_label": frame_label,
            "example_label": example_label, "interval_ms": interval_ms, "examples": list(examples)}


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return resources.files("attnmem.viz").joinpath(name).read_text(encoding="utf-8")


def static_html(spec: dict) -> str:
    """Self-contained HTML for a view spec: the data, the stylesheet and the runtime, inline."""
    if spec.get("kind") not in ("alignment", "frames"):
        raise ValueError(f"unknown view kind {spec.get('kind')!r}; use alignment_view or frames_view")
    data = json.dumps(spec, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    ident = "am-" + hashlib.sha1(data.encode()).hexdigest()[:10]
    return (
        f'<div class="attnmem-explorer" id="{ident}" data-kind="{html.escape(spec["kind"])}">'
        f'<script type="application/json">{data}</script></div>'
        f"<style>{_asset('explorer.css')}</style><script>{_asset('explorer.js')}</script>"
    )


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class Explorer:
    """Base class of every explorer. Subclasses implement ``view_spec`` and ``figure``, and the live UI."""

    title: str = "explorer"

    def view_spec(self) -> dict:
        """The static view (``alignment_view(...)`` or ``frames_view(...)``) of precomputed weights."""
        raise TypeError(f"{type(self).__name__} must implement view_spec()")

    def figure(self) -> Any:
        """A matplotlib figure that shows the same thing, for print and plain-text readers."""
        raise TypeError(f"{type(self).__name__} must implement figure()")

    def controls(self) -> dict[str, Any]:
        """The live UI's widgets, by the keyword they give to ``draw_live``."""
        return {}

    def draw_live(self, **values: Any) -> None:
        """Draw the live view for the controls' values (with matplotlib; the output is captured)."""
        import matplotlib.pyplot as plt

        self.figure()
        plt.show()

    def widget(self) -> Any:
        """The live ipywidgets UI: the controls above an output that redraws when they change."""
        import ipywidgets as widgets

        controls = self.controls()
        output = widgets.interactive_output(self.draw_live, controls)
        return widgets.VBox([widgets.HBox(list(controls.values())), output])

    def to_html(self) -> str:
        return static_html(self.view_spec())

    def to_png(self) -> bytes:
        import matplotlib.pyplot as plt

        fig = self.figure()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        return buffer.getvalue()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.title}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {
            "text/plain": repr(self),
            "text/html": self.to_html(),
            "image/png": base64.b64encode(self.to_png()).decode("ascii"),
        }
        if _in_kernel():
            bundle.update(self.widget()._repr_mimebundle_())
            bundle["text/plain"] = repr(self)
        return bundle
