"""The knowledge base's SQLite schema: documents, their chunks with vectors, and FTS5 over them."""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    title TEXT NOT NULL,
    added_at REAL NOT NULL
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    heading TEXT NOT NULL,
    location TEXT NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL  -- float32, unit length, meta.dim values
);
CREATE INDEX chunks_document ON chunks(document_id);
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    text, heading, content='chunks', content_rowid='id', tokenize='porter unicode61'
);
CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text, heading) VALUES (new.id, new.text, new.heading);
END;
CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text, heading)
    VALUES ('delete', old.id, old.text, old.heading);
END;
"""


def create(conn: sqlite3.Connection, model: str) -> None:
    """Schema and meta rows in one transaction: a crash leaves no half-made knowledge base."""
    # executescript commits any open transaction first, so the transaction is in the script.
    meta = ", ".join(
        f"('{key}', {_quote(value)})"
        for key, value in (
            ("schema_version", str(SCHEMA_VERSION)),
            ("model", model),
            ("generation", "0"),
        )
    )
    try:
        conn.executescript(
            f"BEGIN IMMEDIATE;{SCHEMA}INSERT INTO meta(key, value) VALUES {meta};COMMIT;"
        )
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
