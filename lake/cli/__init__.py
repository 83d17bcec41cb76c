"""The `lake` command. Each user task registers its subcommands from its own module; lake.cli.format shows results."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from lake.errors import LakeError

# One module per user task, each exposing register(subparsers); this order is the order of `lake --help`.
COMMAND_MODULES = [
    "lake.cli.write",
    "lake.cli.validate",
    "lake.cli.check",
    "lake.cli.runs",
    "lake.cli.demo",
    "lake.cli.backtest",
    "lake.cli.generate",
    "lake.cli.register",
    "lake.cli.refresh",
    "lake.cli.bq_smoke",
    "lake.cli.query",
    "lake.cli.compare",
    "lake.cli.sweep",
    "lake.cli.push",
    "lake.cli.contract",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lake", description="Backtest runs in the execution store.")
    parser.add_argument("--version", action="version", version=f"execution-lake {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _version() -> str:
    from lake import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except LakeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `lake runs | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def run() -> None:
    """The console script: main(), then exit without tearing down native thread pools.

    Arrow's Parquet reader can abort the interpreter's final teardown ("terminate
    called without an active exception", exit 134; apache/arrow#34314) after all
    work is done. Flushing and leaving through os._exit keeps the exit code ours.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
