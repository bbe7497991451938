"""The chapter 3–4 explorer: which source words does each target word look at while it is being produced?"""
from __future__ import annotations

from typing import Any, Sequence

from attnmem.seq2seq import Seq2Seq, translate_sentence
from attnmem.tasks.translation import GrammarError, Vocab, translate
from attnmem.viz.explorer import Explorer, alignment_example, alignment_view
from attnmem.viz.plots import heatmap

__all__ = ["AlignmentExplorer"]


def _reference(sentence: str, order: str) -> list[str] | None:
    """The grammar's translation when the sentence belongs to the synthetic grammar, else None."""
    try:
        return translate(sentence, order)
    except GrammarError:
        return None


class AlignmentExplorer(Explorer):
    """Alignments of an attention translation model, one example per sentence and decoding method.

    ``sentences`` are source sentences (strings); ``beam_sizes`` lists the decodings to show (1 = greedy), each as
    its own example, so greedy and beam search can be compared on the same sentence. Hover a target word (a row) to
    light up the source words it attended to while it was produced; going down the rows steps through decoding.
    Live, type any sentence and pick the beam size.
    """

    title = "alignments: hover a target word to see where the decoder looked"

    def __init__(self, model: Seq2Seq, src_vocab: Vocab, tgt_vocab: Vocab, sentences: Sequence[str],
                 beam_sizes: Sequence[int] = (1, 5), order: str = "reordered") -> None:
        if model.attention == "none":
            raise ValueError("this model has no attention, so there is no alignment to explore; load an attention "
                             "model such as attnmem.zoo.load('seq2seq_bahdanau')")
        if not sentences:
            raise ValueError("give at least one sentence to explore, e.g. ['the big dog often sees a cat']")
        if not beam_sizes or any(not isinstance(b, int) or b < 1 for b in beam_sizes):
            raise ValueError(f"beam_sizes must be positive ints (1 = greedy), got {beam_sizes!r}")
        self.model, self.src_vocab, self.tgt_vocab, self.order = model, src_vocab, tgt_vocab, order
        self.sentences, self.beam_sizes = [" ".join(s.split()) for s in sentences], list(beam_sizes)
        for sentence in self.sentences:
            src_vocab.encode(sentence.split())  # fail now, with a clear message, on unknown words or empty input

    def decode(self, sentence: str, beam_size: int) -> tuple[list[str], list[str], Any, float]:
        """(source words + <eos>, target words + <eos> if it ended, alignment (rows, columns), log-probability)."""
        source, target, result = translate_sentence(self.model, sentence, self.src_vocab, self.tgt_vocab, beam_size)
        ended = result.alignment.shape[0] > len(target)
        return source, target + ["<eos>"] * ended, result.alignment, result.log_prob

    @staticmethod
    def _method(beam_size: int) -> str:
        return "greedy" if beam_size == 1 else f"beam {beam_size}"

    def _verdict(self, sentence: str, target: list[str]) -> str:
        reference = _reference(sentence, self.order)
        if reference is None:
            return "no reference (the sentence is outside the synthetic grammar)"
        if target[-1:] == ["<eos>"] and target[:-1] == reference:
            return "correct: equals the grammar's translation"
        return "wrong; the grammar says: " + " ".join(reference)

    def view_spec(self) -> dict:
        examples = []
        for sentence in self.sentences:
            for beam_size in self.beam_sizes:
                source, target, alignment, log_prob = self.decode(sentence, beam_size)
                top = alignment.argmax(-1).tolist()
                examples.append(alignment_example(
                    f"{self._method(beam_size)}: {sentence}", target, source, alignment,
                    row_notes=[f"step {t + 1}: looks most at '{source[j]}'" for t, j in enumerate(top)],
                    note=f"{self._method(beam_size)}, log-probability {log_prob:.3f}; {self._verdict(sentence, target)}",
                ))
        return alignment_view(examples, title=self.title, row_label="target word (decoding step)",
                              col_label="source word", example_label="sentence and decoding",
                              hint="Hover a target word to light up the source words it attended to.")

    def figure(self) -> Any:
        import matplotlib.pyplot as plt

        sentence = self.sentences[0]
        fig, axes = plt.subplots(1, len(self.beam_sizes), figsize=(5.5 * len(self.beam_sizes), 4.8), squeeze=False)
        for ax, beam_size in zip(axes[0], self.beam_sizes):
            source, target, alignment, log_prob = self.decode(sentence, beam_size)
            heatmap(alignment, source, target, ax=ax, title=f"{self._method(beam_size)} (log p = {log_prob:.2f})",
                    xlabel="source", ylabel="target", colorbar=False)
        fig.tight_layout()
        return fig

    def controls(self) -> dict[str, Any]:
        import ipywidgets as widgets

        return {
            "sentence": widgets.Text(value=self.sentences[0], description="sentence",
                                     continuous_update=False, layout=widgets.Layout(width="60%")),
            "beam_size": widgets.IntSlider(value=self.beam_sizes[-1], min=1, max=10, description="beam size"),
        }

    def draw_live(self, sentence: str = "", beam_size: int = 1) -> None:
        import matplotlib.pyplot as plt

        try:
            source, target, alignment, log_prob = self.decode(sentence, beam_size)
        except (KeyError, ValueError) as error:
            print(f"cannot translate this sentence: {error}")
            return
        fig, ax = plt.subplots(figsize=(min(12, 2 + 0.4 * len(source)), min(10, 1.5 + 0.3 * len(target))))
        heatmap(alignment, source, target, ax=ax, xlabel="source", ylabel="target",
                title=f"{self._method(beam_size)}: {' '.join(target[:-1])}")
        plt.show()
        print(self._verdict(sentence, target))
