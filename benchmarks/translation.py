"""Benchmarks for chapters 2–4: accuracy against sentence length, beam-search latency, and the cost of attention.

    python benchmarks/translation.py                      # all, printed as markdown
    python benchmarks/translation.py --out benchmarks/results/translation.md
    python benchmarks/translation.py --quick              # fewer sentences per length, fewer repeats
    python benchmarks/translation.py --latency-only       # just the decoding latency (the beam-5 floor: <= 50 ms)

It uses the shipped zoo models (build them with ``python -m attnmem.zoo train NAME``); time-to-quality is read from
their manifests, which record exact match on held-out sentences during training.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time

import torch
from _publish import publish
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from attnmem import zoo
from attnmem.attention import AdditiveScore, DotScore, GeneralScore, attend
from attnmem.seq2seq import accuracy_by_length, beam_search, evaluate_pairs, greedy_decode
from attnmem.tasks.translation import sample_pairs, sample_source, source_vocab, target_vocab

MODELS = ["seq2seq_plain", "seq2seq_bahdanau", "seq2seq_location", "seq2seq_luong_dot", "seq2seq_luong_general",
          "seq2seq_luong_concat"]


def shipped() -> list[str]:
    return [name for name in MODELS if name in zoo.names() and zoo.checkpoint_path(name).exists()]


def length_table(names: list[str], lengths: list[int], n: int) -> str:
    curves = {name: accuracy_by_length(zoo.load(name), lengths, n=n, seed=2024) for name in names}
    header = "| source length | " + " | ".join(f"{name} EM / BLEU" for name in names) + " |"
    rows = [header, "|" + "---|" * (len(names) + 1)]
    for length in lengths:
        cells = [f"{curves[name][length]['exact_match']:.2f} / {curves[name][length]['bleu']:.1f}" for name in names]
        rows.append(f"| {length} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def search_table(names: list[str], lengths: list[int], n: int) -> str:
    """Greedy against beam-5 exact match past the training lengths: are the errors search errors or model errors?

    If beam search (which finds translations at least as probable as greedy's) were much better, the model would
    rank the right translation first and greedy decoding would be what loses it; if not, the model itself is wrong.
    """
    rows = ["| model | source length | greedy EM | beam 5 EM |", "|---|---|---|---|"]
    src_vocab, tgt_vocab = source_vocab(), target_vocab()
    for name in names:
        model = zoo.load(name)
        for length in lengths:
            pairs = sample_pairs(n, length, length, seed=2024 + length)
            greedy = evaluate_pairs(model, pairs, src_vocab, tgt_vocab)["exact_match"]
            beam = sum(tgt_vocab.decode(beam_search(model, torch.tensor(src_vocab.encode(p.source)), 5,
                                                    2 * length + 10)[0].ids) == p.target for p in pairs) / n
            rows.append(f"| {name} | {length} | {greedy:.2f} | {beam:.2f} |")
    return "\n".join(rows)


def training_table(names: list[str]) -> str:
    rows = ["| model | parameters | steps | train s | s to EM >= 0.95 (held-out, lengths 3-30) | checkpoint bytes |",
            "|---|---|---|---|---|---|"]
    for name in names:
        record = zoo.manifest(name)
        reached = next((f"{s:.0f} (step {step})" for step, s, em in record.get("training_curve", []) if em >= 0.95),
                       "not reached")
        rows.append(f"| {name} | {record['parameters']} | {record['steps']} | {record['train_seconds']:.0f} | "
                    f"{reached} | {record['bytes']} |")
    return "\n".join(rows)


def latency_table(names: list[str], repeats: int) -> str:
    """Median time to decode one 30-word sentence (31 tokens with <eos>), greedy and with a beam of 5.

    Wall time counts the waits for a core another job holds; CPU time (``time.process_time``, one thread) does not,
    so on a shared machine it is the better estimate of the wall time on a core of one's own.
    """
    sentence = torch.tensor(source_vocab().encode(sample_source(30, random.Random(0))))
    rows = ["| model | greedy ms wall / CPU | beam 5 ms wall / CPU | beam 5 fastest ms wall |",
            "|---|---|---|---|"]
    for name in names:
        model = zoo.load(name)
        timings = {}
        for label, run in (("greedy", lambda model=model: greedy_decode(model, sentence, 80)),
                           ("beam", lambda model=model: beam_search(model, sentence, 5, 80))):
            run()  # warm up
            wall, cpu = [], []
            for _ in range(repeats):
                start, start_cpu = time.perf_counter(), time.process_time()
                run()
                wall.append(1000 * (time.perf_counter() - start))
                cpu.append(1000 * (time.process_time() - start_cpu))
            timings[label] = f"{statistics.median(wall):.1f} / {statistics.median(cpu):.1f}"
            timings[label + " fastest"] = f"{min(wall):.1f}"
        rows.append(f"| {name} | {timings['greedy']} | {timings['beam']} | {timings['beam fastest']} |")
    return "\n".join(rows)


class AllocatedBytes(TorchDispatchMode):
    """Sum the bytes of every new tensor storage created inside the ``with`` block (an upper bound on the peak)."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes, self.seen = 0, set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in self.seen:
                self.seen.add(t.untyped_storage().data_ptr())
                self.bytes += t.untyped_storage().nbytes()
        return out


def attention_cost(lengths: list[int], size: int = 128, repeats: int = 5) -> list[dict[str, float]]:
    """Time and allocated memory of one attention pass of T target queries over S source positions (S = T).

    Memory is the bytes of new tensors created during the call, dominated by the (T, S) scores and weights for
    dot/general and by the (T, S, size) tanh for additive.
    """
    torch.manual_seed(0)
    scores = {"dot": DotScore(), "general": GeneralScore(size, size), "additive": AdditiveScore(size, size, size)}
    results = []
    for length in lengths:
        queries, keys = torch.randn(1, length, size), torch.randn(1, length, size)
        for name, score in scores.items():
            with torch.no_grad():
                attend(queries, keys, keys, score=score)
                samples = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    attend(queries, keys, keys, score=score)
                    samples.append(time.perf_counter() - start)
                with AllocatedBytes() as counter:
                    attend(queries, keys, keys, score=score)
                peak = counter.bytes
            results.append({"length": length, "score": name, "ms": 1000 * statistics.median(samples),
                            "weights": length * length, "alloc_kib": peak / 1024})
    return results


def cost_table(lengths: list[int]) -> str:
    rows = ["| S = T | attention weights | dot ms | general ms | additive ms | dot allocated KiB | additive allocated KiB |",
            "|---|---|---|---|---|---|---|"]
    measured = attention_cost(lengths)
    for length in lengths:
        by = {r["score"]: r for r in measured if r["length"] == length}
        rows.append(f"| {length} | {length * length} | {by['dot']['ms']:.3f} | {by['general']['ms']:.3f} | "
                    f"{by['additive']['ms']:.3f} | {by['dot']['alloc_kib']:.0f} | {by['additive']['alloc_kib']:.0f} |")
    return "\n".join(rows)


def score_table(steps: int) -> str:
    """Train the four score functions the same way (lengths 3-15, 32 units each way) and compare them."""
    from attnmem.seq2seq import build_model, sequence_loss
    from attnmem.tasks.translation import SyntheticTranslation
    from attnmem.training import fit

    task = SyntheticTranslation(3, 15)
    inside, beyond = task.pairs(300, seed=31), sample_pairs(300, 16, 22, seed=32)
    rows = [f"| score | parameters | ms/step | EM 3-15 | BLEU 3-15 | EM 16-22 | ({steps} steps, batch 64) |",
            "|---|---|---|---|---|---|---|"]
    for name in ("dot", "general", "concat", "bahdanau"):
        torch.manual_seed(0)
        model = build_model({"attention": name, "src_vocab": len(source_vocab()), "tgt_vocab": len(target_vocab()),
                             "embed": 32, "hidden": 32, "bidirectional": True})
        history = fit(model, sequence_loss, task.batches(64), steps=steps, lr=0.005, seed=0, progress=False)
        near = evaluate_pairs(model, inside, task.src_vocab, task.tgt_vocab)
        far = evaluate_pairs(model, beyond, task.src_vocab, task.tgt_vocab)
        rows.append(f"| {name} | {sum(p.numel() for p in model.parameters())} | "
                    f"{1000 * history.seconds / history.steps:.0f} | {near['exact_match']:.3f} | {near['bleu']:.1f} | "
                    f"{far['exact_match']:.3f} | |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="also write the markdown here")
    parser.add_argument("--quick", action="store_true", help="50 sentences per length, 5 latency repeats")
    parser.add_argument("--score-steps", type=int, default=600, help="training steps per score function (0: skip)")
    parser.add_argument("--latency-only", action="store_true", help="only the decoding latency table")
    args = parser.parse_args()
    torch.set_num_threads(1)  # every time here is single-threaded
    names = shipped()
    if not names:
        raise SystemExit("no translation models are shipped; build them with: python -m attnmem.zoo train "
                         "seq2seq_plain seq2seq_bahdanau seq2seq_location")
    n, repeats = (50, 5) if args.quick else (200, 20)
    load = "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    if args.latency_only:
        print(f"## Decoding latency (median of {repeats}, 1 thread, {load})\n")
        print(latency_table(names, repeats))
        return
    lengths = [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 60]
    parts = [
        "# Translation benchmarks (chapters 2–4)",
        (f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
         f"{torch.get_num_threads()} thread; {time.strftime('%Y-%m-%d')}; {load} at the start. Other jobs shared the "
         f"cores, so times are upper bounds."),
        "## Training (from the zoo manifests)", training_table(names),
        f"## Exact match (EM) and BLEU against source length ({n} fresh sentences per length; trained on 3-30)",
        length_table(names, lengths, n),
        ("## Search error or model error? Greedy against beam 5 past the training lengths "
         f"({n} sentences per length)"), search_table([m for m in names if m != "seq2seq_plain"], [40, 45], n),
        "## Decoding latency (median)", latency_table(names, repeats),
        "## The cost of attention: one pass of T queries over S positions, size 128", cost_table([10, 50, 100, 200, 400]),
    ]
    if args.score_steps:
        parts += ["## Score functions compared (Luong dot, general, concat; Bahdanau additive)",
                  score_table(args.score_steps)]
    text = "\n\n".join(parts) + "\n"
    publish(text, args.out)


if __name__ == "__main__":
    main()
