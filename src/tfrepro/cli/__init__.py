"""The `tfrepro` command: parse, call the subcommand, turn errors into one line and an exit code.

Errors raised on purpose (tfrepro.errors) are printed as one line and become the exit code;
argparse's own errors are made one line too (cli/parser.py). Subcommands are in commands.py.
"""

from __future__ import annotations

import sys

from rich.console import Console

from tfrepro.cli import parser
from tfrepro.cli.commands import COMMANDS
from tfrepro.cli.export import cmd_export
from tfrepro.errors import TfreproError
from tfrepro.report.style import visible


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    console = Console()
    err = Console(stderr=True)
    try:
        options, script = parser.split_script(argv)
        args = parser.build().parse_args(options)
        if args.command is None:
            parser.build().print_help()
            return 2
        parser.check_script(args.command, script)
        args.argv = argv
        args.script = script
        command = cmd_export if args.command == "export" else COMMANDS[args.command]
        return int(command(args, console) or 0)
    except TfreproError as exc:
        # the message quotes what the user gave: its control characters are shown, not obeyed
        err.print(visible(f"tfrepro: error: {exc}"), highlight=False, markup=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("tfrepro: interrupted; finished cells are in the store, rerun to resume")
        return 130
