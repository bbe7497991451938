"""The chapter 10 head explorer: what each layer's and head's attention does, beside the task's known alignment."""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import torch
from torch import Tensor

from attnmem.seq2seq import translate_sentence
from attnmem.tasks.translation import GrammarError, Vocab, alignment, translate
from attnmem.transformer import AttentionMaps, Transformer
from attnmem.viz.explorer import Explorer, alignment_example, alignment_view
from attnmem.viz.plots import heatmap

__all__ = ["Heads", "read_heads", "HeadExplorer", "outline_gold"]

#: the colour of the known alignment's outline, the same in the static view (explorer.css, ``.am-gold``)
GOLD = "#c2255c"


class Heads(NamedTuple):
    """One sentence translated, and every head's weights while the translation was produced."""

    source: list[str]  # source words + <eos>
    target: list[str]  # the model's words (+ <eos> if it ended)
    maps: AttentionMaps  # one (1, heads, queries, keys) tensor per layer and kind
    gold: list[int] | None  # the known alignment of each target word, when the translation is the grammar's
    agreement: Tensor | None  # (layers, heads): how often each head's strongest source word is the gold one


@torch.no_grad()
def read_heads(model: Transformer, sentence: str, src_vocab: Vocab, tgt_vocab: Vocab) -> Heads:
    """Translate ``sentence`` greedily, then feed the translation back (teacher forcing) to read every head."""
    source, target, result = translate_sentence(model, sentence, src_vocab, tgt_vocab)
    ended = result.alignment.shape[0] > len(target)
    ids = torch.tensor([[Vocab.BOS] + result.ids])[:, : len(target) + ended]
    src = torch.tensor([src_vocab.encode(sentence.split())])
    maps = model(src, torch.tensor([src.shape[1]]), ids).attention
    try:
        correct = ended and target == translate(sentence)
    except GrammarError:
        correct = False
    if not correct:
        return Heads(source, target + ["<eos>"] * ended, maps, None, None)
    gold = alignment(sentence) + [len(source) - 1]  # <eos> translates <eos>
    hits = [(layer[0].argmax(-1) == torch.tensor(gold)).float().mean(-1) for layer in maps.cross]
    return Heads(source, target + ["<eos>"], maps, gold, torch.stack(hits))


def outline_gold(ax: Any, gold: Sequence[int], width: float) -> None:
    """Outline the cell (target word t, source word gold[t]) of each target word in a heatmap, as the static view
    does, so the known alignment sits in the grid itself."""
    from matplotlib.patches import Rectangle

    for t, g in enumerate(gold):
        ax.add_patch(Rectangle((g - 0.5, t - 0.5), 1, 1, fill=False, edgecolor=GOLD, linewidth=width,
                               label="known alignment" if t == 0 else None))


class HeadExplorer(Explorer):
    """Every layer and head of a Transformer on a few sentences: attention over the source while each target word
    is produced (with the known alignment and each head's agreement with it), and the encoder's self-attention.

    Pick a layer, head and kind of attention from the list; hover a target (or source) word to light up the words it
    attends to. Live, type a sentence and move the sliders.
    """

    title = "heads: pick a layer and head, hover a word to see where it looks"

    def __init__(self, model: Transformer, src_vocab: Vocab, tgt_vocab: Vocab, sentences: Sequence[str]) -> None:
        if not isinstance(model, Transformer):
            raise TypeError(f"HeadExplorer explores a attnmem.transformer.Transformer, got {type(model).__name__}; "
                            f"for chapter 3's recurrent models use attnmem.viz.translation.AlignmentExplorer")
        if not sentences:
            raise ValueError("give at least one sentence to explore, e.g. ['the big dog often sees a cat']")
        self.model, self.src_vocab, self.tgt_vocab = model, src_vocab, tgt_vocab
        self.sentences = [" ".join(s.split()) for s in sentences]
        for sentence in self.sentences:
            src_vocab.encode(sentence.split())  # fail now, with a clear message, on unknown words or empty input

    def read(self, sentence: str) -> Heads:
        return read_heads(self.model, sentence, self.src_vocab, self.tgt_vocab)

    @staticmethod
    def _head_name(head: int | None) -> str:
        return "mean of heads" if head is None else f"head {head + 1}"

    def _cross_example(self, sentence: str, heads: Heads, layer: int, head: int | None) -> dict:
        weights = heads.maps.cross[layer][0]
        matrix = weights.mean(0) if head is None else weights[head]
        if heads.gold is None:
            notes, score = None, "the translation is wrong, so there is no gold alignment to score against"
        else:
            notes = [f"gold: '{heads.source[g]}' ({100 * float(matrix[t, g]):.0f}% of this row)"
                     for t, g in enumerate(heads.gold)]
            agreement = float((matrix.argmax(-1) == torch.tensor(heads.gold)).float().mean())
            score = f"agrees with the known alignment on {100 * agreement:.0f}% of the words"
        return alignment_example(
            f"{sentence[:40]}… | layer {layer + 1}, {self._head_name(head)}: target → source", heads.target,
            heads.source, matrix, row_notes=notes, gold=heads.gold, row_label="target word", col_label="source word",
            note=f"decoder layer {layer + 1}, {self._head_name(head)}, attention over the source; {score}")

    def _encoder_example(self, sentence: str, heads: Heads, layer: int, head: int) -> dict:
        matrix = heads.maps.encoder[layer][0, head]
        return alignment_example(
            f"{sentence[:40]}… | layer {layer + 1}, head {head + 1}: source → source", heads.source, heads.source,
            matrix, row_label="source word", col_label="source word",
            note=f"encoder layer {layer + 1}, head {head + 1}: self-attention, each source word over the others")

    def view_spec(self) -> dict:
        examples = []
        for sentence in self.sentences:
            heads = self.read(sentence)
            for layer in range(len(heads.maps.cross)):
                for head in [*range(self.model.heads), None]:
                    examples.append(self._cross_example(sentence, heads, layer, head))
            for layer in range(len(heads.maps.encoder)):
                for head in range(self.model.heads):
                    examples.append(self._encoder_example(sentence, heads, layer, head))
        return alignment_view(examples, title=self.title, row_label="target word", col_label="source word",
                              example_label="sentence, layer, head",
                              hint="Hover a word to light up the words it attends to.")

    def figure(self) -> Any:
        import matplotlib.pyplot as plt

        heads = self.read(self.sentences[0])
        layers, count = len(heads.maps.cross), self.model.heads
        fig, axes = plt.subplots(layers, count, figsize=(2.6 * count, 2.6 * layers), squeeze=False)
        for layer in range(layers):
            for head in range(count):
                ax = axes[layer][head]
                heatmap(heads.maps.cross[layer][0, head], heads.source, heads.target, ax=ax, colorbar=False,
                        title=f"layer {layer + 1}, head {head + 1}" + (
                            "" if heads.agreement is None else f": {100 * float(heads.agreement[layer, head]):.0f}%"))
                if heads.gold is not None:
                    outline_gold(ax, heads.gold, width=1.0)
                ax.tick_params(labelsize=5)
        fig.tight_layout()
        return fig

    def controls(self) -> dict[str, Any]:
        import ipywidgets as widgets

        layers = len(self.model.layers)
        return {
            "sentence": widgets.Text(value=self.sentences[0], description="sentence", continuous_update=False,
                                     layout=widgets.Layout(width="60%")),
            "layer": widgets.IntSlider(value=layers, min=1, max=layers, description="layer"),
            "head": widgets.IntSlider(value=1, min=0, max=self.model.heads, description="head (0 = mean)"),
            "kind": widgets.Dropdown(options=["target → source", "source → source"], description="attention"),
        }

    def draw_live(self, sentence: str = "", layer: int = 1, head: int = 1, kind: str = "target → source") -> None:
        import matplotlib.pyplot as plt

        try:
            heads = self.read(sentence)
        except (KeyError, ValueError) as error:
            print(f"cannot translate this sentence: {error}")
            return
        cross = kind == "target → source"
        weights = (heads.maps.cross if cross else heads.maps.encoder)[layer - 1][0]
        matrix = weights.mean(0) if head == 0 else weights[head - 1]
        rows = heads.target if cross else heads.source
        fig, ax = plt.subplots(figsize=(min(12, 2 + 0.4 * len(heads.source)), min(10, 1.5 + 0.3 * len(rows))))
        heatmap(matrix, heads.source, rows, ax=ax, xlabel="source", ylabel="target" if cross else "source",
                title=f"layer {layer}, {self._head_name(None if head == 0 else head - 1)}")
        if cross and heads.gold is not None:
            outline_gold(ax, heads.gold, width=2.0)
            ax.legend(loc="upper right", fontsize=8)
        plt.show()
        print("translation: " + " ".join(heads.target))
