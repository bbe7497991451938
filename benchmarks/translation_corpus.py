"""Choosing the defaults of the corpus command (``python -m attnmem.training.translation``) at a CPU budget.

Nothing is downloaded: the corpus is the synthetic English -> Zeta pair of ``attnmem.tasks.translation``, written in
the Tatoeba/Anki format (capitalised sentences with a full stop, an attribution column, and some sources repeated,
as Tatoeba repeats English sentences). Each candidate trains for the same CPU-time budget on one thread, and is
judged on the VALIDATION split only (held out by source sentence); the command's own test split is never read here.
These are synthetic numbers: they rank settings for a budget, they are not a measurement on real language.

    python benchmarks/translation_corpus.py --seconds 600 --out benchmarks/results/translation_corpus.md
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import torch

from attnmem.checkpoint import read_manifest
from attnmem.tasks.translation import sample_pairs
from attnmem.training.translation import main as corpus_command

sys.path.insert(0, str(Path(__file__).parent))
from _publish import publish  # noqa: E402

CANDIDATES: dict[str, list[str]] = {
    "transformer d192 2+2, warm-up 100 (default)": [],
    "transformer d192 2+2, warm-up 400": ["--warmup", "400"],
    "transformer d128 2+2": ["--hidden", "128"],
    "transformer d256 3+3": ["--hidden", "256", "--layers", "3"],
    "transformer d192, lr 5e-4": ["--lr", "5e-4"],
    "bahdanau GRU 128": ["--model", "bahdanau", "--hidden", "128"],
}


def write_corpus(path: Path, sentences: int, seed: int) -> None:
    """``sentences`` synthetic pairs of 3-16 words, a quarter of them written a second time."""
    rng = random.Random(seed)
    lines = []
    for pair in sample_pairs(sentences, 3, 16, seed=seed):
        line = f"{' '.join(pair.source).capitalize()}.\t{' '.join(pair.target).capitalize()}.\tCC-BY 2.0 (synthetic)"
        lines += [line] * (2 if rng.random() < 0.25 else 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600, help="CPU seconds of training per candidate")
    parser.add_argument("--sentences", type=int, default=8000)
    parser.add_argument("--only", action="append", help="run only candidates whose name contains this")
    parser.add_argument("--out")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "synthetic.txt"
        write_corpus(corpus, args.sentences, seed=1)
        for name, extra in CANDIDATES.items():
            if args.only and not any(part in name for part in args.only):
                continue
            out = Path(folder) / "model.pt"
            corpus_command([str(corpus), "--out", str(out), "--seconds", str(args.seconds), "--threads", "1",
                            "--beam", "1", "--quiet", *extra])
            manifest = read_manifest(out)
            valid, training = manifest["scores"]["valid"]["greedy"], manifest["training"]
            rows.append(f"| {name} | {training['steps']} | {training['cpu_seconds']} | {valid['bleu']:.1f} | "
                        f"{valid['exact_match']:.3f} | {manifest['parameters']:,} |")
            signature = valid["signature"]
    publish("\n".join([
        f"# Corpus command: candidates at {args.seconds:g} CPU seconds (synthetic corpus)", "",
        f"`python benchmarks/translation_corpus.py --seconds {args.seconds:g}"
        f"{''.join(f' --only {o!r}' for o in args.only or [])}`: {args.sentences} synthetic "
        "English -> Zeta sentences of 3-16 words in the Tatoeba format, a quarter written twice; split by source "
        "sentence (5% validation, 5% test, seed 0). Scores are on the VALIDATION split (greedy decoding); the test "
        "split is not used to choose. One thread; CPU seconds (`time.process_time`), since the machine was shared.",
        "", f"BLEU: sacreBLEU, detokenized, {signature}", "",
        "| candidate | steps | CPU s | valid BLEU | valid exact match | parameters |",
        "|---|---|---|---|---|---|", *rows, ""]), args.out)


if __name__ == "__main__":
    main()
