"""The neural programmer's explorer (chapter 9): the program a trained model induces, step by step.

For each question and table, every step shows the soft choice of operation, column and question number, the row
selector as it evolves, and the program of the most probable choices written out. In the book (no kernel) the
reader steps through precomputed questions of every kind; live, the reader picks a question or types a new one from
the templates' words, and the model runs on it.

Everything shown comes from the ``TableTrace`` the model returns and from ``run_program``.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

from attnmem.programmer import OPERATIONS, TableProgrammer, TableTrace, induced_programs, program_text, run_program
from attnmem.tasks.tables import Question, collate, parse_question
from attnmem.viz.explorer import Explorer, bars_panel, frame, frames_view, matrix_panel, text_panel
from attnmem.viz.plots import heatmap

__all__ = ["ProgrammerExplorer"]


def _table_text(question: Question) -> str:
    width = max(6, *(len(c) for c in question.columns))
    header = "row " + " ".join(f"{c:>{width}}" for c in question.columns)
    rows = [f"{i:>3} " + " ".join(f"{v:>{width}g}" for v in row) for i, row in enumerate(question.table.tolist())]
    return "\n".join([header, *rows])


class ProgrammerExplorer(Explorer):
    """Run a ``TableProgrammer`` on ``questions`` and show, step by step, what it chose and what that did."""

    title = "neural programmer: the program induced for a question"

    def __init__(self, model: TableProgrammer, questions: Sequence[Question]) -> None:
        if not isinstance(model, TableProgrammer):
            raise TypeError(f"ProgrammerExplorer needs an attnmem.programmer.TableProgrammer, got "
                            f"{type(model).__name__}")
        if not questions:
            raise ValueError("give at least one question, e.g. attnmem.tasks.tables.sample_questions(4, seed=0)")
        self.model = model.eval()
        self.questions = list(questions)
        self.traces = [self.run(q) for q in self.questions]

    def run(self, question: Question) -> TableTrace:
        """The model's trace for one question (batch of one)."""
        with torch.no_grad():
            return self.model(collate([question]))

    def _summary(self, question: Question, trace: TableTrace) -> tuple[str, str]:
        program = induced_programs(trace)[0]
        result = run_program(program, question.table, question.numbers)
        if question.is_lookup or (result.cells and question.kind == "free"):
            got = ", ".join(f"{question.table[r, c]:g}" for r, c in result.cells) or "nothing"
            answer = f"prints {got}"
        else:
            answer = f"answers {result.scalar:g} (soft answer {float(trace.scalar[0]):.2f})"
        if question.kind != "free":
            answer += f"; the correct answer is {question.answer:g}"
        return program_text(program, question.columns, question.numbers), answer

    def _frames(self, question: Question, trace: TableTrace) -> list[dict]:
        program, answer = self._summary(question, trace)
        lines = program.split("\n")
        rows = [f"row {i}" for i in range(question.table.shape[0])]
        steps = trace.operations.shape[1]
        frames = []
        for t in range(steps):
            marked = "\n".join(("-> " if i == t else "   ") + line for i, line in enumerate(lines))
            selectors = trace.selectors[0, : t + 1].T  # (R, t+1)
            panels = [
                text_panel(f"{question.text}\n\n{_table_text(question)}", title="question and table"),
                bars_panel(trace.operations[0, t], title=f"operation at step {t + 1}", labels=list(OPERATIONS),
                           horizontal=True, max_value=1.0, highlight=[int(trace.operations[0, t].argmax())]),
                bars_panel(trace.columns[0, t], title=f"column at step {t + 1}", labels=list(question.columns),
                           horizontal=True, max_value=1.0, highlight=[int(trace.columns[0, t].argmax())]),
            ]
            if question.numbers:
                numbers = [f"{n:g}" for n in question.numbers]
                panels.append(bars_panel(trace.numbers[0, t, : len(numbers)], title="question number pointed at",
                                         labels=numbers, horizontal=True, max_value=1.0))
            panels += [
                matrix_panel(selectors, title="row selector after each step", row_labels=rows,
                             col_labels=[str(i + 1) for i in range(t + 1)], highlight_col=t, max_value=1.0,
                             wide=False),
                text_panel(f"{marked}\n\n{answer}", title="induced program (most probable choices)"),
            ]
            frames.append(frame(f"step {t + 1}", panels, text=lines[t]))
        return frames

    def view_spec(self) -> dict:
        examples = [{"name": f"{q.kind}: {q.text}", "frames": self._frames(q, tr)}
                    for q, tr in zip(self.questions, self.traces)]
        return frames_view(examples, title=self.title, frame_label="step", example_label="question",
                           caption="Step through the program: at each step the controller spreads its choice over "
                                   "operations and columns; the row selector shows which rows are still in play.")

    def _draw(self, question: Question, trace: TableTrace) -> Any:
        import matplotlib.pyplot as plt

        program, answer = self._summary(question, trace)
        steps = [str(t + 1) for t in range(trace.operations.shape[1])]
        fig, axes = plt.subplots(1, 4, figsize=(13, 3.4), gridspec_kw={"width_ratios": [1.6, 1, 1, 1.3]})
        heatmap(trace.operations[0].T, x_labels=steps, y_labels=list(OPERATIONS), ax=axes[0], vmax=1.0,
                title="operation", xlabel="step", colorbar=False)
        heatmap(trace.columns[0].T, x_labels=steps, y_labels=list(question.columns), ax=axes[1], vmax=1.0,
                title="column", xlabel="step", colorbar=False)
        heatmap(trace.selectors[0].T, x_labels=steps, y_labels=[str(i) for i in range(trace.selectors.shape[2])],
                ax=axes[2], vmax=1.0, title="row selector", xlabel="step", ylabel="row", colorbar=False)
        axes[3].axis("off")
        axes[3].text(0, 1, f"{program}\n\n{answer}", va="top", family="monospace", fontsize=8, wrap=True)
        fig.suptitle(question.text, fontsize=10)
        fig.tight_layout()
        return fig

    def figure(self) -> Any:
        return self._draw(self.questions[0], self.traces[0])

    def controls(self) -> dict[str, Any]:
        import ipywidgets as widgets

        options = [(f"{q.kind}: {q.text}", i) for i, q in enumerate(self.questions)]
        return {
            "index": widgets.Dropdown(options=options, value=0, description="table of",
                                      layout=widgets.Layout(width="55%")),
            "text": widgets.Text(value=self.questions[0].text, description="question",
                                 layout=widgets.Layout(width="45%"), continuous_update=False),
        }

    def draw_live(self, index: int = 0, text: str = "") -> None:
        """Run the model on ``text`` (a question in the templates' words) about the table of question ``index``."""
        import matplotlib.pyplot as plt

        chosen = self.questions[index]
        if not text.strip() or text == chosen.text:
            question = chosen
        else:
            try:
                question = parse_question(text, chosen.table, chosen.columns)
            except ValueError as error:
                print(f"cannot read that question: {error}")
                return
        self._draw(question, self.run(question))
        plt.show()
