"""`mmchat history`: list, show, rename, delete and export conversations."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

from mmchat.commands.common import DbOption, fail
from mmchat.text import json_for_terminal, one_line, strip_control

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
            typer.echo(
                f"{conv.id:>5}  {_when(conv.updated_at)}  {conv.message_count:>3} msgs  {title}"
            )


@app.command()
def show(conversation: int, db: DbOption = None) -> None:
    """Print a conversation as Markdown."""
    from mmchat.store import StoreError

    with _store(db, readonly=True) as store:
        try:
            typer.echo(to_markdown(store, conversation))
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
    fmt: Annotated[str, typer.Option("--format", "-f", help="md or json")] = "md",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="New file to write (created 0600).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing -o file.")] = False,
    db: DbOption = None,
) -> None:
    """Export a conversation to Markdown or JSON."""
    from mmchat.store import StoreError

    if fmt not in ("md", "json"):
        fail(f"unknown format {fmt!r}: use md or json", 2)
    with _store(db, readonly=True) as store:
        try:
            text = to_markdown(store, conversation) if fmt == "md" else to_json(store, conversation)
        except StoreError as exc:
            fail(str(exc))
    if output is None:
        typer.echo(text)
        return
    from mmchat.safe_write import WriteRefused, write_private

    try:
        write_private(output, text + "\n", force=force)
    except WriteRefused as exc:
        fail(str(exc), 2)


def to_markdown(store: Any, conversation: int) -> str:
    conv = store.conversation(conversation)
    lines = [f"# {strip_control(conv.title or 'Conversation')} ({conv.id})", ""]
    model, persona = one_line(conv.model or "?"), one_line(conv.persona or "?")
    lines.append(f"*model: {model} · persona: {persona}*")
    for message in store.messages(conversation):
        status = "" if message.status == "complete" else f" ({message.status})"
        lines += ["", f"## {message.role}{status}", ""]
        lines += [f"![{strip_control(a.name)}](sha256:{a.sha256})" for a in message.attachments]
        lines.append(strip_control(message.content))
        if message.error:
            lines.append(f"\n> error: {one_line(message.error)}")
        for cite in message.meta.get("citations", []):
            lines.append(f"\n[{cite['n']}]: {strip_control(cite['source'])}")
    return "\n".join(lines)


def to_json(store: Any, conversation: int) -> str:
    conv = store.conversation(conversation)
    data = {
        "id": conv.id,
        "title": conv.title,
        "model": conv.model,
        "persona": conv.persona,
        "system": conv.system,
        "created_at": conv.created_at,
        "messages": [
            {
                "id": m.id,
                "role": m.role,
                "content": m.content,
                "status": m.status,
                "model": m.model,
                "persona": m.persona,
                "error": m.error,
                "prompt_tokens": m.prompt_tokens,
                "completion_tokens": m.completion_tokens,
                "meta": m.meta,
                "created_at": m.created_at,
                "attachments": [
                    {"sha256": a.sha256, "name": a.name, "mime": a.mime} for a in m.attachments
                ],
            }
            for m in store.messages(conversation)
        ],
    }
    return json_for_terminal(data, indent=2)
