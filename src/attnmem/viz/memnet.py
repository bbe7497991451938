"""The chapter 5 explorer: where does each hop of a memory network look in the story?

Pick a story: each frame is one hop, a bar per sentence showing that hop's attention, the supporting facts marked.
Live, edit the story (one sentence per line) or ask another question, and the model answers again.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from attnmem.memnet import Answered, MemN2N, answer_question
from attnmem.tasks.babi import Sample, Vocabulary, task_number
from attnmem.viz.explorer import Explorer, bars_panel, frame, frames_view, text_panel
from attnmem.viz.plots import heatmap

__all__ = ["MemNetExplorer"]


class MemNetExplorer(Explorer):
    """Per-hop attention of a memory network over the sentences of bAbI stories.

    ``examples`` is a list of ``(task, Sample)``; ``networks`` is one ``MemN2N`` that answers every task, or a
    mapping from each task number to the network that answers it (one network per task).
    """

    title = "memory network: each hop's attention over the story"

    def __init__(self, networks: MemN2N | Mapping[int, MemN2N], vocab: Vocabulary,
                 examples: Sequence[tuple[int, Sample]]) -> None:
        if not examples:
            raise ValueError("give at least one (task, Sample) example to explore")
        self.vocab = vocab
        self.examples = [(task_number(task), sample) for task, sample in examples]
        missing = [] if isinstance(networks, MemN2N) else sorted({t for t, _ in self.examples} - set(networks))
        if missing:
            raise KeyError(f"no network for task(s) {missing}: give one MemN2N, or a network for each example's task")
        self.networks = {task: networks if isinstance(networks, MemN2N) else networks[task]
                         for task, _ in self.examples}
        self.answers = [self._answer(task, sample) for task, sample in self.examples]  # fail early on bad input

    def _answer(self, task: int, sample: Sample) -> Answered:
        return answer_question(self.networks[task], self.vocab, sample)

    @staticmethod
    def _name(task: int, sample: Sample) -> str:
        return f"qa{task}: {sample.question}"

    def view_spec(self) -> dict:
        examples = []
        for (task, sample), answered in zip(self.examples, self.answers):
            verdict = "right" if answered.answer == ",".join(sample.answer).lower() else "wrong"
            summary = (f"Q: {sample.question}  predicted: {answered.answer} ({answered.probability:.0%}, {verdict}); "
                       f"true answer: {','.join(sample.answer)}")
            frames = [
                frame(f"hop {k + 1}", [
                    bars_panel(answered.attention[k], title=f"hop {k + 1} attention", labels=answered.sentences,
                               highlight=answered.support, horizontal=True, max_value=1.0, wide=True),
                    text_panel(summary, title="question and answer"),
                ], text=f"Hop {k + 1} of {len(answered.attention)}: highlighted bars are the supporting facts.")
                for k in range(len(answered.attention))
            ]
            examples.append({"name": self._name(task, sample), "frames": frames})
        return frames_view(examples, title=self.title, frame_label="hop", example_label="story",
                           caption="Each bar is one sentence of the story; its length is the attention weight. "
                                   "Marked bars are the supporting facts the task names.")

    def _draw(self, ax: Any, sample: Sample, answered: Answered) -> None:
        labels = [("* " if i in answered.support else "") + s for i, s in enumerate(answered.sentences)]
        hops = [f"hop {k + 1}" for k in range(len(answered.attention))]
        heatmap(answered.attention.T, x_labels=hops, y_labels=labels, ax=ax, vmax=1.0, annotate=True,
                title=f"{sample.question} -> {answered.answer} ({answered.probability:.0%})")

    def figure(self) -> Any:
        import matplotlib.pyplot as plt

        shown = list(zip(self.examples, self.answers))[:2]
        heights = [max(2.0, 0.32 * len(a.sentences) + 1.0) for _, a in shown]
        fig, axes = plt.subplots(len(shown), 1, figsize=(7.5, sum(heights)), squeeze=False,
                                 gridspec_kw={"height_ratios": heights})
        for ax, ((task, sample), answered) in zip(axes[:, 0], shown):
            self._draw(ax, sample, answered)
        fig.tight_layout()
        return fig

    def controls(self) -> dict[str, Any]:
        import ipywidgets as widgets

        names = [(self._name(t, s), i) for i, (t, s) in enumerate(self.examples)]
        first = self.examples[0][1]
        return {
            "story": widgets.Dropdown(options=names, value=0, description="story"),
            "text": widgets.Textarea(value="\n".join(first.context), description="sentences",
                                     layout=widgets.Layout(width="420px", height="160px")),
            "question": widgets.Text(value=first.question, description="question"),
        }

    def widget(self) -> Any:
        import ipywidgets as widgets

        controls = self.controls()

        def reset(change: dict) -> None:  # picking another story fills in its sentences and question
            sample = self.examples[change["new"]][1]
            controls["text"].value = "\n".join(sample.context)
            controls["question"].value = sample.question

        controls["story"].observe(reset, names="value")
        output = widgets.interactive_output(self.draw_live, controls)
        return widgets.VBox([controls["story"], widgets.HBox([controls["text"], controls["question"]]), output])

    def draw_live(self, story: int = 0, text: str = "", question: str = "") -> None:
        import matplotlib.pyplot as plt

        task, original = self.examples[story]
        sentences = tuple(line.strip() for line in text.splitlines() if line.strip())
        kept = [i + 1 for i, s in enumerate(sentences) if s in original.context and
                original.context_ids[original.context.index(s)] in original.support]
        sample = Sample(sentences, tuple(range(1, len(sentences) + 1)), question.strip(), original.answer,
                        tuple(kept))
        try:
            answered = self._answer(task, sample)
        except (KeyError, ValueError) as error:
            print(f"cannot answer: {error}")
            return
        fig, ax = plt.subplots(figsize=(7.5, max(2.0, 0.32 * len(answered.sentences) + 1.0)))
        self._draw(ax, sample, answered)
        plt.show()
