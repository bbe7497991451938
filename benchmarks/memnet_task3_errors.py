"""Where the zoo's network for bAbI task 3 (three supporting facts) errs: its test error split by what each question
needs (lab notes: benchmarks/results/memnet_history.md, session 15).

    python benchmarks/memnet_task3_errors.py [--questions 2000] [--seed 11]

Each question asks for the room before the last on an object's trail. The splits: whether one person carried the
object into both rooms, or the object changed hands between them; whether the person who carried it into the room
the question names had been there before (an older move to the same room to be confused with); whether the room
asked for is the one where the object was picked up; whether a supporting fact lies beyond the network's
50-sentence memory, or all of them among the last 8 statements. A split that errs far more than the rest
points at what makes the generator's task 3 harder than the release's.
"""
from __future__ import annotations

import argparse
import re
from collections import defaultdict

import torch

from attnmem import zoo
from attnmem.tasks import babi

MEMORY = 50


def splits(sample: babi.Sample, story_text: dict[int, str]) -> dict[str, bool]:
    """What one question of task 3 needs, read from its story and supporting facts (oldest first)."""
    obj, named = re.match(r"Where was the (\w+) before the (\w+)\?", sample.question).groups()
    facts = [story_text[i] for i in sample.support]
    into_named = next(fact for fact in reversed(facts) if fact.rstrip(".").endswith(f" the {named}"))
    carrier = into_named.split()[0]
    return {
        "one carrier for both rooms": len({fact.split()[0] for fact in facts}) == 1,
        "its carrier had been in the named room before": sum(
            text.startswith(carrier + " ") and text.rstrip(".").endswith(f" the {named}") for text in sample.context
        ) > 1,
        "the answer is the room where it was picked up": f"the {obj}" not in facts[0],
        "a supporting fact beyond the memory": min(sample.support) < sample.context_ids[-MEMORY:][0],
        "all its supporting facts among the last 8 statements": min(sample.support) >= sample.context_ids[-8:][0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11, help="the generator stream (the chapter's is 11)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    network = zoo.load("memn2n_babi_1k").network(3)
    vocab = babi.Vocabulary.generator()
    stories = babi.generate(3, args.questions, seed=args.seed)
    questions, texts = [], []
    for story in stories:
        text = {line.id: line.text for line in story}
        for sample in babi.samples([story]):
            questions.append(sample)
            texts.append(text)
    batch = babi.vectorize(questions, vocab, MEMORY)
    with torch.no_grad():
        wrong = (network.run(batch).logits.argmax(-1) != batch.answer).float().tolist()
    counts: dict[tuple[str, bool], list[float]] = defaultdict(list)
    for sample, text, error in zip(questions, texts, wrong):
        for name, holds in splits(sample, text).items():
            counts[name, holds].append(error)
    print(f"task 3, {len(questions)} questions (stream {args.seed}): test error {100 * sum(wrong) / len(wrong):.1f}%\n")
    print("| what the question needs | questions: yes | error: yes | questions: no | error: no |")
    print("|---|---:|---:|---:|---:|")
    for name in splits(questions[0], texts[0]):
        yes, no = counts[name, True], counts[name, False]
        print(f"| {name} | {len(yes)} | {100 * sum(yes) / max(1, len(yes)):.1f}% | {len(no)} | "
              f"{100 * sum(no) / max(1, len(no)):.1f}% |")


if __name__ == "__main__":
    main()
