"""The translation chapters' explorers (2–4): what a decoder produces, where it looks, and where it first goes wrong.

- ``BottleneckExplorer`` (chapter 2): a length slider over models with and without attention, side by side, each
  translation shaded from its first wrong word on, with exact match by length;
- ``AlignmentExplorer`` (chapter 3): hover a target word to light up the source words it attended to;
- ``ScoreFunctionsExplorer`` (chapter 4): the alignments of models that differ only in their score function, on the
  same sentences, with each model's exact match.
"""
from __future__ import annotations

from statistics import median
from typing import Any, Callable, Mapping, Sequence

import torch

from attnmem.seq2seq import Seq2Seq, greedy_batch, score_translations, translate_sentence
from attnmem.tasks.translation import GrammarError, Pair, Vocab, make_batch, sample_pairs, translate
from attnmem.viz.explorer import (
    Explorer,
    alignment_example,
    alignment_view,
    bars_panel,
    frame,
    frames_view,
    tokens_panel,
)
from attnmem.viz.plots import heatmap

__all__ = ["first_error", "AlignmentExplorer", "BottleneckExplorer", "ScoreFunctionsExplorer"]


def first_error(words: Sequence[str], reference: Sequence[str]) -> int | None:
    """Index of the first of ``words`` that differs from ``reference`` (both ending in ``<eos>`` where they end).

    None when they are equal. A translation that stops early is wrong at its ``<eos>``; one that runs on is wrong at
    the word where the reference has ``<eos>``.
    """
    for k, (word, expected) in enumerate(zip(words, reference)):
        if word != expected:
            return k
    if len(words) == len(reference):
        return None
    return min(len(words), len(reference), len(words) - 1)


def _reference(sentence: str, order: str) -> list[str] | None:
    """The grammar's translation plus ``<eos>`` when the sentence belongs to the synthetic grammar, else None."""
    try:
        return translate(sentence, order) + ["<eos>"]
    except GrammarError:
        return None


def _verdict(words: list[str], reference: list[str] | None) -> tuple[str, int | None]:
    """A one-line verdict on a decoded translation, and the index of its first wrong word."""
    if reference is None:
        return "no reference (the sentence is outside the synthetic grammar)", None
    wrong = first_error(words, reference)
    if wrong is None:
        return "correct: equals the grammar's translation", None
    expected = reference[wrong] if wrong < len(reference) else "(nothing)"
    return (f"wrong from target word {wrong + 1} ('{words[wrong]}' where the grammar has '{expected}'); "
            f"the grammar says: {' '.join(reference[:-1])}"), wrong


def _decode(model: Seq2Seq, sentence: str, src_vocab: Vocab, tgt_vocab: Vocab,
            beam_size: int = 1) -> tuple[list[str], list[str], Any, float]:
    """(source words + <eos>, target words + <eos> if it ended, alignment (rows, columns), log-probability)."""
    source, target, result = translate_sentence(model, sentence, src_vocab, tgt_vocab, beam_size)
    ended = result.alignment is not None and result.alignment.shape[0] > len(target)
    return source, target + ["<eos>"] * ended, result.alignment, result.log_prob


def _draw_translation(decode: Callable[[], tuple[list[str], list[str], Any, float]],
                      title: Callable[[list[str]], str], sentence: str, order: str) -> None:
    """The live view of a translation explorer: ``decode()``'s alignment as a heatmap sized to the sentence, titled
    ``title(target words)``, and the verdict against the grammar; a sentence the model cannot read gets a message."""
    import matplotlib.pyplot as plt

    try:
        source, target, alignment, _ = decode()
    except (KeyError, ValueError) as error:
        print(f"cannot translate this sentence: {error}")
        return
    fig, ax = plt.subplots(figsize=(min(12, 2 + 0.4 * len(source)), min(10, 1.5 + 0.3 * len(target))))
    heatmap(alignment, source, target, ax=ax, xlabel="source", ylabel="target", title=title(target))
    plt.show()
    print(_verdict(target, _reference(sentence, order))[0])


def _check_attention(model: Seq2Seq, name: str) -> None:
    if model.attention == "none":
        raise ValueError(f"{name} has no attention, so there is no alignment to explore; load an attention model "
                         "such as attnmem.zoo.load('seq2seq_bahdanau')")


def _check_sentences(sentences: Sequence[str], src_vocab: Vocab) -> list[str]:
    if not sentences:
        raise ValueError("give at least one sentence to explore, e.g. ['the big dog often sees a cat']")
    cleaned = [" ".join(s.split()) for s in sentences]
    for sentence in cleaned:
        src_vocab.encode(sentence.split())  # fail now, with a clear message, on unknown words or empty input
    return cleaned


class AlignmentExplorer(Explorer):
    """Alignments of an attention translation model, one example per sentence and decoding method.

    ``sentences`` are source sentences (strings); ``beam_sizes`` lists the decodings to show (1 = greedy), each as
    its own example, so greedy and beam search can be compared on the same sentence. Hover a target word (a row) to
    light up the source words it attended to while it was produced; going down the rows steps through decoding.
    A wrong translation has its first wrong word outlined. Live, type any sentence and pick the beam size.
    """

    title = "alignments: hover a target word to see where the decoder looked"

    def __init__(self, model: Seq2Seq, src_vocab: Vocab, tgt_vocab: Vocab, sentences: Sequence[str],
                 beam_sizes: Sequence[int] = (1, 5), order: str = "reordered") -> None:
        _check_attention(model, "this model")
        if not beam_sizes or any(not isinstance(b, int) or b < 1 for b in beam_sizes):
            raise ValueError(f"beam_sizes must be positive ints (1 = greedy), got {beam_sizes!r}")
        self.model, self.src_vocab, self.tgt_vocab, self.order = model, src_vocab, tgt_vocab, order
        self.sentences, self.beam_sizes = _check_sentences(sentences, src_vocab), list(beam_sizes)

    def decode(self, sentence: str, beam_size: int) -> tuple[list[str], list[str], Any, float]:
        """(source words + <eos>, target words + <eos> if it ended, alignment (rows, columns), log-probability)."""
        return _decode(self.model, sentence, self.src_vocab, self.tgt_vocab, beam_size)

    @staticmethod
    def _method(beam_size: int) -> str:
        return "greedy" if beam_size == 1 else f"beam {beam_size}"

    def view_spec(self) -> dict:
        examples = []
        for sentence in self.sentences:
            for beam_size in self.beam_sizes:
                source, target, alignment, log_prob = self.decode(sentence, beam_size)
                verdict, wrong = _verdict(target, _reference(sentence, self.order))
                top = alignment.argmax(-1).tolist()
                examples.append(alignment_example(
                    f"{self._method(beam_size)}: {sentence}", target, source, alignment,
                    row_notes=[f"step {t + 1}: looks most at '{source[j]}'" for t, j in enumerate(top)],
                    note=f"{self._method(beam_size)}, log-probability {log_prob:.3f}; {verdict}",
                    marks=None if wrong is None else {wrong: "the first wrong word"},
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
        _draw_translation(lambda: self.decode(sentence, beam_size),
                          lambda target: f"{self._method(beam_size)}: {' '.join(target[:-1])}", sentence, self.order)


class BottleneckExplorer(Explorer):
    """Models side by side on sentences of growing length, each translation shaded from its first wrong word on.

    ``models`` maps a name to a model (chapter 2: the encoder–decoder without attention and one with it). For every
    length in ``lengths`` the explorer greedily decodes ``per_length`` fresh sentences (seeded) with every model and
    keeps the exact match and the position of the first wrong word; the static view steps through the lengths with
    one example sentence each. Live, pick any length and sentence seed.
    """

    title = "one vector or attention: where each translation first goes wrong"

    def __init__(self, models: Mapping[str, Seq2Seq], src_vocab: Vocab, tgt_vocab: Vocab,
                 lengths: Sequence[int] = tuple(range(5, 51, 5)), per_length: int = 20, seed: int = 0,
                 order: str = "reordered") -> None:
        if len(models) < 1:
            raise ValueError("give at least one model, e.g. {'no attention': zoo.load('seq2seq_plain')}")
        if not lengths or any(not isinstance(n, int) or n < 3 for n in lengths):
            raise ValueError(f"lengths must be whole numbers of words, at least 3 (the shortest sentence), "
                             f"got {list(lengths)!r}")
        if per_length < 1:
            raise ValueError(f"per_length must be at least 1 sentence, got {per_length}")
        self.models = {name: model.eval() for name, model in models.items()}
        self.src_vocab, self.tgt_vocab, self.order, self.seed = src_vocab, tgt_vocab, order, seed
        self.lengths = sorted(set(lengths))
        self.results = {n: self.measure(n, per_length) for n in self.lengths}

    def translate(self, pairs: Sequence[Pair]) -> dict[str, list[list[str]]]:
        """Every model's greedy translation of every pair's source, each ending in <eos> where it ended."""
        batch = make_batch(list(pairs), self.src_vocab, self.tgt_vocab)
        out = {}
        for name, model in self.models.items():
            with torch.no_grad():
                ids, _ = greedy_batch(model, batch.src, batch.src_lengths, 2 * batch.tgt_out.shape[1] + 5)
            out[name] = []
            for row in ids.tolist():
                words = self.tgt_vocab.decode(row)
                out[name].append(words + ["<eos>"] * (Vocab.EOS in row))
        return out

    def measure(self, length: int, n: int) -> dict[str, Any]:
        """For ``n`` sentences of ``length`` words: the pairs, every model's translations, exact match and the
        median position (1-based) of the first wrong word among the wrong ones."""
        pairs = sample_pairs(n, length, length, self.seed + length, self.order)
        translations = self.translate(pairs)
        result: dict[str, Any] = {"pairs": pairs, "translations": translations, "exact": {}, "median_first": {}}
        for name, words in translations.items():
            errors = [first_error(w, p.target + ["<eos>"]) for w, p in zip(words, pairs)]
            wrong = [k + 1 for k in errors if k is not None]
            result["exact"][name] = 1 - len(wrong) / len(pairs)
            result["median_first"][name] = float(median(wrong)) if wrong else None
        return result

    def _summary(self, length: int) -> str:
        result = self.results[length]
        parts = []
        for name in self.models:
            where = result["median_first"][name]
            parts.append(f"{name}: {result['exact'][name]:.0%} exactly right"
                         + ("" if where is None else f", the wrong ones first err at word {where:g} (median)"))
        return f"{len(result['pairs'])} sentences of {length} words. " + "; ".join(parts) + "."

    def view_spec(self) -> dict:
        labels = [str(n) for n in self.lengths]
        frames = []
        for i, length in enumerate(self.lengths):
            result = self.results[length]
            pair = result["pairs"][0]
            panels = [tokens_panel(pair.source, title=f"source ({length} words), the first of the sentences"),
                      tokens_panel(pair.target + ["<eos>"], title="the grammar's translation")]
            for name in self.models:
                words = result["translations"][name][0]
                panels.append(tokens_panel(words, title=name, judged=True,
                                           first_wrong=first_error(words, pair.target + ["<eos>"])))
            for name in self.models:
                panels.append(bars_panel([self.results[n]["exact"][name] for n in self.lengths],
                                         title=f"{name}: exact match by length", labels=labels, highlight=[i],
                                         max_value=1.0, value_label="exact match", label_title="source length"))
            frames.append(frame(f"sentences of {length} words", panels, text=self._summary(length)))
        return frames_view([{"name": "by length", "frames": frames}], title=self.title, frame_label="length",
                           caption="Move the slider to lengthen the sentence. Green words are right; from the "
                                   "first wrong word (outlined) on, the translation is shaded red.")

    def figure(self) -> Any:
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
        for name in self.models:
            left.plot(self.lengths, [self.results[n]["exact"][name] for n in self.lengths], "o-", label=name)
            firsts = [(n, self.results[n]["median_first"][name]) for n in self.lengths]
            right.plot([n for n, f in firsts if f is not None], [f for _, f in firsts if f is not None], "o-",
                       label=name)
        left.set(xlabel="source length (words)", ylabel="exact match", ylim=(0, 1.02))
        right.set(xlabel="source length (words)", ylabel="first wrong word (median)")
        left.legend(frameon=False, fontsize=8)
        fig.tight_layout()
        return fig

    def controls(self) -> dict[str, Any]:
        import ipywidgets as widgets

        return {"length": widgets.IntSlider(value=self.lengths[len(self.lengths) // 2], min=3, max=60,
                                            description="length"),
                "sentence_seed": widgets.IntSlider(value=0, min=0, max=99, description="sentence")}

    def draw_live(self, length: int = 20, sentence_seed: int = 0) -> None:
        pair = sample_pairs(1, length, length, 10_000 + sentence_seed, self.order)[0]
        reference = pair.target + ["<eos>"]
        print("source:   ", " ".join(pair.source))
        print("reference:", " ".join(reference))
        for name, (words,) in self.translate([pair]).items():
            wrong = first_error(words, reference)
            shown = [f"[{w}]" if k == wrong else w for k, w in enumerate(words)]
            verdict = "correct" if wrong is None else f"first wrong word: {wrong + 1}, in brackets"
            print(f"{name}: {' '.join(shown)}\n    ({verdict})")


class ScoreFunctionsExplorer(Explorer):
    """Alignments of models that differ only in their score function, on the same sentences.

    ``models`` maps a score's name (dot, general, concat, additive...) to a trained attention model; every model's
    exact match is measured by greedy decoding of ``held_out`` pairs. Pick a score and a sentence and hover a target
    word; a wrong translation has its first wrong word outlined. Live, type a sentence and pick the score.
    """

    title = "four score functions, one sentence: hover a target word"

    def __init__(self, models: Mapping[str, Seq2Seq], src_vocab: Vocab, tgt_vocab: Vocab, sentences: Sequence[str],
                 held_out: Sequence[Pair], order: str = "reordered") -> None:
        if not models:
            raise ValueError("give at least one model, e.g. {'dot': model}")
        for name, model in models.items():
            _check_attention(model, f"model {name!r}")
        if not held_out:
            raise ValueError("give held-out pairs to measure exact match on, e.g. task.pairs(200, seed=21)")
        self.models, self.src_vocab, self.tgt_vocab, self.order = dict(models), src_vocab, tgt_vocab, order
        self.sentences = _check_sentences(sentences, src_vocab)
        self.exact_match, self.held_out = {}, len(held_out)
        for name, model in self.models.items():
            batch = make_batch(list(held_out), src_vocab, tgt_vocab)
            with torch.no_grad():
                ids, _ = greedy_batch(model.eval(), batch.src, batch.src_lengths, 2 * batch.tgt_out.shape[1] + 5)
            hypotheses = [tgt_vocab.decode(row) for row in ids.tolist()]
            self.exact_match[name] = score_translations(hypotheses, [p.target for p in held_out])["exact_match"]

    def view_spec(self) -> dict:
        examples = []
        for sentence in self.sentences:
            reference = _reference(sentence, self.order)
            for name, model in self.models.items():
                source, target, alignment, _ = _decode(model, sentence, self.src_vocab, self.tgt_vocab)
                verdict, wrong = _verdict(target, reference)
                examples.append(alignment_example(
                    f"{name}: {sentence}", target, source, alignment,
                    note=f"{name}: exact match {self.exact_match[name]:.3f} on {self.held_out} held-out sentences. "
                         f"This sentence: {verdict}",
                    marks=None if wrong is None else {wrong: "the first wrong word"},
                ))
        return alignment_view(examples, title=self.title, row_label="target word", col_label="source word",
                              example_label="score and sentence",
                              hint="Pick a score function, then hover a target word to light up its source words.")

    def figure(self) -> Any:
        import matplotlib.pyplot as plt

        sentence, columns = self.sentences[0], min(2, len(self.models))
        rows = -(-len(self.models) // columns)
        fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.9 * rows), squeeze=False)
        for ax, (name, model) in zip(axes.flat, self.models.items()):
            source, target, alignment, _ = _decode(model, sentence, self.src_vocab, self.tgt_vocab)
            heatmap(alignment, source, target, ax=ax, colorbar=False,
                    title=f"{name} (exact match {self.exact_match[name]:.2f})")
        for ax in list(axes.flat)[len(self.models):]:
            ax.axis("off")
        fig.tight_layout()
        return fig

    def controls(self) -> dict[str, Any]:
        import ipywidgets as widgets

        return {"score": widgets.Dropdown(options=list(self.models), description="score"),
                "sentence": widgets.Text(value=self.sentences[0], description="sentence", continuous_update=False,
                                         layout=widgets.Layout(width="60%"))}

    def draw_live(self, score: str = "", sentence: str = "") -> None:
        _draw_translation(lambda: _decode(self.models[score], sentence, self.src_vocab, self.tgt_vocab),
                          lambda target: f"{score} (exact match {self.exact_match[score]:.2f})", sentence, self.order)
