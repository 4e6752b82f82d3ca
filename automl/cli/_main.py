"""The ``automl`` command line: thin wrappers over the Python API.

User mistakes (bad arguments, unreadable files, bad data) print one line to stderr and exit 2,
with no traceback. The parser is in ``_parser``, the sub-commands in ``_commands``.
"""

from __future__ import annotations

import logging
import os
import sys

from automl.cli._parser import build_parser
from automl.errors import InputError, UserError


def _setup_logging(quiet: bool, verbose: int) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    if verbose > 1 and not quiet:
        logging.getLogger("automl").setLevel(logging.DEBUG)
    logging.getLogger("optuna").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.quiet or getattr(args, "json", False), args.verbose)
    try:
        return int(args.func(args))
    except (UserError, InputError) as e:
        print(f"automl {args.command}: error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:  # an optional package the command needs (pyarrow, mlflow, a framework)
        print(f"automl {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        import signal

        print("automl: interrupted", file=sys.stderr)
        if argv is None:  # the command itself (not a caller of main() in its own process, which keeps its handler):
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a further Ctrl-C must not break the exit,
            sys.stdout.flush()  # and the interpreter's teardown is skipped: a Ctrl-C still pending from the
            sys.stderr.flush()  # abort could turn it into a death by SIGINT
            os._exit(130)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
