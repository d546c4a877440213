"""`mmchat history`: list, show, rename, delete and export conversations."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

from mmchat.commands.common import DbOption, fail
from mmchat.text import one_line

app = typer.Typer(help="List, show, rename, delete and export conversations.", no_args_is_help=True)


def _store(db: str | None, *, readonly: bool = False) -> Any:
    """The store; read-only for commands that only read: they never create, upgrade or repair
    a database (it may be another mmchat's, or a backup)."""
    from mmchat.config import default_db_path
    from mmchat.store import Store, StoreError

    try:
        return Store(Path(db) if db else default_db_path(), readonly=readonly)
    except StoreError as exc:
        fail(str(exc))


def _has_db(db: str | None) -> bool:
    from mmchat.config import default_db_path

    return (Path(db) if db else default_db_path()).exists()


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


@app.command("list")
def list_(
    search: Annotated[str, typer.Option(help="Only conversations mentioning this.")] = "",
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    db: DbOption = None,
) -> None:
    """Conversations, newest first."""
    if not _has_db(db):
        return  # nothing saved yet
    with _store(db, readonly=True) as store:
        for conv in store.conversations(search, limit):
            title = one_line(conv.title or "(untitled)", 60)
            # Found only on a branch the chat does not show (`history export` has them all).
            hidden = "  (on another branch)" if conv.branch_hit is not None else ""
            typer.echo(
                f"{conv.id:>5}  {_when(conv.updated_at)}  {conv.message_count:>3} msgs  "
                f"{title}{hidden}"
            )


@app.command()
def show(conversation: int, db: DbOption = None) -> None:
    """Print a conversation as Markdown."""
    from mmchat.export import to_markdown
    from mmchat.store import StoreError

    with _store(db, readonly=True) as store:
        try:
            typer.echo(to_markdown(store, conversation).text, nl=False)
        except StoreError as exc:
            fail(str(exc))


@app.command()
def rename(conversation: int, title: str, db: DbOption = None) -> None:
    """Give a conversation a new title."""
    from mmchat.store import StoreError

    with _store(db) as store:
        try:
            store.update_conversation(conversation, title=one_line(title, 200))
        except StoreError as exc:
            fail(str(exc))


@app.command()
def delete(
    conversation: int,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
) -> None:
    """Delete a conversation and its attachments."""
    from mmchat.store import StoreError

    with _store(db) as store:
        try:
            conv = store.conversation(conversation)
            title = one_line(conv.title or "(untitled)", 60)
            if not yes and not typer.confirm(f"Delete conversation {conv.id} '{title}'?"):
                raise typer.Exit(1)
            store.delete_conversation(conversation)
        except StoreError as exc:
            fail(str(exc))


@app.command()
def export(
    conversation: int,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format", "-f", help="md, json or html (default: from -o's extension, else md)"
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="New file to write (0600); Markdown's images go in NAME_files/."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing -o file.")] = False,
    db: DbOption = None,
) -> None:
    """Export a conversation to Markdown, JSON or one self-contained HTML file."""
    from mmchat.export import FORMATS, ExportError, render, suffix_format, write_export
    from mmchat.store import StoreError

    fmt = fmt or (output and suffix_format(output)) or "md"
    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r}: use md, json or html", 2)
    with _store(db, readonly=True) as store:
        try:
            if output is None:  # to the terminal: Markdown links its images by sha256
                typer.echo(render(store, conversation, fmt).text, nl=False)
                return
            write_export(store, conversation, output, fmt=fmt, force=force)
        except StoreError as exc:
            fail(str(exc))
        except ExportError as exc:
            fail(str(exc), 2)
