"""Tickets: a conversation handed to a person, kept in the store until an operator closes it.

The table comes from migration m003_tickets. `Tickets` opens its own short connection for each
call instead of sharing the turn's: plugin hooks and background deliveries run in other threads,
and a sqlite3 connection belongs to the thread that made it. Every write is one BEGIN IMMEDIATE
transaction, like the rest of the store.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mmchat.store import NotFound, Store, StoreError

TicketError = StoreError  # what plugins catch (mmchat.hooks.TicketError)

STATUSES = ("open", "closed")
DELIVERY = ("pending", "sending", "delivered", "failed")
LEASE_SECONDS = 300.0  # a 'sending' claim older than this was left by a process that died


@dataclass(frozen=True)
class Ticket:
    id: str  # SUP-YYYYMMDD-xxxxxx
    conversation_id: int
    message_id: int | None  # the customer's message that asked for a person
    persona: str
    status: str  # open, closed
    reason: str
    priority: str  # normal, high
    customer_text: str
    details: dict[str, Any] = field(default_factory=dict)  # company, product, earlier messages
    delivery: str = "pending"  # pending, sending, delivered, failed
    delivered_to: tuple[str, ...] = ()  # channels that took it: retries skip them
    attempts: int = 0
    last_error: str | None = None
    closed_by: str | None = None
    note: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, with ISO times: what is delivered and exported."""
        data = asdict(self)
        data["delivered_to"] = list(self.delivered_to)
        for key in ("created_at", "updated_at"):
            data[key] = _iso(data[key])
        return data


class Tickets:
    """The tickets of one mmchat database."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _store(self) -> Iterator[Store]:
        store = Store(self.path)
        try:
            yield store
        finally:
            store.close()

    # -- reading -----------------------------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket:
        with self._store() as store:
            row = store.db.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        if row is None:
            raise NotFound(f"no ticket {ticket_id}; `mmchat tickets list` shows them")
        return _ticket(row)

    def open_for(self, conversation_id: int) -> Ticket | None:
        """The conversation's open ticket, if it has one (there is never more than one)."""
        with self._store() as store:
            row = store.db.execute(
                "SELECT * FROM tickets WHERE conversation_id = ? AND status = 'open'",
                (conversation_id,),
            ).fetchone()
        return None if row is None else _ticket(row)

    def recent(self, status: str | None = None, limit: int = 200) -> list[Ticket]:
        """Newest first; `status` open or closed, None for both."""
        if status is not None and status not in STATUSES:
            raise StoreError(f"unknown ticket status '{status}': use open or closed")
        query, args = "SELECT * FROM tickets", []
        if status is not None:
            query += " WHERE status = ?"
            args.append(status)
        query += " ORDER BY created_at DESC, id DESC LIMIT ?"
        with self._store() as store:
            rows = store.db.execute(query, [*args, limit]).fetchall()
        return [_ticket(row) for row in rows]

    # -- writing -----------------------------------------------------------------------------

    def open(
        self,
        conversation_id: int,
        *,
        persona: str,
        reason: str,
        customer_text: str,
        priority: str = "normal",
        details: dict[str, Any] | None = None,
    ) -> tuple[Ticket, bool]:
        """Open a ticket, or return the conversation's open one: (ticket, newly opened)."""
        now = time.time()
        with self._store() as store, store.write() as db:
            row = db.execute(
                "SELECT * FROM tickets WHERE conversation_id = ? AND status = 'open'",
                (conversation_id,),
            ).fetchone()
            if row is not None:
                return _ticket(row), False
            message = db.execute(
                "SELECT max(id) FROM messages WHERE conversation_id = ? AND role = 'user'",
                (conversation_id,),
            ).fetchone()[0]
            for _ in range(5):  # a clash of the random part is rare; try another
                ticket_id = new_ticket_id(now)
                try:
                    db.execute(
                        "INSERT INTO tickets (id, conversation_id, message_id, persona, reason,"
                        " priority, customer_text, details, created_at, updated_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            ticket_id,
                            conversation_id,
                            message,
                            persona,
                            reason,
                            priority,
                            customer_text,
                            json.dumps(details or {}),
                            now,
                            now,
                        ),
                    )
                except sqlite3.IntegrityError as exc:
                    if "tickets.id" in str(exc):
                        continue
                    raise StoreError(f"no conversation {conversation_id}") from None
                row = db.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
                return _ticket(row), True
        raise StoreError("could not find a free ticket id; try again")

    def close(self, ticket_id: str, *, by: str, note: str = "") -> Ticket:
        """Close a ticket (an operator's act); closing a closed one changes nothing."""
        ticket = self.get(ticket_id)
        if ticket.status == "closed":
            return ticket
        with self._store() as store, store.write() as db:
            db.execute(
                "UPDATE tickets SET status = 'closed', closed_by = ?, note = ?, updated_at = ?"
                " WHERE id = ?",
                (by, note or None, time.time(), ticket_id),
            )
        return self.get(ticket_id)

    # -- delivery ----------------------------------------------------------------------------

    def claim_undelivered(
        self, *, retry_after: float = 0.0, lease: float = LEASE_SECONDS
    ) -> list[Ticket]:
        """Mark every ticket waiting for delivery as 'sending' by this caller and return them.

        Pending ones, failed ones last tried at least `retry_after` seconds ago, and claims
        older than `lease` (their process died). Claimed in one transaction: two processes
        never get the same ticket.
        """
        now = time.time()
        waiting = (
            "SELECT * FROM tickets WHERE delivery = 'pending'"
            " OR (delivery = 'failed' AND updated_at <= ?)"
            " OR (delivery = 'sending' AND claimed_at <= ?) ORDER BY created_at"
        )
        args = (now - retry_after, now - lease)
        with self._store() as store:
            # Most turns find nothing waiting: look before taking the write lock.
            if not store.db.execute(waiting, args).fetchall():
                return []
            with store.write() as db:
                rows = db.execute(waiting, args).fetchall()  # again, under the lock
                db.executemany(
                    "UPDATE tickets SET delivery = 'sending', claimed_at = ? WHERE id = ?",
                    [(now, row["id"]) for row in rows],
                )
        return [_ticket(row) for row in rows]

    def record_delivery(
        self, ticket_id: str, *, delivered_to: Sequence[str], error: str | None
    ) -> Ticket:
        """One delivery attempt's outcome: delivered when `error` is None, else failed."""
        with self._store() as store, store.write() as db:
            db.execute(
                "UPDATE tickets SET delivery = ?, delivered_to = ?, attempts = attempts + 1,"
                " last_error = ?, claimed_at = NULL, updated_at = ? WHERE id = ?",
                (
                    "delivered" if error is None else "failed",
                    json.dumps(list(delivered_to)),
                    error,
                    time.time(),
                    ticket_id,
                ),
            )
        return self.get(ticket_id)

    def release(self, ticket_id: str) -> None:
        """Give a claim back untried (no channel configured yet): pending again."""
        with self._store() as store, store.write() as db:
            db.execute(
                "UPDATE tickets SET delivery = 'pending', claimed_at = NULL"
                " WHERE id = ? AND delivery = 'sending'",
                (ticket_id,),
            )


def new_ticket_id(now: float | None = None) -> str:
    day = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    return f"SUP-{day:%Y%m%d}-{secrets.token_hex(3)}"


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _ticket(row: sqlite3.Row) -> Ticket:
    return Ticket(
        id=row["id"],
        conversation_id=row["conversation_id"],
        message_id=row["message_id"],
        persona=row["persona"],
        status=row["status"],
        reason=row["reason"],
        priority=row["priority"],
        customer_text=row["customer_text"],
        details=json.loads(row["details"] or "{}"),
        delivery=row["delivery"],
        delivered_to=tuple(json.loads(row["delivered_to"] or "[]")),
        attempts=row["attempts"],
        last_error=row["last_error"],
        closed_by=row["closed_by"],
        note=row["note"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
