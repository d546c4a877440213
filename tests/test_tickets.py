"""Hand-off tickets in the store: the migration, one open ticket per conversation, delivery
claims that two processes never share."""

from __future__ import annotations

import multiprocessing
import re
import sqlite3
import time
from pathlib import Path

import pytest

from mmchat.migrations import MIGRATIONS
from mmchat.store import NotFound, Store, StoreError
from mmchat.tickets import Tickets


def _conversation(path: Path, text: str = "I want a person") -> tuple[int, int]:
    with Store(path) as store:
        conv = store.create_conversation(persona="support")
        message = store.add_message(conv.id, "user", text)
    return conv.id, message.id


def _open(tickets: Tickets, conv_id: int, text: str = "I want a person") -> tuple[str, bool]:
    ticket, new = tickets.open(
        conv_id, persona="support", reason="human requested", customer_text=text
    )
    return ticket.id, new


def test_schema_2_database_gets_the_tickets_table_after_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    for name, apply in MIGRATIONS[:2]:
        apply(db)
        db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, 0.0))
    db.execute("INSERT INTO conversations (title, created_at, updated_at) VALUES ('x', 0, 0)")
    db.execute("PRAGMA user_version = 2")
    db.close()
    tickets = Tickets(path)
    ticket_id, new = _open(tickets, 1)
    assert new and tickets.get(ticket_id).conversation_id == 1
    backups = list((tmp_path / "backups").glob("old-schema2-*.db"))
    assert len(backups) == 1
    kept = sqlite3.connect(backups[0])
    assert kept.execute("SELECT count(*) FROM sqlite_master WHERE name = 'tickets'").fetchone() == (
        0,
    )


def test_a_ticket_keeps_what_the_operator_needs(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    conv_id, message_id = _conversation(path)
    tickets = Tickets(path)
    ticket, new = tickets.open(
        conv_id,
        persona="billing",
        reason="human requested",
        customer_text="Get me a manager",
        priority="high",
        details={"company": "Acme"},
    )
    assert new and re.fullmatch(r"SUP-\d{8}-[0-9a-f]{6}", ticket.id)
    assert ticket.id[4:12] == time.strftime("%Y%m%d", time.gmtime(ticket.created_at))
    assert (ticket.message_id, ticket.persona, ticket.priority) == (message_id, "billing", "high")
    assert (ticket.status, ticket.delivery, ticket.attempts) == ("open", "pending", 0)
    stored = tickets.get(ticket.id)
    assert stored == ticket and stored.details == {"company": "Acme"}
    exported = stored.to_dict()
    assert exported["created_at"].endswith("+00:00") and exported["delivered_to"] == []


def test_one_open_ticket_per_conversation_until_closed(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    conv_id, _ = _conversation(path)
    tickets = Tickets(path)
    first, new = _open(tickets, conv_id)
    again, new_again = _open(tickets, conv_id, "agent please")
    assert new and not new_again and again == first
    assert tickets.open_for(conv_id) is not None
    closed = tickets.close(first, by="ana", note="called back")
    assert (closed.status, closed.closed_by, closed.note) == ("closed", "ana", "called back")
    assert tickets.open_for(conv_id) is None
    second, new_second = _open(tickets, conv_id)
    assert new_second and second != first
    assert [t.id for t in tickets.recent("closed")] == [first]
    assert {t.id for t in tickets.recent()} == {first, second}


def test_the_database_refuses_a_second_open_ticket(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    conv_id, _ = _conversation(path)
    _open(Tickets(path), conv_id)
    with Store(path) as store, pytest.raises(StoreError), store.write() as db:
        db.execute(
            "INSERT INTO tickets (id, conversation_id, created_at, updated_at)"
            " VALUES ('SUP-x', ?, 0, 0)",
            (conv_id,),
        )


def test_unknown_ticket_and_conversation_are_one_line_errors(tmp_path: Path) -> None:
    tickets = Tickets(tmp_path / "m.db")
    with pytest.raises(NotFound, match="no ticket SUP-1"):
        tickets.get("SUP-1")
    with pytest.raises(StoreError, match="no conversation 42"):
        _open(tickets, 42)
    with pytest.raises(StoreError, match="unknown ticket status"):
        tickets.recent("pending")


def test_deleting_the_conversation_deletes_its_tickets(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    conv_id, _ = _conversation(path)
    tickets = Tickets(path)
    ticket_id, _ = _open(tickets, conv_id)
    with Store(path) as store:
        store.delete_conversation(conv_id)
    with pytest.raises(NotFound):
        tickets.get(ticket_id)


def test_claims_are_exclusive_and_expire(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    tickets = Tickets(path)
    ids = [_open(tickets, _conversation(path)[0])[0] for _ in range(3)]
    claimed = tickets.claim_undelivered()
    assert sorted(t.id for t in claimed) == sorted(ids)
    assert tickets.claim_undelivered() == []  # another caller gets none of them
    assert {t.id for t in tickets.claim_undelivered(lease=0.0)} == set(ids)  # a dead claimer's
    done = tickets.record_delivery(ids[0], delivered_to=["spool"], error=None)
    failed = tickets.record_delivery(ids[1], delivered_to=["spool"], error="webhook: HTTP 503")
    assert (done.delivery, done.attempts, done.delivered_to) == ("delivered", 1, ("spool",))
    assert (failed.delivery, failed.last_error) == ("failed", "webhook: HTTP 503")
    tickets.release(ids[2])
    assert tickets.get(ids[2]).delivery == "pending"
    assert {t.id for t in tickets.claim_undelivered(retry_after=60)} == {ids[2]}  # failed waits
    assert {t.id for t in tickets.claim_undelivered(retry_after=0)} == {ids[1]}


def _claimer(path: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue.put([t.id for t in Tickets(Path(path)).claim_undelivered()])


def test_processes_claiming_at_once_never_share_a_ticket(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    tickets = Tickets(path)
    ids = {_open(tickets, _conversation(path)[0])[0] for _ in range(20)}
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_claimer, args=(str(path), queue)) for _ in range(4)]
    for worker in workers:
        worker.start()
    claimed = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    flat = [ticket_id for batch in claimed for ticket_id in batch]
    assert sorted(flat) == sorted(ids)  # every ticket claimed exactly once
