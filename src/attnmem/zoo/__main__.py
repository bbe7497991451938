"""Command line for the zoo: ``python -m attnmem.zoo {list,train,verify}``."""
from __future__ import annotations

import argparse
import sys

from attnmem import zoo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m attnmem.zoo", description="The book's pretrained models.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the models, with their recorded metrics")
    train = commands.add_parser("train", help="train a model and write NAME.pt and NAME.json")
    train.add_argument("names", nargs="+", metavar="NAME")
    train.add_argument("--out", default=None, help="folder to write to (default: the package's zoo folder)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    verify = commands.add_parser("verify", help="re-measure shipped models on fresh test data")
    verify.add_argument("names", nargs="*", metavar="NAME")
    verify.add_argument("--dir", default=None, help="folder to read from (default: the package's zoo folder)")
    args = parser.parse_args(argv)

    try:
        if args.command == "list":
            for name in zoo.names():
                print(zoo.describe(name))
            return 0
        if args.command == "train":
            for name in args.names:
                zoo.recipe(name)  # fail on a typo before any training starts
            for name in args.names:
                record = zoo.train(name, args.out, progress=not args.quiet)
                metrics = ", ".join(f"{k} {v:.4g}" for k, v in record["metrics"].items())
                print(f"{name}: {metrics}; {record['train_seconds']:.1f} s; {record['bytes']} bytes; "
                      f"sha256 {record['sha256'][:12]}")
            return 0
        results = zoo.verify(args.names or None, args.dir)
        for result in results:
            print(f"{'ok  ' if result.ok else 'FAIL'} {result.name}: {result.message}")
        return 0 if all(r.ok for r in results) else 1
    except (zoo.ZooError, zoo.CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
