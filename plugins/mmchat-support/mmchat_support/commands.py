"""`mmchat tickets`: what an operator does with hand-off tickets."""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from mmchat.hooks import one_line, open_tickets
from mmchat_support.delivery import deliver_waiting, describe, load_config

if TYPE_CHECKING:
    from mmchat.hooks import Ticket, Tickets

app = typer.Typer(
    help="Hand-off tickets: list, show, close, export, and deliver the waiting ones.",
    no_args_is_help=True,
)
DbOption = Annotated[
    str | None, typer.Option("--db", help="Conversation database file (default: in the data dir).")
]


class Status(StrEnum):
    open = "open"
    closed = "closed"
    all = "all"


class Format(StrEnum):
    json = "json"
    jsonl = "jsonl"


def _fail(message: str) -> NoReturn:
    print(f"mmchat: error: {one_line(message)}", file=sys.stderr)
    raise typer.Exit(1)


@contextlib.contextmanager
def _tickets(db: str | None) -> Iterator[Tickets]:
    from mmchat.hooks import TicketError

    try:
        with open_tickets(Path(db) if db else None) as tickets:
            yield tickets
    except TicketError as exc:
        _fail(str(exc))


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def _selected(tickets: Tickets, status: Status, limit: int) -> list[Ticket]:
    return tickets.recent(None if status is Status.all else status.value, limit)


@app.command("list")
def list_(
    status: Annotated[Status, typer.Option(help="open, closed or all.")] = Status.all,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    db: DbOption = None,
) -> None:
    """Tickets, newest first, with where their delivery stands."""
    with _tickets(db) as tickets:
        found = _selected(tickets, status, limit)
        if not found:
            typer.echo("no tickets")
        for ticket in found:
            typer.echo(
                f"{ticket.id}  {ticket.status:<6}  {_when(ticket.created_at)}  "
                f"conv {ticket.conversation_id:<4}  {ticket.priority:<6}  "
                f"{one_line(describe(ticket), 60):<10}  {one_line(ticket.customer_text, 50)}"
            )


@app.command()
def show(ticket_id: Annotated[str, typer.Argument(help="SUP-...")], db: DbOption = None) -> None:
    """Everything about one ticket."""
    with _tickets(db) as tickets:
        ticket = tickets.get(ticket_id)
        details = ticket.details
        closed = f" (closed by {ticket.closed_by})" if ticket.closed_by else ""
        via = f" via {', '.join(ticket.delivered_to)}" if ticket.delivered_to else ""
        conv = ticket.conversation_id
        fields = [
            ("ticket", ticket.id),
            ("status", ticket.status + closed),
            ("reason", f"{ticket.reason}, {ticket.priority} priority"),
            ("conversation", f"{conv} (`mmchat history show {conv}`), persona {ticket.persona}"),
            ("created", _when(ticket.created_at)),
            ("delivery", describe(ticket) + via),
            ("company", f"{details.get('company', '')} / {details.get('product', '')}"),
            ("customer", ticket.customer_text),
        ]
        if ticket.note:
            fields.append(("note", ticket.note))
        for label, value in fields:  # stored text is the customer's: one safe line each
            typer.echo(f"{label:<14}{one_line(value, 2000)}")


@app.command()
def close(
    ticket_id: Annotated[str, typer.Argument(help="SUP-...")],
    note: Annotated[str, typer.Option(help="What was done, kept with the ticket.")] = "",
    by: Annotated[str, typer.Option(help="Who closed it (default: your user name).")] = "",
    db: DbOption = None,
) -> None:
    """Close a ticket: the customer's next request for a person opens a new one."""
    with _tickets(db) as tickets:
        ticket = tickets.close(ticket_id, by=by or getpass.getuser(), note=one_line(note, 2000))
        typer.echo(f"{ticket.id} closed by {one_line(ticket.closed_by or '')}")


@app.command()
def export(
    format: Annotated[Format, typer.Option("--format", help="json or jsonl.")] = Format.json,
    status: Annotated[Status, typer.Option(help="open, closed or all.")] = Status.all,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100_000,
    db: DbOption = None,
) -> None:
    """Tickets as JSON on stdout (control characters escaped, safe on a terminal)."""
    with _tickets(db) as tickets:
        data = [t.to_dict() for t in _selected(tickets, status, limit)]
    if format is Format.jsonl:
        for item in data:
            typer.echo(json.dumps(item))
    else:
        typer.echo(json.dumps(data, indent=2))


@app.command("deliver")
def deliver_(db: DbOption = None) -> None:
    """Send every ticket waiting for delivery now (failed ones too); exit 1 if any fails."""
    try:
        config = load_config()
    except ValueError as exc:
        _fail(str(exc))
    if not config.channels:
        _fail("no delivery channel is set: add [support.delivery] to settings.toml")
    with _tickets(db) as tickets:
        results = deliver_waiting(tickets, config)
    for ticket in results:
        typer.echo(f"{ticket.id}  {one_line(describe(ticket), 200)}")
    if not results:
        typer.echo("nothing waiting")
    if any(t.delivery != "delivered" for t in results):
        raise typer.Exit(1)
