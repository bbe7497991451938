"""Pictures of attention and memory: one heatmap helper, and explorers that work live and in the static book."""
from attnmem.viz.explorer import (
    Explorer,
    alignment_example,
    alignment_view,
    bars_panel,
    frame,
    frames_view,
    matrix_panel,
    static_html,
    text_panel,
    tokens_panel,
)
from attnmem.viz.plots import heatmap

__all__ = [
    "Explorer",
    "alignment_example",
    "alignment_view",
    "bars_panel",
    "frame",
    "frames_view",
    "heatmap",
    "matrix_panel",
    "static_html",
    "text_panel",
    "tokens_panel",
]
