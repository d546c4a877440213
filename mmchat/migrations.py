"""Schema migrations: append-only, named, applied in one IMMEDIATE transaction.

Never edit a migration that has shipped; add a new one. The schema version is the number of
migrations applied (PRAGMA user_version) and each one is also recorded by name in _migrations.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    # AUTOINCREMENT: a deleted conversation's id never comes back as another one.
    db.execute(
        """
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL DEFAULT '',
            model TEXT,
            persona TEXT,
            system TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content TEXT NOT NULL DEFAULT '',
            model TEXT,
            persona TEXT,
            status TEXT NOT NULL DEFAULT 'complete'
                CHECK (status IN ('complete', 'streaming', 'stopped', 'failed')),
            error TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            meta TEXT NOT NULL DEFAULT '{}',
            pid INTEGER,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX messages_by_conversation ON messages (conversation_id, id)")
    db.execute(
        """
        CREATE TABLE blobs (
            sha256 TEXT PRIMARY KEY,
            data BLOB NOT NULL,
            mime TEXT NOT NULL,
            width INTEGER,
            height INTEGER,
            created_at REAL NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE attachments (
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            sha256 TEXT NOT NULL REFERENCES blobs(sha256),
            name TEXT NOT NULL,
            PRIMARY KEY (message_id, position)
        )"""
    )
    db.execute("CREATE INDEX attachments_by_blob ON attachments (sha256)")


@migration
def m002_list_and_recovery_indexes(db: sqlite3.Connection) -> None:
    # `history list` and the TUI's sidebar sort by updated_at; every start looks for answers
    # left 'streaming' by a dead process. Both scanned whole tables without these.
    db.execute("CREATE INDEX conversations_by_updated ON conversations (updated_at DESC, id DESC)")
    db.execute("CREATE INDEX messages_streaming ON messages (id) WHERE status = 'streaming'")


@migration
def m003_tickets(db: sqlite3.Connection) -> None:
    # Hand-offs to a person (mmchat.tickets). A conversation's tickets go with it when it is
    # deleted: they quote the customer. The delivery columns let any mmchat process, or a
    # `mmchat tickets deliver` run, retry a ticket no channel has taken yet; claimed_at is a
    # lease, so two processes never send the same ticket at once.
    db.execute(
        """
        CREATE TABLE tickets (
            id TEXT PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
            persona TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
            reason TEXT NOT NULL DEFAULT '',
            priority TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('normal', 'high')),
            customer_text TEXT NOT NULL DEFAULT '',
            details TEXT NOT NULL DEFAULT '{}',
            delivery TEXT NOT NULL DEFAULT 'pending'
                CHECK (delivery IN ('pending', 'sending', 'delivered', 'failed')),
            delivered_to TEXT NOT NULL DEFAULT '[]',
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            claimed_at REAL,
            closed_by TEXT,
            note TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )"""
    )
    # At most one open ticket per conversation, whatever number of processes hand off at once.
    db.execute(
        "CREATE UNIQUE INDEX tickets_one_open ON tickets (conversation_id) WHERE status = 'open'"
    )
    db.execute("CREATE INDEX tickets_by_created ON tickets (created_at DESC)")
    db.execute(
        "CREATE INDEX tickets_undelivered ON tickets (delivery) WHERE delivery != 'delivered'"
    )


SCHEMA_VERSION = len(MIGRATIONS)
