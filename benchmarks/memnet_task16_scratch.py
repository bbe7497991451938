"""Scratch: why MemN2N fails the generator's bAbI task 16 (basic induction), and what fixes it (issue #18.3).

    python benchmarks/memnet_task16_scratch.py diagnose               # the zoo network's attention on task 16
    python benchmarks/memnet_task16_scratch.py train baseline [--seed 0] [--out runs.jsonl]
    python benchmarks/memnet_task16_scratch.py train pe_code --task 2  # a variant on another task
    python benchmarks/memnet_task16_scratch.py zoo --seed 1 --tasks 3,6,8 --scale 1  # the zoo's training, per task

Data as in the zoo (seed 0): 1,000 generated questions of the task (stream 0), the last 10% held out to end
linear start, test on 1,000 fresh questions (stream 1). Every variant changes one detail of the zoo's first
round (Sukhbaatar et al. 2015, Section 4.2: SGD, lr 0.01 halved every 25 epochs, 100 epochs, clipping at 40,
batch 32, PE LS RN, 3 hops, d = 20, N(0, 0.1^2) initialisation, 5 restarts kept by training error) and reports
every restart's training, validation and test error, the CPU seconds, and (task 16) where the kept network's
attention goes. The finding (``benchmarks/results/memnet_history.md``, 3 December): the position weights of
the authors' released code are about twice the paper's l_kj, and with them every restart learns task 16.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from attnmem import memnet as memnet_module
from attnmem import zoo
from attnmem._util import one_thread, seed_everything
from attnmem.memnet import MemN2N
from attnmem.tasks.babi import BabiBatch, Sample, Vocabulary, generate, samples, vectorize
from attnmem.training.memnet import (OPTIMIZERS, Restarts, TrainConfig, _crop, _scores, add_empty_memories, babi_data,
                                     evaluate_error, train_babi)


@dataclass(frozen=True)
class Variant:
    """One change to the zoo's first round: ``config`` fields, plus details ``TrainConfig`` does not hold."""

    config: dict[str, Any] = field(default_factory=dict)
    # The released code's linear start: ``ls_epochs`` epochs at ``ls_lr``, then ``config.epochs`` more from
    # ``lr_after_ls`` (None: config.lr). ``ls_epochs=None``: the validation loss ends it, as in the zoo.
    ls_epochs: int | None = None
    ls_lr: float = 0.005
    lr_after_ls: float | None = None
    init_std: float = 0.1
    time_noise: float = 0.0  # the released code's noise: time indices drawn with gaps, no empty memories
    pe: str = "paper"  # position weights: a key of POSITION_WEIGHTS


# the paper's single round, and its printed l_kj: the variants below scale or replace the weights themselves
BASE = {"retry_above": 1.0, "position_scale": 1.0}
VARIANTS: dict[str, Variant] = {
    "baseline": Variant(),
    "restarts10": Variant({"restarts": 10}),
    "ls20_authors": Variant(ls_epochs=20),  # 20 LS epochs at lr 0.005, then 100 from lr 0.01
    "authors_schedule": Variant(ls_epochs=20, lr_after_ls=0.005),  # the released code: 0.005 throughout
    "pe_code": Variant(pe="code"),
    "pe_paper_x2": Variant(pe="paper_x2"),  # the paper's weights doubled: the code's scale, per-sentence J
    "pe_code_own_length": Variant(pe="code_own_length"),  # the code's formula, each sentence's own J
    "pe_code_no_ls": Variant({"linear_start": False}, pe="code"),
    "code_all": Variant(ls_epochs=20, lr_after_ls=0.005, pe="code"),  # the code's weights and schedule
    "noise_code": Variant({"noise": 0.0}, time_noise=0.1),
    "hops4": Variant({"hops": 4}),
    "dim50": Variant({"dim": 50}),
    "noise0": Variant({"noise": 0.0}),
    "no_temporal": Variant({"temporal": False}),
    "layerwise": Variant({"tying": "layerwise"}),
    "ls_half": Variant({"linear_patience": 1000}),  # linear start for the first half of the run, always
    "no_ls": Variant({"linear_start": False}),
    "init0.2": Variant(init_std=0.2),
    "lr0.02": Variant({"lr": 0.02}),
    "lr0.04": Variant({"lr": 0.04}),
    "init0.2_lr0.04": Variant({"lr": 0.04}, init_std=0.2),  # about what doubling the position weights does
    "no_empty": Variant({"empty_memory": False}),
}


def task_data(task: int, vocab: Vocabulary) -> dict[str, Any]:
    """The zoo's split of ``task``: 900 training, 100 validation (stream 0), 1,000 test (stream 1)."""
    data = samples(generate(task, 1000, 0))
    test = samples(generate(task, 1000, 1))
    return {"train": vectorize(data[:900], vocab), "valid": vectorize(data[900:], vocab),
            "test": vectorize(test, vocab), "test_samples": test}


def train_round(data: dict[str, Any], vocab_size: int, config: TrainConfig, variant: Variant,
                seed: int) -> tuple[Restarts, dict[str, Any]]:
    """``config.restarts`` copies side by side, as ``attnmem.training.memnet._train_round`` trains them,
    with the variant's linear-start schedule, initialisation and time noise."""
    train, valid = data["train"], data["valid"]
    generator = seed_everything(seed)
    networks = [config.model(vocab_size) for _ in range(config.restarts)]
    if variant.init_std != 0.1:
        for network in networks:
            with torch.no_grad():
                for p in network.parameters():
                    p.mul_(variant.init_std / 0.1)
    restarts = Restarts(networks)
    copies = config.restarts
    restarts.linear = torch.full((copies,), config.linear_start)
    optimizer = OPTIMIZERS[config.optimizer](restarts.parameters(), lr=config.lr)
    best_loss, waited = torch.full((copies,), math.inf), torch.zeros(copies, dtype=torch.long)
    linear_epochs = torch.zeros(copies, dtype=torch.long)
    fixed = variant.ls_epochs if config.linear_start else None
    total = config.epochs + (fixed or 0)
    curve = []
    for epoch in range(total):
        if fixed is not None:
            restarts.linear = torch.full((copies,), epoch < fixed)
            after = variant.lr_after_ls or config.lr
            lr = variant.ls_lr if epoch < fixed else after * 0.5 ** ((epoch - fixed) // config.anneal_every)
        else:
            lr = config.lr * 0.5 ** (epoch // config.anneal_every)
        for group in optimizer.param_groups:
            group["lr"] = lr
        for rows in torch.randperm(train.size, generator=generator).split(config.batch_size):
            batch = _crop(add_empty_memories(train.select(rows), config.noise, generator))
            if variant.time_noise:
                batch = spread_times(batch, variant.time_noise, generator)
            logits = restarts(batch).logits
            loss = F.cross_entropy(logits.transpose(1, 2), batch.answer.expand(copies, -1), reduction="sum")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            restarts.clip_gradients(40.0)
            optimizer.step()
        linear_epochs += restarts.linear
        if fixed is None and bool(restarts.linear.any()):
            valid_loss = _scores(restarts, valid)[0].mean(1)
            waited = torch.where(valid_loss < best_loss, 0, waited + 1)
            best_loss = torch.minimum(best_loss, valid_loss)
            still = (waited < config.linear_patience) & (epoch + 1 < config.epochs // 2)
            restarts.linear = restarts.linear & still
        if (epoch + 1) % 10 == 0:  # the best copy's training error, to see when a copy learns the task
            curve.append(round(float(1 - _scores(restarts, train)[1].float().mean(1).max()), 4))
    restarts.linear = torch.zeros(copies, dtype=torch.bool)
    train_loss, train_right = _scores(restarts, train)
    return restarts, {
        "train_errors": (1 - train_right.float().mean(1)).tolist(), "train_loss": train_loss.mean(1).tolist(),
        "valid_errors": (1 - _scores(restarts, valid)[1].float().mean(1)).tolist(),
        "test_errors": (1 - _scores(restarts, data["test"])[1].float().mean(1)).tolist(),
        "linear_start_epochs": linear_epochs.tolist(), "best_train_error_every_10_epochs": curve}


def spread_times(batch: BabiBatch, rate: float, generator: torch.Generator) -> BabiBatch:
    """The released code's time noise: a story of n sentences gets n distinct time indices drawn from
    0..n + g - 1 (g uniform in 0..ceil(rate n)), kept in order: up to g gaps open between sentences."""
    times = batch.times.clone()
    for b, n in enumerate(batch.memory_mask.sum(1).tolist()):
        gaps = int(torch.randint(0, math.ceil(rate * n) + 1, (1,), generator=generator))
        drawn = torch.randperm(n + gaps, generator=generator)[:n].sort(descending=True).values
        times[b, :n] = drawn
    return batch._replace(times=times)


def code_position_encoding(lengths: torch.Tensor, max_length: int, dim: int) -> torch.Tensor:
    """The released code's weights 1 + 4 (k - (d+1)/2)(j - (J+1)/2) / (d J) (``build_model.m``), with J the
    longest sentence plus one (the code's time word) for every sentence; padding positions get 0. With
    a = k/d, b = j/J this is 2 [(1 - b) - a (1 - 2b)] up to terms in 1/d and 1/J: twice the paper's l_kj."""
    big_j = max_length + 1
    j = torch.arange(1, max_length + 1, dtype=torch.float32).view(*([1] * lengths.dim()), max_length, 1)
    k = torch.arange(1, dim + 1, dtype=torch.float32)
    weights = 1 + 4 * (k - (dim + 1) / 2) * (j - (big_j + 1) / 2) / (dim * big_j)
    return weights * (j <= lengths.unsqueeze(-1).unsqueeze(-1))


paper_position_encoding = memnet_module.position_encoding


def doubled_position_encoding(lengths: torch.Tensor, max_length: int, dim: int) -> torch.Tensor:
    """The paper's l_kj times 2, about the scale of the released code's weights."""
    return 2 * paper_position_encoding(lengths, max_length, dim)


def own_length_code_encoding(lengths: torch.Tensor, max_length: int, dim: int) -> torch.Tensor:
    """The released code's formula with J each sentence's own length (as the paper's l_kj uses it)."""
    j = torch.arange(1, max_length + 1, dtype=torch.float32).view(*([1] * lengths.dim()), max_length, 1)
    k = torch.arange(1, dim + 1, dtype=torch.float32)
    big_j = lengths.clamp(min=1).to(torch.float32).unsqueeze(-1).unsqueeze(-1)
    weights = 1 + 4 * (k - (dim + 1) / 2) * (j - (big_j + 1) / 2) / (dim * big_j)
    return weights * (j <= lengths.unsqueeze(-1).unsqueeze(-1))


POSITION_WEIGHTS = {"paper": paper_position_encoding, "code": code_position_encoding,
                    "paper_x2": doubled_position_encoding, "code_own_length": own_length_code_encoding}

STATEMENT = re.compile(r"^(\w+) is (a )?(\w+)\.$")


def slot_roles(sample: Sample) -> list[str]:
    """Each statement's role: the asked animal's kind, a peer's kind or colour, or another animal's."""
    asked = sample.question.rstrip("?").split()[-1]
    kinds = {m[1]: m[3] for s in sample.context if (m := STATEMENT.match(s)) and m[2]}
    roles = []
    for sentence in sample.context:
        match = STATEMENT.match(sentence)
        if match is None:
            raise ValueError(f"not a task-16 statement: {sentence!r}")
        name, is_kind = match[1], bool(match[2])
        who = "asked" if name == asked else "peer" if kinds[name] == kinds[asked] else "other"
        roles.append(f"{who} {'kind' if is_kind else 'colour'}")
    return roles


def most_frequent_colour(sample: Sample) -> str:
    """The shortcut rule: the colour the story states most often (ties: the one stated first)."""
    colours = [m[3] for s in sample.context if (m := STATEMENT.match(s)) and not m[2]]
    counts = Counter(colours)
    return max(colours, key=lambda c: (counts[c], -colours.index(c)))


def diagnose(network: MemN2N, data: dict[str, Any], vocab: Vocabulary) -> dict[str, Any]:
    """Where each hop's attention goes on the test stories; how the answers relate to the shortcut rule."""
    test, stories = data["test"], data["test_samples"]
    network.eval()
    with torch.no_grad():
        out = network.run(test)
    predicted = [vocab.words[i] for i in out.logits.argmax(-1).tolist()]
    truth = [s.answer[0] for s in stories]
    rule = [most_frequent_colour(s) for s in stories]
    hops = out.attention.shape[1]
    mass: dict[str, list[float]] = {}
    for b, sample in enumerate(stories):
        for slot, role in enumerate(slot_roles(sample)):
            mass.setdefault(role, [0.0] * hops)
            for k in range(hops):
                mass[role][k] += float(out.attention[b, k, slot]) / len(stories)
    mass["empty slot"] = [1 - sum(m[k] for m in mass.values()) for k in range(hops)]
    top = Counter((k, slot_roles(stories[b])[int(out.attention[b, k].argmax())])
                  for b in range(len(stories)) for k in range(hops))
    n = len(stories)
    rule_right = [r == t for r, t in zip(rule, truth)]
    right = [p == t for p, t in zip(predicted, truth)]
    return {
        "test_error": 1 - sum(right) / n,
        "rule_error": 1 - sum(rule_right) / n,
        "agrees_with_rule": sum(p == r for p, r in zip(predicted, rule)) / n,
        "error_where_rule_right":
            1 - sum(r for r, ok in zip(right, rule_right) if ok) / max(1, sum(rule_right)),
        "error_where_rule_wrong":
            1 - sum(r for r, ok in zip(right, rule_right) if not ok) / max(1, n - sum(rule_right)),
        "mean_attention": {role: [round(x, 3) for x in m] for role, m in sorted(mass.items())},
        "argmax_role_share": {f"hop {k + 1}": {role: round(c / n, 3)
                                               for (h, role), c in sorted(top.items()) if h == k}
                              for k in range(hops)},
    }


def run_variant(name: str, seed: int, task: int) -> dict[str, Any]:
    """Variant ``name`` trained on ``task`` from ``seed``: each restart's errors, CPU seconds, diagnosis."""
    variant = VARIANTS[name]
    config = TrainConfig(**{**BASE, **variant.config})
    vocab = Vocabulary.generator()
    data = task_data(task, vocab)
    memnet_module.position_encoding = POSITION_WEIGHTS[variant.pe]  # MemN2N.encode looks it up at each call
    start = time.process_time()
    with one_thread():
        restarts, facts = train_round(data, len(vocab), config, variant, seed)
    cpu = time.process_time() - start
    chosen = min(range(config.restarts), key=lambda i: (facts["train_errors"][i], facts["train_loss"][i]))
    result = {"variant": name, "task": task, "seed": seed, "cpu_seconds": round(cpu, 1), "chosen": chosen,
              "test_error": facts["test_errors"][chosen], "train_error": facts["train_errors"][chosen],
              **{k: [round(x, 4) for x in v] if k != "best_train_error_every_10_epochs" else v
                 for k, v in facts.items()},
              "variant_spec": asdict(variant)}
    if config.restarts > 5:  # the first five copies are the 5-restart run's (same seed, same batches)
        five = min(range(5), key=lambda i: (facts["train_errors"][i], facts["train_loss"][i]))
        result["best_of_first_5"] = {"chosen": five, "test_error": facts["test_errors"][five]}
    if task == 16:
        result["diagnosis"] = diagnose(restarts.network(chosen), data, vocab)
    return result


def run_zoo_task(task: int, seed: int, scale: float) -> dict[str, Any]:
    """One task trained exactly as the zoo's ``train_per_task`` trains it at ``seed`` (both rounds), with position
    weights ``scale`` l_kj; tested on 1,000 fresh questions of the stream the zoo's manifest uses for its seed."""
    vocab = Vocabulary.generator()
    config = TrainConfig(position_scale=scale)
    data = {task: samples(generate(task, 1000, 2 * seed))}  # the zoo's training stream for this seed
    model, facts = train_babi(data, vocab, config, seed, progress=False)
    test_stream = 2 * (seed + 1) + 1  # the zoo evaluates its seed-s model with evaluation seed s + 1
    facts = facts[f"qa{task}"]
    return {"command": "zoo", "task": task, "seed": seed, "position_scale": scale, "test_stream": test_stream,
            "test_error": evaluate_error(model.network(task), babi_data(task, 1000, test_stream, vocab)),
            "train_error": facts["train_errors"][facts["chosen_restart"]], **facts}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["diagnose", "train", "zoo"])
    parser.add_argument("variant", nargs="?", default="baseline", choices=sorted(VARIANTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--task", type=int, default=16)
    parser.add_argument("--tasks", default="16", help="zoo: task numbers, comma-separated, trained one by one")
    parser.add_argument("--scale", type=float, default=2.0, help="zoo: the position weights' scale (1: the paper)")
    parser.add_argument("--out", default="/tmp/task16/runs.jsonl", help="JSON lines, one per run (appended)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.command == "zoo":  # one line per task as it finishes, so a cut-short run keeps what it measured
        for task in (int(t) for t in args.tasks.split(",")):
            result = run_zoo_task(task, args.seed, args.scale)
            print(json.dumps({k: result[k] for k in ("task", "seed", "position_scale", "test_error", "train_error",
                                                     "cpu_seconds")}), flush=True)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            with open(args.out, "a") as f:
                f.write(json.dumps(result) + "\n")
        return
    if args.command == "diagnose":
        vocab = Vocabulary.generator()
        network = zoo.load("memn2n_babi_1k").network(16)
        result = {"variant": "zoo", "diagnosis": diagnose(network, task_data(16, vocab), vocab)}
    else:
        result = run_variant(args.variant, args.seed, args.task)
    print(json.dumps(result, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as f:
        f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
