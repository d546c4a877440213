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


SCHEMA_VERSION = len(MIGRATIONS)
