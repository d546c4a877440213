"""Schema migrations: append-only, named, applied in one IMMEDIATE transaction.

Never edit a migration that has shipped; add a new one. The schema version is the number of
migrations applied (PRAGMA user_version) and each one is also recorded by name in _migrations.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

log = logging.getLogger(__name__)

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


@migration
def m004_search_index_and_chat_settings(db: sqlite3.Connection) -> None:
    # Per-chat sampling settings; NULL: the persona's, else the user's settings.
    db.execute("ALTER TABLE conversations ADD COLUMN temperature REAL")
    db.execute("ALTER TABLE conversations ADD COLUMN top_p REAL")
    db.execute("ALTER TABLE conversations ADD COLUMN max_tokens INTEGER")
    # The sidebar searched with LIKE over every message at each key press.
    if reason := fts5_missing(db):
        log.warning("chat search uses a full scan: this SQLite has no FTS5 (%s)", reason)
        return
    create_search_index(db)


@migration
def m005_branches(db: sqlite3.Connection) -> None:
    # Messages form a tree: editing or answering again starts a sibling of the message it
    # replaces, and the old continuation stays as another branch. A conversation shows and
    # sends one path, root to active_leaf; depth (1 for the first message) makes that path's
    # length one lookup for `history list`. Existing chats become single chains, newest last.
    db.execute(
        "ALTER TABLE messages ADD COLUMN parent_id INTEGER "
        "REFERENCES messages(id) ON DELETE CASCADE"
    )
    db.execute("ALTER TABLE messages ADD COLUMN depth INTEGER NOT NULL DEFAULT 1")
    db.execute(
        "ALTER TABLE conversations ADD COLUMN active_leaf INTEGER "
        "REFERENCES messages(id) ON DELETE SET NULL"
    )
    db.execute("CREATE TEMP TABLE _chain (id INTEGER PRIMARY KEY, parent INTEGER, depth INTEGER)")
    db.execute(
        "INSERT INTO _chain SELECT id, lag(id) OVER w, row_number() OVER w FROM messages "
        "WINDOW w AS (PARTITION BY conversation_id ORDER BY id)"
    )
    db.execute(
        "UPDATE messages SET parent_id = (SELECT parent FROM _chain c WHERE c.id = messages.id),"
        " depth = (SELECT depth FROM _chain c WHERE c.id = messages.id)"
    )
    db.execute("DROP TABLE _chain")
    db.execute(
        "UPDATE conversations SET active_leaf = "
        "(SELECT max(id) FROM messages m WHERE m.conversation_id = conversations.id)"
    )
    db.execute("CREATE INDEX messages_by_parent ON messages (conversation_id, parent_id, id)")


def fts5_missing(db: sqlite3.Connection) -> str | None:
    """Why this SQLite cannot make an FTS5 table (None: it can). Some distributions' builds
    leave FTS5 out; search then falls back to a scan."""
    try:
        db.execute("CREATE VIRTUAL TABLE temp._fts5_probe USING fts5(x)")
        db.execute("DROP TABLE temp._fts5_probe")
    except sqlite3.Error as exc:
        return str(exc)
    return None


SEARCH_TRIGGERS = [
    f"{table}_fts_{event}"
    for table in ("conversations", "messages")
    for event in ("insert", "delete", "update")
]


def create_search_index(db: sqlite3.Connection) -> None:
    """Full-text indexes over titles and message text, kept current by triggers, filled from
    what is there. Idempotent: the store runs it again when the index or a trigger is missing
    (FTS5 arrived after the migration ran). Shipped in m004: append a migration, don't edit."""
    # External content: the text stays in its own table once; the index holds only tokens.
    # unicode61 with diacritics removed: "cafe" finds "café".
    for table, column in (("conversations", "title"), ("messages", "content")):
        fts = f"{table}_fts"
        db.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5({column}, content='{table}', "
            f"content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3')"
        )
        insert = f"INSERT INTO {fts} (rowid, {column}) VALUES (new.id, new.{column});"
        delete = (
            f"INSERT INTO {fts} ({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column});"
        )
        for event, body in (("insert", insert), ("delete", delete), ("update", delete + insert)):
            when = f"UPDATE OF {column}" if event == "update" else event.upper()
            db.execute(
                f"CREATE TRIGGER IF NOT EXISTS {fts}_{event} AFTER {when} ON {table} "
                f"BEGIN {body} END"
            )
        db.execute(f"INSERT INTO {fts} ({fts}) VALUES ('rebuild')")


def drop_search_triggers(db: sqlite3.Connection) -> None:
    """Without FTS5 (an mmchat on a Python built without it) the triggers would fail every
    write: they go, and a later start that has FTS5 rebuilds the index."""
    for name in SEARCH_TRIGGERS:
        db.execute(f"DROP TRIGGER IF EXISTS {name}")


SCHEMA_VERSION = len(MIGRATIONS)
