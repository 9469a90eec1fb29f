"""The ``interestmap`` command line: the same library calls the app and the API use.

Every command prints a one-line message on stderr and exits with code 2 on bad input.
The commands live by what they work on: :mod:`~interestmap.serve.cli_index` (encode,
index, nearest, serve), :mod:`~interestmap.serve.cli_topics` (classify) and
:mod:`~interestmap.serve.cli_analysis` (analyze, whatif, mirror).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from interestmap.errors import InterestmapError
from interestmap.serve import cli_analysis, cli_index, cli_topics
from interestmap.serve.cli_common import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    Command,
)

COMMANDS: dict[str, Command] = {c.name: c for c in (
    *cli_index.COMMANDS, *cli_topics.COMMANDS, *cli_analysis.COMMANDS)}
"""Every sub-command by name, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The ``interestmap`` argument parser, with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="interestmap",
        description="See which audiences and declared topics a short clip will reach.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for c in COMMANDS.values():
        c.build(sub.add_parser(c.name, help=c.help, description=c.help))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (2: bad input, one line on stderr)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    run = COMMANDS[args.command].run
    try:
        return run(args)
    except InterestmapError as e:
        print(f"interestmap: {' '.join(str(e).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interestmap: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:  # last resort: one line, not a traceback (unless --debug)
        if args.debug:
            raise
        first = (str(e).strip().splitlines() or [""])[0][:200]
        print(f"interestmap: internal error ({type(e).__name__}: {first}); "
              "run with --debug and report it", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
