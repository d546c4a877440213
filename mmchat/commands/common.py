"""Options and error reporting shared by the subcommands."""

from __future__ import annotations

import sys
from typing import Annotated, NoReturn

import typer

from mmchat.text import one_line

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Conversation database file (default: in the data dir).", envvar=None
    ),
]
NoPluginsOption = Annotated[
    bool, typer.Option("--no-plugins", help="Start without any plugin (built-ins only).")
]


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr naming the cause, then exit non-zero."""
    print(f"mmchat: error: {one_line(message)}", file=sys.stderr)
    raise typer.Exit(code)


def warn(message: str) -> None:
    print(f"mmchat: {one_line(message)}", file=sys.stderr)
