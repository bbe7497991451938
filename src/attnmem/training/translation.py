"""Translate with a model trained on your own tab-separated corpus (the Tatoeba/Anki ``fra.txt`` format).

    python -m attnmem.training.translation fra.txt --out fra.pt --minutes 10 --threads 1
    python -m attnmem.training.translation translate fra.pt "I am cold." "Where is Tom?"

The first command reads ``source<TAB>target[<TAB>attribution]`` lines (``attnmem.tasks.translation.load_parallel``),
splits them BY SOURCE SENTENCE (no held-out source occurs in training; ``--test FILE`` scores a file of your own
instead), trains for a CPU-time budget or a number of steps, scores greedy and beam decoding with standard
sacreBLEU on detokenized text against the file's own target sentences, and saves the model with its vocabularies,
config and scores (``attnmem.checkpoint``: hash-checked, loaded with ``weights_only=True``). In Python:

    from attnmem.training.translation import load, translate
    translator = load("fra.pt")
    translate(translator, "I am cold.")

The defaults are a recipe for about ten CPU-minutes on one thread: the chapter 10 Transformer with d_model 192,
2 + 2 layers, batches of about 3,000 tokens of similar lengths, Adam with a 100-step linear warm-up then an
inverse square root decay (Vaswani et al. 2017, Eq. 3) and label smoothing 0.1. The size follows a measurement at
600 CPU-seconds on Tatoeba en-fr reported in the project's issue #20 (for a plain ``torch.nn.Transformer``,
d_model 192 with 2 + 2 layers beat 256 with 3 + 3 at that budget); the warm-up was chosen on the validation split
of a synthetic corpus (``benchmarks/results/translation_corpus_history.md``). At 600 CPU-seconds on a harder,
Tatoeba-like synthetic corpus this recipe reaches 38.3 beam-5 validation BLEU where a plain ``torch.nn.Transformer``
of the same size, trained the usual way, reaches 12.4 (``benchmarks/translation_corpus.py``). ``--model bahdanau``
or ``location`` trains chapter 3's recurrent models.
"""
from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import torch
from torch import nn
from tqdm import tqdm

from attnmem.checkpoint import load_checkpoint, read_manifest, save_checkpoint
from attnmem.seq2seq import beam_search, build_model, greedy_batch, sequence_loss
from attnmem.tasks.translation import (CorpusError, Pair, Vocab, detokenize, load_parallel, make_batch,
                                       split_indices, tokenize)
from attnmem.training import TrainingError
from attnmem.training.transformer import transformer_loss
from attnmem.transformer import build_transformer

__all__ = ["MODELS", "RECIPE", "Translator", "build", "inverse_sqrt_rate", "token_batches", "train", "decode",
           "score", "load", "translate", "main"]

MODELS = ("transformer", "bahdanau", "location")
#: the command's defaults (see the module docstring for where they come from)
RECIPE: dict[str, Any] = {"model": "transformer", "hidden": 192, "layers": 2, "heads": 4, "ff": 768, "embed": 128,
                          "dropout": 0.1, "label_smoothing": 0.1, "lr": 1e-3, "warmup": 100, "batch_tokens": 3000}
TOKENIZATION = ("Unicode NFKC, curly apostrophes made straight, punctuation split off as its own token, words split "
                "on white space ({case}); rarer words than --min-count become <unk>")


class Translator(NamedTuple):
    """A trained model with what it needs to translate text: its vocabularies and how text was tokenized."""

    model: nn.Module
    src_vocab: Vocab
    tgt_vocab: Vocab
    lowercase: bool
    manifest: dict[str, Any]


def build(config: dict[str, Any]) -> nn.Module:
    """The model a config names: the chapter 10 Transformer or a chapter 3 encoder-decoder with attention."""
    if config["model"] == "transformer":
        return build_transformer({"src_vocab": config["src_vocab"], "tgt_vocab": config["tgt_vocab"],
                                  "d_model": config["hidden"], "heads": config["heads"], "d_ff": config["ff"],
                                  "layers": config["layers"], "dropout": config["dropout"],
                                  "max_positions": config["max_positions"]})
    return build_model({"attention": config["model"], "src_vocab": config["src_vocab"],
                        "tgt_vocab": config["tgt_vocab"], "embed": config["embed"], "hidden": config["hidden"],
                        "bidirectional": True, "dropout": config["dropout"]})


def inverse_sqrt_rate(step: int, peak: float, warmup: int) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then ``peak * sqrt(warmup / step)`` (Vaswani et al. 2017,
    Eq. 3, with the peak set directly instead of through d_model)."""
    step += 1
    return peak * min(step / warmup, math.sqrt(warmup / step))


def token_batches(pairs: Sequence[Pair], batch_tokens: int, rng: random.Random) -> list[list[int]]:
    """Batches of pair positions holding about ``batch_tokens`` tokens each (padding counted): pairs of similar
    lengths go together, so little of a batch is padding; the order of the batches is shuffled."""
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i].source), len(pairs[i].target), rng.random()))
    batches, current, longest = [], [], 0
    for i in order:
        width = len(pairs[i].source) + len(pairs[i].target) + 2
        if current and (len(current) + 1) * max(longest, width) > batch_tokens:
            batches.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, width)
    batches.append(current)
    rng.shuffle(batches)
    return batches


def train(model: nn.Module, pairs: Sequence[Pair], src_vocab: Vocab, tgt_vocab: Vocab, config: dict[str, Any],
          seconds: float | None, steps: int | None, seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Train until ``seconds`` of CPU time or ``steps`` steps, whichever comes first; returns what it did.

    Adam (betas 0.9, 0.98) at ``inverse_sqrt_rate``, gradient norm clipped at 1, token batches. CPU time is
    measured, not wall time, since the machine may be busy with other work; a run bounded by ``steps`` alone is
    deterministic under ``seed``.
    """
    torch.manual_seed(seed)
    rng = random.Random(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"], betas=(0.9, 0.98))
    transformer = config["model"] == "transformer"
    what = f"training {config['model']} (size {config['hidden']}) on {len(pairs):,} pairs"
    bar = tqdm(total=seconds if seconds is not None else steps, desc=what, disable=not progress,
               unit="cpu-s" if seconds is not None else "step", bar_format="{desc}: {percentage:3.0f}% "
               "{n:.0f}/{total:.0f} {unit} [{elapsed} elapsed, {remaining} left{postfix}]")
    start, step, queue, losses = time.process_time(), 0, [], []
    model.train()
    while (steps is None or step < steps) and (seconds is None or time.process_time() - start < seconds):
        queue = queue or token_batches(pairs, config["batch_tokens"], rng)
        batch = make_batch([pairs[i] for i in queue.pop()], src_vocab, tgt_vocab, unknown="unk")
        for group in optimizer.param_groups:
            group["lr"] = inverse_sqrt_rate(step, config["lr"], config["warmup"])
        loss = transformer_loss(model, batch, config["label_smoothing"])[0] if transformer else \
            sequence_loss(model, batch)[0]
        if not torch.isfinite(loss):
            raise TrainingError(f"the loss became {float(loss)} at step {step}; lower --lr (now {config['lr']})")
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
        step += 1
        bar.update(min(seconds, time.process_time() - start) - bar.n if seconds is not None else 1)
        if step % 20 == 0:
            bar.set_postfix_str(f"step {step}, loss {sum(losses[-20:]) / 20:.3f}", refresh=False)
    bar.close()
    model.eval()
    return {"steps": step, "cpu_seconds": round(time.process_time() - start, 1),
            "final_loss": round(sum(losses[-50:]) / max(1, len(losses[-50:])), 4)}


def _copy_unknowns(words: list[str], source: list[str], alignment: torch.Tensor | None) -> list[str]:
    """Each <unk> in the output replaced by the source word its attention looked at most (the source word is
    copied as written; where attention points at the end of the sentence the <unk> stays, marking the gap)."""
    out = []
    for t, word in enumerate(words):
        at = int(alignment[t].argmax()) if word == "<unk>" and alignment is not None else len(source)
        out.append(source[at] if at < len(source) else word)
    return out


@torch.no_grad()
def decode(translator: Translator, sentences: Sequence[Sequence[str]], beam: int = 1,
           batch_size: int = 200) -> list[list[str]]:
    """Tokenized translations of tokenized sentences: greedy in batches (``beam=1``) or beam search one at a time;
    unknown words are fed as <unk> and copied from the source in the output (``_copy_unknowns``)."""
    model, src_vocab, tgt_vocab = translator.model, translator.src_vocab, translator.tgt_vocab
    model.eval()
    out: list[list[str]] = []
    for i in range(0, len(sentences), batch_size if beam == 1 else 1):
        chunk = sentences[i:i + batch_size] if beam == 1 else sentences[i:i + 1]
        encoded = [torch.tensor(src_vocab.encode(list(s), unknown="unk")) for s in chunk]
        src = nn.utils.rnn.pad_sequence(encoded, batch_first=True, padding_value=Vocab.PAD)
        max_length = 2 * src.shape[1] + 10
        if beam == 1:
            ids, weights = greedy_batch(model, src, torch.tensor([len(e) for e in encoded]), max_length)
            rows = [(row, None if weights is None else weights[k]) for k, row in enumerate(ids.tolist())]
        else:
            best = beam_search(model, encoded[0], beam, max_length)[0]
            rows = [(best.ids + [Vocab.EOS], best.alignment)]
        for source, (row, alignment) in zip(chunk, rows):
            out.append(_copy_unknowns(tgt_vocab.decode(row), list(source), alignment))
    return out


def score(hypotheses: Sequence[Sequence[str]], references: Sequence[str], lowercase: bool) -> dict[str, Any]:
    """Standard sacreBLEU (its default 13a tokenizer, mixed case) of the detokenized hypotheses against the
    references as the corpus file has them, with its signature; and exact match of the tokenized sentences."""
    from sacrebleu.metrics import BLEU

    bleu = BLEU()
    result = bleu.corpus_score([detokenize(h) for h in hypotheses], [list(references)])
    exact = sum(list(h) == tokenize(r, lowercase) for h, r in zip(hypotheses, references))
    return {"bleu": round(result.score, 2), "exact_match": round(exact / max(1, len(references)), 4),
            "sentences": len(references), "signature": str(bleu.get_signature())}


def load(path: str | Path) -> Translator:
    """A model saved by this command, its weights verified against the manifest's hash (``weights_only``)."""
    manifest = read_manifest(path)
    if "tgt_vocab" not in manifest or "config" not in manifest:
        raise ValueError(f"{path} is not a model saved by python -m attnmem.training.translation (its manifest has "
                         f"no vocabularies); train one with: python -m attnmem.training.translation CORPUS --out "
                         f"{path}")
    model = build(manifest["config"])
    load_checkpoint(path, model)
    model.eval()
    return Translator(model, Vocab(manifest["src_vocab"][len(Vocab.SPECIALS):]),
                      Vocab(manifest["tgt_vocab"][len(Vocab.SPECIALS):]), manifest["lowercase"], manifest)


def translate(translator: Translator, sentence: str, beam: int = 5) -> str:
    """Translate one sentence of text; words the model never saw are copied from the source where attention
    points at them, else left as ``<unk>``."""
    words = tokenize(sentence, translator.lowercase)
    if not words:
        raise ValueError("nothing to translate: the sentence is empty")
    return detokenize(decode(translator, [words], beam)[0])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m attnmem.training.translation",
        description="Train a translation model on a tab-separated corpus (source<TAB>target[<TAB>attribution] a "
                    "line, e.g. Tatoeba/Anki fra.txt), score it and save it. To translate with a saved model: "
                    "python -m attnmem.training.translation translate MODEL.pt 'a sentence' ...")
    parser.add_argument("corpus", help="the tab-separated corpus file")
    parser.add_argument("--out", required=True, help="where to write the model (.pt; a .json manifest beside it)")
    parser.add_argument("--test", help="score on this tab-separated file instead of a held-out part of the corpus")
    parser.add_argument("--model", default=RECIPE["model"], choices=MODELS)
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, help="CPU-time budget in minutes (default 10 unless --steps)")
    budget.add_argument("--seconds", type=float, help="CPU-time budget in seconds")
    parser.add_argument("--steps", type=int, help="stop after this many steps (with a budget: whichever is first)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default 1)")
    parser.add_argument("--lr", type=float, default=RECIPE["lr"], help="peak learning rate")
    parser.add_argument("--warmup", type=int, default=RECIPE["warmup"], help="warm-up steps")
    parser.add_argument("--hidden", type=int, default=RECIPE["hidden"],
                        help="d_model of the Transformer, or the GRU size of a recurrent model")
    parser.add_argument("--layers", type=int, default=RECIPE["layers"], help="Transformer layers (encoder = decoder)")
    parser.add_argument("--heads", type=int, default=RECIPE["heads"])
    parser.add_argument("--ff", type=int, help="Transformer feed-forward size (default 4 x --hidden)")
    parser.add_argument("--embed", type=int, default=RECIPE["embed"], help="word embedding size (recurrent models)")
    parser.add_argument("--dropout", type=float, default=RECIPE["dropout"])
    parser.add_argument("--batch-tokens", type=int, default=RECIPE["batch_tokens"], help="tokens per batch")
    parser.add_argument("--beam", type=int, default=5, help="beam width for the beam score (1: greedy only)")
    parser.add_argument("--max-length", type=int, default=30, help="drop pairs with a side longer than this")
    parser.add_argument("--prefix", action="append", help="keep only sources starting with this (repeatable)")
    parser.add_argument("--swap", action="store_true", help="translate the second column into the first")
    parser.add_argument("--lowercase", action="store_true", help="lower-case everything (default: keep case)")
    parser.add_argument("--min-count", type=int, default=2, help="rarer words become <unk>")
    parser.add_argument("--held-out", type=float, default=0.05,
                        help="fraction of pairs held out for validation and again for test (by source sentence)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _scores(translator: Translator, pairs: Sequence[Pair], texts: Sequence[str], beam: int) -> dict[str, Any]:
    """Greedy and (with ``beam`` > 1) beam-search scores of ``pairs`` against the corpus texts of their targets."""
    sources = [p.source for p in pairs]
    scores = {"greedy": score(decode(translator, sources, 1), texts, translator.lowercase)}
    if beam > 1:
        scores[f"beam{beam}"] = score(decode(translator, sources, beam), texts, translator.lowercase)
    return scores


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Settings that would train nothing or fail later are refused now, naming the option."""
    positive = {"--threads": args.threads, "--beam": args.beam, "--hidden": args.hidden, "--layers": args.layers,
                "--heads": args.heads, "--embed": args.embed, "--warmup": args.warmup,
                "--batch-tokens": args.batch_tokens, "--max-length": args.max_length, "--min-count": args.min_count,
                "--steps": args.steps or 1, "--ff": args.ff or 1}
    for option, value in positive.items():
        if value < 1:
            parser.error(f"{option} must be at least 1, got {value}")
    for option, value in {"--minutes": args.minutes, "--seconds": args.seconds, "--lr": args.lr}.items():
        if value is not None and not (math.isfinite(value) and value > 0):
            parser.error(f"{option} must be a positive number, got {value}")
    if args.model == "transformer" and args.hidden % args.heads:
        parser.error(f"--hidden ({args.hidden}) must be a multiple of --heads ({args.heads})")
    if not 0 <= args.held_out < 0.5:
        parser.error(f"--held-out is the fraction held out for validation and again for test: give 0 to 0.5, "
                     f"got {args.held_out}")
    if not 0 <= args.dropout < 1:
        parser.error(f"--dropout must be in [0, 1), got {args.dropout}")


def _train_command(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _check_args(parser, args)
    torch.set_num_threads(args.threads)
    seconds = args.seconds if args.seconds is not None else (args.minutes * 60 if args.minutes is not None else
                                                             None if args.steps is not None else 600.0)
    try:
        corpus = load_parallel(args.corpus, max_length=args.max_length, prefixes=args.prefix, swap=args.swap,
                               on_error="skip", lowercase=args.lowercase)
        test = load_parallel(args.test, swap=args.swap, on_error="skip", lowercase=args.lowercase) \
            if args.test else None
    except CorpusError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(corpus)
    held_out = 0.0 if test else args.held_out
    try:
        train_at, valid_at, test_at = split_indices([p.source for p in corpus.pairs], held_out, held_out, args.seed)
    except ValueError as error:
        print(f"error: {error}; after filtering ({corpus}) too few pairs are left: loosen --max-length or --prefix",
              file=sys.stderr)
        return 2
    train_pairs = [corpus.pairs[i] for i in train_at]
    src_vocab = Vocab.build((p.source for p in train_pairs), min_count=args.min_count)
    tgt_vocab = Vocab.build((p.target for p in train_pairs), min_count=args.min_count)
    longest = max(len(p.source) for p in corpus.pairs + (test.pairs if test else []))
    config = {"model": args.model, "src_vocab": len(src_vocab), "tgt_vocab": len(tgt_vocab), "hidden": args.hidden,
              "layers": args.layers, "heads": args.heads, "ff": args.ff or 4 * args.hidden, "embed": args.embed,
              "dropout": args.dropout, "max_positions": max(1024, 2 * longest + 12), "lr": args.lr,
              "warmup": args.warmup, "batch_tokens": args.batch_tokens, "label_smoothing": RECIPE["label_smoothing"]}
    case = "lower-cased" if args.lowercase else "case kept"
    print(f"split by source sentence: {len(train_at)} training, {len(valid_at)} validation, "
          f"{len(test.pairs) if test else len(test_at)} test pairs{f' (from {args.test})' if test else ''}; "
          f"vocabularies {len(src_vocab)} / {len(tgt_vocab)}\ntokenization: {TOKENIZATION.format(case=case)}")
    torch.manual_seed(args.seed)  # the initial weights too, so a run bounded by --steps repeats exactly
    model = build(config)
    info = train(model, train_pairs, src_vocab, tgt_vocab, config, seconds, args.steps, args.seed, not args.quiet)
    translator = Translator(model, src_vocab, tgt_vocab, args.lowercase, {})
    held = {"valid": ([corpus.pairs[i] for i in valid_at], [corpus.texts[i][1] for i in valid_at])}
    held["test"] = (test.pairs, [t for _, t in test.texts]) if test else \
        ([corpus.pairs[i] for i in test_at], [corpus.texts[i][1] for i in test_at])
    # validation (what one tunes on) greedy only; beam search goes one sentence at a time
    scores = {name: _scores(translator, pairs, texts, args.beam if name == "test" else 1)
              for name, (pairs, texts) in held.items() if pairs}
    print(f"{info['steps']} steps in {info['cpu_seconds']} CPU seconds on {args.threads} thread(s); "
          f"final training loss {info['final_loss']}")
    for name, by_search in scores.items():
        for search, s in by_search.items():
            print(f"{name} ({s['sentences']} sentences, {search}): BLEU {s['bleu']:.2f}, exact_match "
                  f"{s['exact_match']:.3f}")
    if scores:
        signature = scores["test" if "test" in scores else "valid"]["greedy"]["signature"]
        print(f"BLEU: sacreBLEU on detokenized output against the file's target sentences; {signature}")
    save_checkpoint(args.out, model, {
        "config": config, "src_vocab": src_vocab.itos, "tgt_vocab": tgt_vocab.itos, "lowercase": args.lowercase,
        "tokenization": TOKENIZATION.format(case=case), "corpus": corpus.path, "test_file": args.test,
        "split": {"by": "source sentence", "seed": args.seed, "train": len(train_at), "valid": len(valid_at),
                  "test": len(test.pairs) if test else len(test_at)},
        "training": {**info, "threads": args.threads, "cpu_budget_seconds": seconds}, "scores": scores,
        "command": "python -m attnmem.training.translation " + " ".join(argv)})
    print(f"wrote {args.out}; translate with: python -m attnmem.training.translation translate {args.out} 'a sentence'")
    return 0


def _translate_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m attnmem.training.translation translate",
                                     description="Translate sentences with a model this command saved.")
    parser.add_argument("model", help="the .pt file written by --out")
    parser.add_argument("sentences", nargs="+")
    parser.add_argument("--beam", type=int, default=5)
    args = parser.parse_args(argv)
    try:
        translator = load(args.model)
    except (ValueError, RuntimeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for sentence in args.sentences:
        print(translate(translator, sentence, args.beam))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m attnmem.training.translation CORPUS --out PT`` trains; ``... translate PT 'sentence'`` translates."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["translate"]:
        return _translate_command(argv[1:])
    return _train_command(argv)


if __name__ == "__main__":
    sys.exit(main())
