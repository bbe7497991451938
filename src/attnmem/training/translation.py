"""Train the chapter 3 model on a real tab-separated corpus: ``python -m attnmem.training.translation CORPUS --out PT``.

With a corpus such as Tatoeba/Anki's ``fra.txt`` on disk (nothing is downloaded),

    python -m attnmem.training.translation fra.txt --out fra.pt --max-length 10 --prefix "i am" --prefix "he is"

loads the pairs (``attnmem.tasks.translation.load_parallel``), builds vocabularies from the training split, trains
an encoder-decoder with attention, prints held-out exact match / token accuracy / BLEU, and writes the checkpoint
with a manifest that holds both vocabularies.
"""
from __future__ import annotations

import argparse
import sys

import torch

from attnmem.checkpoint import save_checkpoint
from attnmem.seq2seq import ATTENTIONS, build_model, evaluate_pairs, sequence_loss
from attnmem.tasks.translation import Batch, CorpusError, Vocab, load_parallel, make_batch, split_pairs
from attnmem.training import fit

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """``python -m attnmem.training.translation fra.txt --out model.pt``: train chapter 3's model on a corpus."""
    parser = argparse.ArgumentParser(prog="python -m attnmem.training.translation", description=main.__doc__)
    parser.add_argument("corpus", help="tab-separated file: source<TAB>target[<TAB>attribution] per line")
    parser.add_argument("--out", required=True, help="where to write the checkpoint (.pt; a .json manifest beside it)")
    parser.add_argument("--attention", default="bahdanau", choices=ATTENTIONS)
    parser.add_argument("--max-length", type=int, default=10, help="drop pairs with a side longer than this")
    parser.add_argument("--prefix", action="append", help="keep only sources starting with this (repeatable)")
    parser.add_argument("--swap", action="store_true", help="translate the second column into the first")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--embed", type=int, default=64)
    parser.add_argument("--min-count", type=int, default=2, help="rarer words become <unk>")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        corpus = load_parallel(args.corpus, max_length=args.max_length, prefixes=args.prefix, swap=args.swap,
                               on_error="skip")
    except CorpusError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(corpus)
    if len(corpus.pairs) < 3:
        print("error: fewer than 3 pairs are left after filtering; loosen --max-length or --prefix", file=sys.stderr)
        return 2
    split = split_pairs(corpus.pairs, seed=args.seed)
    src_vocab = Vocab.build((p.source for p in split.train), min_count=args.min_count)
    tgt_vocab = Vocab.build((p.target for p in split.train), min_count=args.min_count)
    config = {"attention": args.attention, "src_vocab": len(src_vocab), "tgt_vocab": len(tgt_vocab),
              "embed": args.embed, "hidden": args.hidden, "bidirectional": True}
    model = build_model(config)
    batch_size = min(args.batch_size, len(split.train))

    def draw(generator: torch.Generator) -> Batch:
        index = torch.randint(0, len(split.train), (batch_size,), generator=generator).tolist()
        return make_batch([split.train[i] for i in index], src_vocab, tgt_vocab, unknown="unk")

    history = fit(model, sequence_loss, draw, steps=args.steps, seed=args.seed, desc="seq2seq")
    held_out = split.test or split.valid or split.train
    metrics = evaluate_pairs(model, held_out, src_vocab, tgt_vocab, unknown="unk")
    print(f"{history.summary()}\ntest ({len(held_out)} pairs): " +
          ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
    save_checkpoint(args.out, model, {"config": config, "corpus": corpus.path, "steps": history.steps,
                                      "metrics": metrics, "src_vocab": src_vocab.itos, "tgt_vocab": tgt_vocab.itos,
                                      "command": "python -m attnmem.training.translation " + " ".join(argv or sys.argv[1:])})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
