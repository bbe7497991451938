"""Memory networks on bAbI: generator speed, step time, time to quality, and the 20-task table beside the paper.

    python benchmarks/memnet.py --out benchmarks/results/memnet.md          # generated data, the zoo model
    python benchmarks/memnet.py --babi-dir tasks_1-20_v1-2/en --out public.md  # train and test on the public files
    python benchmarks/memnet.py --babi-dir tasks_1-20_v1-2/en --per-task --tasks 1,2,16 --seed 1 --save-dir runs/s1

With ``--babi-dir`` one network trains on every chosen task's training file at once, as the paper's joint training
did (``JOINT_CONFIG``: d = 50, 60 epochs: 20 of linear start, then 40 with the learning rate halved every 10; its
restarts side by side, each batch from one task, the restart with the lowest training error kept), and is tested on
each task's test file; it is saved as ``joint.pt`` with a hash-checked manifest ``joint.json`` (vocabulary,
configuration, per-restart training and validation errors, per-task test errors; ``load_public_network`` reads it
back). With ``--per-task`` each chosen task trains on its own instead (one progress bar a task, with the time left),
and each task's network is saved as it finishes (``qaN.pt``, ``qaN.json``). ``results.json`` gathers the errors and
chosen restarts. Test words the training files never use are read as ``<unk>``.

The paper's columns are Sukhbaatar et al. (2015), Table 1: 1k training questions, 3 hops, test error (%), PE LS RN
trained per task and jointly.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
from _publish import publish
from torch.nn import functional as F

from attnmem import one_thread, zoo
from attnmem.checkpoint import CheckpointError, ensure_writable, load_checkpoint, read_manifest, save_checkpoint
from attnmem.memnet import MemN2N
from attnmem.tasks import babi, check_positive
from attnmem.training.memnet import (
    JOINT_CONFIG,
    Restarts,
    TrainConfig,
    add_empty_memories,
    babi_data,
    evaluate_error,
    train_babi,
    train_babi_joint,
    train_memnet,
)

PAPER_PE_LS_RN_1K = [0.0, 8.3, 40.3, 2.8, 13.1, 7.6, 17.3, 10.0, 13.2, 15.1, 0.9, 0.2, 0.4, 1.7, 0.0, 1.3, 51.0, 11.1,
                     82.8, 0.0]
PAPER_PE_LS_RN_JOINT_1K = [0.0, 11.4, 21.9, 13.4, 14.4, 2.8, 18.3, 9.3, 1.9, 6.5, 0.3, 0.1, 0.2, 6.9, 0.0, 2.7, 40.4,
                           9.4, 88.0, 0.0]


def generator_seconds() -> float:
    """CPU seconds to write the 20 tasks x (1k train + 1k test) in the public format."""
    with tempfile.TemporaryDirectory() as directory:
        start = time.process_time()
        babi.write_tasks(directory, "1k", seed=0)
        return time.process_time() - start


def step_seconds(networks: int, side_by_side: bool = True, steps: int = 30) -> float:
    """CPU seconds per training step of ``networks`` restarts (batch 32, task 2, PE, 3 hops, random noise, SGD).

    ``side_by_side``: the restarts as one vmapped ``Restarts``; otherwise one network after another in a loop.
    """
    vocab = babi.Vocabulary.generator()
    data = babi_data(2, 1000, 0, vocab)
    networks_list = [TrainConfig().model(len(vocab)) for _ in range(networks)]
    restarts = Restarts(networks_list)
    together = torch.optim.SGD(restarts.parameters(), lr=0.01)
    apart = [torch.optim.SGD(network.parameters(), lr=0.01) for network in networks_list]
    generator = torch.Generator().manual_seed(0)
    with one_thread():
        start = time.process_time()
        for _ in range(steps):
            batch = add_empty_memories(data.select(torch.randint(0, 1000, (32,), generator=generator)), 0.1,
                                       generator)
            if side_by_side:
                logits = restarts(batch).logits
                loss = F.cross_entropy(logits.transpose(1, 2), batch.answer.expand(networks, -1), reduction="sum")
                together.zero_grad()
                loss.backward()
                restarts.clip_gradients(40.0)
                together.step()
                continue
            for network, optimizer in zip(networks_list, apart):
                loss = F.cross_entropy(network.run(batch).logits, batch.answer, reduction="sum")
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(network.parameters(), 40.0)
                optimizer.step()
        return (time.process_time() - start) / steps


def time_to_quality(target: float = 0.05) -> tuple[float, int, float]:
    """CPU seconds for one network to reach test error ``target`` on task 1 (1k): schedules of 4, 8, ... epochs.

    Uses the fast recipe of the learning test (Adam lr 0.02, no linear start, no noise).
    """
    vocab = babi.Vocabulary.generator()
    data = {1: babi.samples(babi.generate(1, 1000, 0))}
    test = babi_data(1, 1000, 1, vocab)
    for epochs in range(4, 41, 4):  # the shortest schedule that reaches the target; its own run time
        start = time.process_time()
        config = TrainConfig(epochs=epochs, restarts=1, anneal_every=max(1, epochs // 4), optimizer="adam",
                             lr=0.02, linear_start=False, noise=0.0)  # the learning test's fast recipe
        model, _ = train_babi(data, vocab, config, seed=0, progress=False)
        seconds = time.process_time() - start
        error = evaluate_error(model.network(1), test)
        if error <= target:
            break
    return seconds, epochs, error


def zoo_table() -> tuple[list[float], dict]:
    """Test error of the shipped per-task networks on 1,000 fresh questions per task (test stream of seed 0)."""
    model = zoo.load("memn2n_babi_1k")
    vocab = babi.Vocabulary.generator()
    errors = [evaluate_error(model.network(t), babi_data(t, 1000, 1, vocab)) for t in babi.TASKS]
    return errors, zoo.manifest("memn2n_babi_1k")


# --- the public release ---------------------------------------------------------------------------------------
def parse_tasks(text: str) -> list[int]:
    """``"1,2,16"``, ``"1-5,16"`` or ``"all"`` -> sorted task numbers."""
    if text.strip() == "all":
        return list(babi.TASKS)
    chosen: set[int] = set()
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        try:
            numbers = range(int(low), int(high or low) + 1)
        except ValueError:
            raise ValueError(f"--tasks takes task numbers such as 1,2,16 or 1-5 or all, got {text!r}") from None
        if not numbers:
            raise ValueError(f"--tasks: the range {part.strip()!r} is empty; write the lower number first")
        chosen.update(babi.task_number(number) for number in numbers)
    return sorted(chosen)


def read_public(directory: Path, tasks: list[int], validation: float) -> dict[int, dict[str, list[babi.Sample]]]:
    """Every chosen task's questions, read and checked before any training starts.

    Validation questions come from the folder's ``valid`` files (``en-valid``) or, where it has none (``en``,
    ``en-10k``), are the last ``validation`` fraction of the training file, as in the zoo's recipe.
    """
    data = {}
    for task in tasks:
        files = babi.public_files(directory, task)
        read = {part: babi.samples(babi.read_babi(path)) for part, path in files.items()}
        if "valid" not in read:
            cut = round(len(read["train"]) * (1 - validation))
            if not 0 < cut < len(read["train"]):
                raise ValueError(f"{files['train']} holds {len(read['train'])} questions: too few to hold out "
                                 f"{validation:.0%} for validation and train on the rest")
            read["train"], read["valid"] = read["train"][:cut], read["train"][cut:]
        data[task] = read
    return data


def train_public_task(task: int, data: dict[str, list[babi.Sample]], config: TrainConfig, seed: int,
                      label: str) -> tuple[MemN2N, babi.Vocabulary, dict[str, Any]]:
    """Train ``config.restarts`` networks on one task's training file, keep the lowest training error, test it.

    The vocabulary is built from the training and validation questions only; test words it has not seen become
    ``<unk>``, so an answer never seen in training counts as wrong.
    """
    vocab = babi.Vocabulary.from_samples(data["train"] + data["valid"], unknown=True)
    model, facts = train_memnet(babi.vectorize(data["train"], vocab), babi.vectorize(data["valid"], vocab),
                                len(vocab), config, seed, progress=True, label=label)
    record = {
        **tested(task, data, model, vocab),
        "train_errors": facts["train_errors"],
        "valid_errors": facts["valid_errors"],
        "chosen_restart": facts["chosen_restart"],
        "optimizers": facts["optimizers"],
        "linear_start_epochs": facts["linear_start_epochs"],
        "train_seconds": facts["seconds"],
        "cpu_seconds": facts["cpu_seconds"],
    }
    return model, vocab, record


def tested(task: int, data: dict[str, list[babi.Sample]], model: MemN2N, vocab: babi.Vocabulary) -> dict[str, Any]:
    """One task's question counts, the test error of ``model`` on its test file, and how many test answers the
    vocabulary has never seen (read as ``<unk>``, so they count as wrong)."""
    test = babi.vectorize(data["test"], vocab)
    return {"task": task, "task_name": babi.TASK_NAMES[task],
            "questions": {part: len(samples) for part, samples in data.items()},
            "test_error": evaluate_error(model, test),
            "test_answers_unseen_in_training": int((test.answer == vocab.encode(vocab.UNK)).sum())}


def load_public_network(path: str | Path) -> tuple[MemN2N, babi.Vocabulary, dict[str, Any]]:
    """A network saved by the public run (``qaN.pt``, hash-checked), with its vocabulary and manifest."""
    manifest = read_manifest(path)
    vocab = babi.Vocabulary(manifest["vocabulary"], unknown=babi.Vocabulary.UNK in manifest["vocabulary"])
    if vocab.words != manifest["vocabulary"]:
        raise CheckpointError(f"the vocabulary in {Path(path).with_suffix('.json')} is not in the order "
                              f"Vocabulary keeps; rebuild it with: {manifest.get('command')}")
    # a manifest without position_scale was written before MemN2N had one: its network used the paper's l_kj
    model = TrainConfig(**{"position_scale": 1.0, **manifest["config"]}).model(len(vocab))
    load_checkpoint(path, model)
    return model.eval(), vocab, manifest


def _write_json(path: Path, value: Any) -> None:
    """Write ``value`` as JSON through a temporary file, so a crash never leaves half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def public_run(directory: Path, tasks: list[int], config: TrainConfig, seed: int, save_dir: Path,
               command: str) -> list[dict[str, Any]]:
    """Train and test one network set per chosen task; save each task's network and the results as it finishes."""
    data = read_public(directory, tasks, config.validation)
    ensure_writable(save_dir / f"qa{tasks[0]}.pt")  # refused now, not after the first task has trained
    results: list[dict[str, Any]] = []
    for i, task in enumerate(tasks, start=1):
        label = f"qa{task} {babi.TASK_NAMES[task].split('_', 1)[1]} ({i}/{len(tasks)})"
        model, vocab, record = train_public_task(task, data[task], config, seed, label)
        save_checkpoint(save_dir / f"qa{task}.pt", model, {
            **record, "files": str(directory), "config": asdict(config), "seed": seed,
            "vocabulary": vocab.words, "command": command})
        results.append(record)
        _write_json(save_dir / "results.json", {"folder": str(directory), "config": asdict(config), "seed": seed,
                                                "command": command, "tasks": results})
    return results


def public_joint_run(directory: Path, tasks: list[int], config: TrainConfig, seed: int, save_dir: Path,
                     command: str) -> dict[str, Any]:
    """Train one network on every chosen task's training file at once, test it on each task's test file, save it.

    The vocabulary is built from the training and validation questions only; test words it has not seen become
    ``<unk>``, so an answer never seen in training counts as wrong.
    """
    data = read_public(directory, tasks, config.validation)
    ensure_writable(save_dir / "joint.pt")  # refused now, not after the network has trained
    vocab = babi.Vocabulary.from_samples([s for t in tasks for part in ("train", "valid") for s in data[t][part]],
                                         unknown=True)
    model, facts = train_babi_joint({t: data[t]["train"] for t in tasks}, vocab, config, seed, progress=True,
                                    valid_samples={t: data[t]["valid"] for t in tasks})
    record = {"tasks": [tested(task, data[task], model.network(task), vocab) for task in tasks], "train_errors": facts["train_errors"], "valid_errors": facts["valid_errors"],
              "chosen_restart": facts["chosen_restart"], "linear_start_epochs": facts["linear_start_epochs"],
              "train_seconds": facts["seconds"], "cpu_seconds": facts["cpu_seconds"]}
    save_checkpoint(save_dir / "joint.pt", model.shared, {
        **record, "files": str(directory), "config": asdict(config), "seed": seed, "vocabulary": vocab.words,
        "command": command})
    _write_json(save_dir / "results.json", {"folder": str(directory), "config": asdict(config), "seed": seed,
                                            "command": command, **record})
    return record


def with_epochs(config: TrainConfig, total: int) -> TrainConfig:
    """``config`` for ``total`` epochs in all: a fixed linear phase keeps its share of the run and the schedule its
    number of halvings; a retry round never trains longer than the first round."""
    check_positive(epochs=total)
    if not config.linear_epochs:
        return replace(config, epochs=total, retry_epochs=min(total, config.retry_epochs))
    linear = total * config.linear_epochs // (config.linear_epochs + config.epochs)
    halvings = max(1, config.epochs // config.anneal_every)
    return replace(config, linear_epochs=linear, epochs=total - linear,
                   anneal_every=max(1, (total - linear) // halvings), retry_epochs=min(total, config.retry_epochs))


def public_joint_lines(directory: Path, record: dict[str, Any], config: TrainConfig, save_dir: Path) -> list[str]:
    errors = ", ".join(f"**{100 * e:.1f}**" if k == record["chosen_restart"] else f"{100 * e:.1f}"
                       for k, e in enumerate(record["train_errors"]))
    lines = [f"Public bAbI files from `{directory}`; one network for all {len(record['tasks'])} tasks (joint training: "
             f"d = {config.dim}, {config.restarts} restarts x {config.linear_epochs + config.epochs} epochs: "
             f"{config.linear_epochs} of linear start, then the learning rate halved every {config.anneal_every}; "
             f"each batch from one task), 1 torch thread: training took "
             f"{record['train_seconds']:.0f} s ({record['cpu_seconds']:.0f} CPU seconds). Training error per restart "
             f"(%), the one kept in bold: {errors}. The network and its manifest are in `{save_dir}`.", "",
             "| task | test error (%) | paper: PE LS RN joint (%) | paper: PE LS RN, per task (%) |",
             "|---|---:|---:|---:|"]
    for r in record["tasks"]:
        lines.append(f"| {r['task_name']} | {100 * r['test_error']:.1f} | {PAPER_PE_LS_RN_JOINT_1K[r['task'] - 1]:.1f} "
                     f"| {PAPER_PE_LS_RN_1K[r['task'] - 1]:.1f} |")
    if len(record["tasks"]) > 1:
        chosen = [r["task"] - 1 for r in record["tasks"]]
        mean = 100 * sum(r["test_error"] for r in record["tasks"]) / len(chosen)
        failed = sum(r["test_error"] > 0.05 for r in record["tasks"])
        joint, alone = (sum(paper[i] for i in chosen) / len(chosen)
                        for paper in (PAPER_PE_LS_RN_JOINT_1K, PAPER_PE_LS_RN_1K))
        lines.append(f"| **mean** (failed tasks, error > 5%) | **{mean:.1f}** ({failed}) | **{joint:.1f}** | "
                     f"**{alone:.1f}** |")
    return lines


def public_lines(directory: Path, results: list[dict[str, Any]], config: TrainConfig, save_dir: Path) -> list[str]:
    seconds = sum(r["train_seconds"] for r in results)
    cpu = sum(r["cpu_seconds"] for r in results)
    lines = [f"Public bAbI files from `{directory}`; {config.restarts} restarts x {config.epochs} epochs per task "
             f"({config.restarts} more with {config.retry_optimizer} x {config.retry_epochs} epochs, marked *, where "
             f"all stayed above {100 * config.retry_above:.0f}% training error; they compete only if one gets below "
             f"it), 1 torch thread: training took "
             f"{seconds:.0f} s ({cpu:.0f} CPU seconds). Networks, per-restart training and validation errors and the "
             f"chosen restarts are in `{save_dir}`.", "",
             "| task | test error (%) | training error per restart (%), the one kept in bold | "
             "paper: PE LS RN (%) |",
             "|---|---:|---|---:|"]
    for r in results:
        marks = ["*" if optimizer != config.optimizer else "" for optimizer in r["optimizers"]]
        restarts = ", ".join(f"**{100 * e:.1f}**{mark}" if k == r["chosen_restart"] else f"{100 * e:.1f}{mark}"
                             for k, (e, mark) in enumerate(zip(r["train_errors"], marks)))
        lines.append(f"| {r['task_name']} | {100 * r['test_error']:.1f} | {restarts} | "
                     f"{PAPER_PE_LS_RN_1K[r['task'] - 1]:.1f} |")
    if len(results) > 1:
        mean = 100 * sum(r["test_error"] for r in results) / len(results)
        paper = sum(PAPER_PE_LS_RN_1K[r["task"] - 1] for r in results) / len(results)
        failed = sum(r["test_error"] > 0.05 for r in results)
        lines.append(f"| **mean** (failed tasks, error > 5%) | **{mean:.1f}** ({failed}) | | **{paper:.1f}** |")
    return lines


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
    parser.add_argument("--babi-dir", type=Path,
                        help="train and test on the public files in this folder instead (tasks_1-20_v1-2/en, "
                             "en-10k or en-valid)")
    parser.add_argument("--tasks", default="all", help="with --babi-dir: which tasks, e.g. 1,2,16 or 1-5 (all)")
    parser.add_argument("--seed", type=int, default=0, help="with --babi-dir: the training seed (0)")
    parser.add_argument("--save-dir", type=Path, default=Path("babi_public_models"),
                        help="with --babi-dir: where the networks (joint.pt or qaN.pt, with manifests) and "
                             "results.json go")
    parser.add_argument("--per-task", action="store_true",
                        help="with --babi-dir: one network per task (the zoo's memn2n_babi_1k recipe) instead of one "
                             "network for all the tasks (the paper's joint training)")
    parser.add_argument("--epochs", type=int, help="epochs of the first round in all (60 joint, of which 20 of linear "
                                                    "start; 100 per task)")
    parser.add_argument("--restarts", type=int, help="restarts trained side by side (5)")
    args = parser.parse_args(argv)
    if args.babi_dir:
        command = " ".join(["python", "benchmarks/memnet.py", *(sys.argv[1:] if argv is None else argv)])
        base = TrainConfig() if args.per_task else JOINT_CONFIG
        restarts = base.restarts if args.restarts is None else args.restarts
        try:
            tasks = parse_tasks(args.tasks)
            config = replace(base if args.epochs is None else with_epochs(base, args.epochs), restarts=restarts)
            if args.per_task:
                results = public_run(args.babi_dir, tasks, config, args.seed, args.save_dir, command)
            else:
                record = public_joint_run(args.babi_dir, tasks, config, args.seed, args.save_dir, command)
        except (FileNotFoundError, ValueError, CheckpointError) as error:  # BabiFormatError is a ValueError
            print(f"error: {error}", file=sys.stderr)
            return 2
        lines = ["# Memory networks on the public bAbI files", "",
                 *(public_lines(args.babi_dir, results, config, args.save_dir) if args.per_task
                   else public_joint_lines(args.babi_dir, record, config, args.save_dir))]
        publish("\n".join(lines) + "\n", args.out)
        return 0
    torch.set_num_threads(2)
    lines = ["# Memory networks on bAbI", "",
             f"Machine: {torch.get_num_threads()} torch threads (training itself uses 1), torch {torch.__version__}. "
             "Times are CPU times of one thread; other jobs shared these 2 cores while this ran, which also slows "
             "CPU time somewhat (shared caches), so they are upper bounds.", ""]
    gen = generator_seconds()
    single = step_seconds(1)
    steps = {(n, side): step_seconds(n, side) for n in (5, 10) for side in (True, False)}
    seconds, epochs, error = time_to_quality()
    errors, manifest = zoo_table()
    train = manifest["config"]["train"]
    zoo_cpu = sum(facts["cpu_seconds"] for facts in manifest["tasks_trained"].values())
    retried = sorted((name for name, facts in manifest["tasks_trained"].items()
                      if len(facts["train_errors"]) > train["restarts"]), key=lambda name: int(name[2:]))
    lines += [
        "| measure | value |", "|---|---:|",
        f"| write 20 tasks x (1k train + 1k test) | {gen:.1f} CPU s |",
        f"| one training step, 1 network (batch 32, task 2), CPU time | {1000 * single:.1f} ms |",
        *(f"| one training step, {n} restarts side by side (`Restarts`: torch.vmap over stacked weights) | "
          f"{1000 * steps[n, True]:.1f} ms |\n| one training step, {n} restarts one after another (a plain loop) | "
          f"{1000 * steps[n, False]:.1f} ms |" for n in (5, 10)),
        f"| task 1 to <= 5% test error (1 network, Adam lr 0.02, no LS/RN) | {seconds:.1f} CPU s ({epochs} epochs, "
        f"error {100 * error:.1f}%) |",
        f"| zoo: train all 20 tasks x {train['restarts']} restarts x {train['epochs']} epochs, and "
        f"{train['restarts']} {train['retry_optimizer']} restarts x {train['retry_epochs']} epochs for "
        f"{', '.join(retried) or 'none'} | {zoo_cpu / 60:.1f} CPU min "
        f"({manifest['train_seconds'] / 60:.1f} min wall) |",
        f"| zoo checkpoint | {manifest['bytes'] / 1e6:.2f} MB |", "",
        "Per-task test error of the zoo model (`python -m attnmem.zoo train memn2n_babi_1k`) on 1,000 fresh "
        "generated test questions per task, beside Sukhbaatar et al. (2015), Table 1 (1k, PE LS RN):", "",
    ]
    lines += table(errors)
    publish("\n".join(lines) + "\n", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
