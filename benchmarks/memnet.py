"""Memory networks on bAbI: generator speed, step time, time to quality, and the 20-task table beside the paper.

    python benchmarks/memnet.py --out benchmarks/results/memnet.md          # generated data, the zoo model
    python benchmarks/memnet.py --babi-dir tasks_1-20_v1-2/en --out public.md  # train and test on the public files

The paper's column is Sukhbaatar et al. (2015), Table 1: 1k training questions, PE LS RN, 3 hops, test error (%).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from _publish import publish
from torch.nn import functional as F

from attnmem import zoo
from attnmem.tasks import babi
from attnmem.training.memnet import TrainConfig, add_empty_memories, babi_data, evaluate_error, train_babi

PAPER_PE_LS_RN_1K = [0.0, 8.3, 40.3, 2.8, 13.1, 7.6, 17.3, 10.0, 13.2, 15.1, 0.9, 0.2, 0.4, 1.7, 0.0, 1.3, 51.0, 11.1,
                     82.8, 0.0]


def generator_seconds() -> float:
    """Seconds to write the 20 tasks x (1k train + 1k test) in the public format."""
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        babi.write_tasks(directory, "1k", seed=0)
        return time.perf_counter() - start


def step_seconds(networks: int, steps: int = 30) -> float:
    """Seconds per training step (batch 32 per network, task 2, PE, 3 hops, random noise, the zoo's SGD)."""
    vocab = babi.Vocabulary.generator()
    data = babi_data(2, 1000, 0, vocab)
    model = TrainConfig().model(len(vocab), networks)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    generator = torch.Generator().manual_seed(0)
    owner = torch.arange(networks).repeat_interleave(32)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    start = time.perf_counter()
    for _ in range(steps):
        batch = add_empty_memories(data.select(torch.randint(0, 1000, (32 * networks,), generator=generator)), 0.1,
                                   generator)
        loss = F.cross_entropy(model.run(batch, owner).logits, batch.answer, reduction="sum")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.set_num_threads(threads)
    return (time.perf_counter() - start) / steps


def time_to_quality(target: float = 0.05) -> tuple[float, int, float]:
    """Seconds for one network to reach test error ``target`` on task 1 (1k): schedules of 4, 8, ... epochs.

    Uses the fast recipe of the learning test (Adam lr 0.02, no linear start, no noise).
    """
    vocab = babi.Vocabulary.generator()
    data = {1: babi.samples(babi.generate(1, 1000, 0))}
    test = babi_data(1, 1000, 1, vocab)
    for epochs in range(4, 41, 4):  # the shortest schedule that reaches the target; its own run time
        start = time.perf_counter()
        config = TrainConfig(epochs=epochs, restarts=1, anneal_every=max(1, epochs // 4), optimizer="adam",
                             lr=0.02, linear_start=False, noise=0.0)  # the learning test's fast recipe
        model, _ = train_babi(data, vocab, config, seed=0, progress=False)
        seconds = time.perf_counter() - start
        error = evaluate_error(model, test)
        if error <= target:
            break
    return seconds, epochs, error


def zoo_table() -> tuple[list[float], dict]:
    """Test error of the shipped per-task networks on 1,000 fresh questions per task (test stream of seed 0)."""
    model = zoo.load("memn2n_babi_1k")
    vocab = babi.Vocabulary.generator()
    errors = [evaluate_error(model.network, babi_data(t, 1000, 1, vocab), model.index(t)) for t in babi.TASKS]
    return errors, zoo.manifest("memn2n_babi_1k")


def public_table(directory: Path, config: TrainConfig) -> tuple[list[float], float]:
    """Train per-task networks on the public files and measure their test error."""
    splits = {t: babi.load_public(directory, t) for t in babi.TASKS}
    train = {t: babi.samples(s.train) for t, s in splits.items()}
    vocab = babi.Vocabulary.from_samples([x for t, s in splits.items() for x in babi.samples(s.train + s.test)])
    start = time.perf_counter()
    model, _ = train_babi(train, vocab, config, seed=0)
    seconds = time.perf_counter() - start
    errors = [evaluate_error(model, babi.vectorize(babi.samples(splits[t].test), vocab), i)
              for i, t in enumerate(babi.TASKS)]
    return errors, seconds


def table(errors: list[float]) -> list[str]:
    rows = ["| task | ours: test error (%) | paper: PE LS RN (%) |", "|---|---:|---:|"]
    for t, (ours, paper) in enumerate(zip(errors, PAPER_PE_LS_RN_1K), start=1):
        rows.append(f"| {babi.TASK_NAMES[t]} | {100 * ours:.1f} | {paper:.1f} |")
    mean = 100 * sum(errors) / len(errors)
    failed = sum(e > 0.05 for e in errors)
    rows.append(f"| **mean** (failed tasks, error > 5%) | **{mean:.1f}** ({failed}) | **13.9** (11) |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the markdown here")
    parser.add_argument("--babi-dir", type=Path, help="train and test on the public files in this folder instead")
    parser.add_argument("--epochs", type=int, default=TrainConfig().epochs)
    parser.add_argument("--restarts", type=int, default=TrainConfig().restarts)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    lines = ["# Memory networks on bAbI", "",
             f"Machine: {torch.get_num_threads()} torch threads (training itself uses 1), torch {torch.__version__}. "
             "Other jobs shared these 2 cores while this ran, so times are upper bounds.", ""]
    if args.babi_dir:
        config = TrainConfig(epochs=args.epochs, restarts=args.restarts)
        errors, seconds = public_table(args.babi_dir, config)
        lines += [f"Public bAbI files from `{args.babi_dir}`; per-task training took {seconds:.0f} s.", ""]
    else:
        gen = generator_seconds()
        single, ensemble = step_seconds(1), step_seconds(10)
        seconds, epochs, error = time_to_quality()
        errors, manifest = zoo_table()
        lines += [
            "| measure | value |", "|---|---:|",
            f"| write 20 tasks x (1k train + 1k test) | {gen:.1f} s |",
            f"| one training step, 1 network (batch 32, task 2) | {1000 * single:.1f} ms |",
            f"| one training step, 10 networks side by side (10 x 32) | {1000 * ensemble:.1f} ms |",
            f"| task 1 to <= 5% test error (1 network, Adam lr 0.02, no LS/RN) | {seconds:.1f} s ({epochs} epochs, "
            f"error {100 * error:.1f}%) |",
            f"| zoo: train all 20 tasks x {manifest['config']['train']['restarts']} restarts x "
            f"{manifest['config']['train']['epochs']} epochs | {manifest['train_seconds'] / 60:.1f} min |",
            f"| zoo checkpoint | {manifest['bytes'] / 1e6:.2f} MB |", "",
            "Per-task test error of the zoo model (`python -m attnmem.zoo train memn2n_babi_1k`) on 1,000 fresh "
            "generated test questions per task, beside Sukhbaatar et al. (2015), Table 1 (1k, PE LS RN):", "",
        ]
    lines += table(errors)
    text = "\n".join(lines) + "\n"
    publish(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
