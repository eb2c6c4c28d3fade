"""The command line: the parser (subcommands in grammar.py, argument types in argtypes.py) and
the script after `--`. No behaviour.

Argument types turn text into values or raise one-line errors; argparse's own errors become a
`UsageError` (exit 2) through `Parser.error`.
"""

from __future__ import annotations

from tfrepro import __version__
from tfrepro.cli.argtypes import MAX_SEEDS, Parser, seeds
from tfrepro.cli.export import add_parser as add_export_parser
from tfrepro.cli.grammar import (
    add_bisect,
    add_envs,
    add_explain,
    add_run,
    add_verdicts,
    add_versions,
    store_arg,
)
from tfrepro.errors import UsageError

__all__ = ["MAX_SEEDS", "SCRIPT_COMMANDS", "build", "check_script", "seeds", "split_script"]


SCRIPT_COMMANDS = ("run", "explain", "bisect", "check")


def split_script(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """`tfrepro run [OPTIONS] -- python train.py ARGS`: the options, and the script's command
    (None without `--`)."""
    if "--" not in argv:
        return argv, None
    at = argv.index("--")
    return argv[:at], argv[at + 1 :]


def check_script(command: str, script: list[str] | None) -> None:
    if script is None:
        return
    if command not in SCRIPT_COMMANDS:
        raise UsageError(
            f"`tfrepro {command}` takes no script after `--`; "
            f"{', '.join(SCRIPT_COMMANDS)} do (e.g. tfrepro run --tf 2.15 -- python train.py)"
        )
    if not script:
        raise UsageError(
            "no script after `--`; give the command that trains, "
            "e.g. `tfrepro run --tf 2.15 -- python train.py --epochs 3`"
        )


def build() -> Parser:
    p = Parser(
        prog="tfrepro",
        description="Does your training change across TensorFlow releases? Measure it.",
    )
    p.add_argument("--version", action="version", version=f"tfrepro {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    add_run(sub)
    add_explain(sub)
    add_verdicts(sub)
    add_bisect(sub)
    add_versions(sub)
    add_export_parser(sub, store_arg)
    add_envs(sub)
    return p
