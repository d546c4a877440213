"""The conversation store: one SQLite file, safe for several mmchat processes at once.

Rules that came from measurements (tests/reliability): every write is a short `BEGIN IMMEDIATE`
transaction (a deferred one that read first fails with 'database is locked' whatever the busy
timeout); migrations and their bookkeeping run in one such transaction; the file is created 0600
before SQLite opens it so the -wal and -shm files inherit that mode; a damaged file is reported
and kept, never replaced; a file from a newer mmchat is opened read-only.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from mmchat.images import CheckedImage
from mmchat.migrations import (
    MIGRATIONS,
    SCHEMA_VERSION,
    SEARCH_TRIGGERS,
    create_search_index,
    drop_search_triggers,
    fts5_missing,
)
from mmchat.text import strip_control

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
# Message meta key: the text the model is shown for a user message, when a plugin rewrote it.
PROMPT_TEXT = "prompt_text"
# What the messages table's CHECK constraint lets a role be.
Role = Literal["system", "user", "assistant"]


class StoreError(Exception):
    """The store cannot do what was asked; the message is one line for a person."""


class NotFound(StoreError):
    pass


@dataclass(frozen=True)
class Attachment:
    sha256: str
    name: str
    mime: str
    width: int | None
    height: int | None


@dataclass
class Message:
    id: int
    conversation_id: int
    role: Role
    content: str
    status: str
    model: str | None = None
    persona: str | None = None
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    attachments: list[Attachment] = field(default_factory=list)
    # Its place in the tree (migrations.m005): the message it follows (None: the first), and
    # which of that message's continuations it is, "branch 2 of 3" (1 of 1: no other).
    parent_id: int | None = None
    branch: int = 1
    branches: int = 1


@dataclass
class Conversation:
    id: int
    title: str
    model: str | None
    persona: str | None
    system: str | None
    created_at: float
    updated_at: float
    message_count: int = 0
    # The chat's own sampling settings; None: the persona's, else the user's settings.
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    # Set by a search that this chat matches only on a branch it does not show: the newest
    # such message (show_message(branch_hit) shows that branch). None: the title or the
    # shown branch matches, or no search.
    branch_hit: int | None = None


def _describe(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "disk is full" in text or "database or disk is full" in text:
        return "the disk is full; free some space and try again (nothing was saved by this step)"
    if "disk I/O error" in text:
        # What a write past a file-size limit (EFBIG) or a failing disk looks like.
        return (
            "the database could not be written (disk I/O error: is the disk full?); "
            "nothing was saved by this step"
        )
    if "readonly" in text or "read-only" in text:
        return "the database is read-only here"
    if "locked" in text or "busy" in text:
        return "the database stayed locked by another mmchat for 10 s; try again"
    return text


_DAMAGE_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}


_Result = TypeVar("_Result")


def _guard_damage(conn: sqlite3.Connection, call: Callable[..., _Result], *args: Any) -> _Result:
    try:
        return call(*args)
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorcode", None) in _DAMAGE_CODES:
            raise DamagedDatabase(_damaged(getattr(conn, "path", "the database"), exc)) from None
        raise


class DamagedDatabase(StoreError):
    """A query reached a damaged page of the database."""


class _Cursor(sqlite3.Cursor):
    # Damage past the first pages shows up only when a query reaches it, and rows are read
    # lazily: each step can fail, so each is guarded (a full check at every start costs O(size)).
    def execute(self, *args: Any) -> _Cursor:
        return _guard_damage(self.connection, super().execute, *args)

    def fetchone(self) -> Any:
        return _guard_damage(self.connection, super().fetchone)

    def fetchall(self) -> list[Any]:
        return _guard_damage(self.connection, super().fetchall)

    def __next__(self) -> Any:
        return _guard_damage(self.connection, super().__next__)


class _Connection(sqlite3.Connection):
    path: Path  # named in the damage message

    def execute(self, *args: Any) -> _Cursor:
        return self.cursor(_Cursor).execute(*args)


class Store:
    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self.db = self._connect()
        self.full_text = False  # search through the FTS5 index (else a LIKE scan)
        self.tree = False  # messages have parents (m005); else one chain in id order
        try:
            self._migrate()
            self.tree = self._has_branches()
            if not self.readonly:
                self._recover_interrupted()
            self.full_text = self._check_search_index()
        except DamagedDatabase:
            self.db.close()
            raise
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise StoreError(_damaged(path, exc)) from None

    # -- opening -----------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        path = self.path
        if not self.readonly:
            try:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                if not path.exists():
                    # Created 0600 before SQLite touches it: -wal and -shm copy this mode.
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            except OSError as exc:
                raise StoreError(
                    f"cannot create {path}: {exc.strerror or exc}; point MMCHAT_DATA_DIR or "
                    "--db at a writable place"
                ) from None
        elif not path.exists():
            raise StoreError(f"no database at {path}")
        # Quoted: `#`, `?` and `%` in a folder name would otherwise end the path or decode.
        uri = f"file:{quote(str(path))}" + ("?mode=ro" if self.readonly else "")
        try:
            db = sqlite3.connect(
                uri,
                uri=True,
                isolation_level=None,
                timeout=BUSY_TIMEOUT_MS / 1000,
                factory=_Connection,
            )
            db.path = path
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            # Switching the journal mode writes the file: not for a newer mmchat's database.
            if not self.readonly and version <= SCHEMA_VERSION:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            raise StoreError(_damaged(path, exc)) from None
        return db

    def _version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self._version()
        if version > SCHEMA_VERSION:
            self.db.close()
            self.readonly = True
            self.db = self._connect()
            self.newer_schema = version
            return
        if version == SCHEMA_VERSION or self.readonly:
            return
        if version > 0:
            self._backup(version)
        with self.write() as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])  # re-read under lock
            if version == 0:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS _migrations "
                    "(name TEXT PRIMARY KEY, applied_at REAL)"
                )
            for name, apply in MIGRATIONS[version:]:
                apply(db)
                db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, time.time()))
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _backup(self, version: int) -> None:
        backups = self.path.parent / "backups"
        backups.mkdir(exist_ok=True, mode=0o700)
        target = backups / f"{self.path.stem}-schema{version}-{int(time.time())}.db"
        try:
            # Claimed atomically, 0600 from the start: several first starts at once make one
            # backup (VACUUM INTO accepts an existing empty file), and none fails on the name.
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            return
        except OSError as exc:
            raise StoreError(f"cannot back up {self.path} before upgrading it: {exc}") from None
        try:
            self.db.execute("VACUUM INTO ?", (str(target),))
        except sqlite3.Error as exc:
            target.unlink(missing_ok=True)
            raise StoreError(
                f"cannot back up {self.path} before upgrading it ({_describe(exc)}); "
                "it was not changed"
            ) from None

    def _has_branches(self) -> bool:
        # An older schema opened read-only has no tree columns: its messages are one chain.
        columns = {row["name"] for row in self.db.execute("PRAGMA table_info(messages)")}
        return "parent_id" in columns

    @property
    def _count(self) -> str:
        """SQL for a conversation's message count: the messages on its active path."""
        if not self.tree:
            return "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)"
        return f"coalesce((SELECT depth FROM messages m WHERE m.id = {_LEAF}), 0)"

    def _recover_interrupted(self) -> None:
        """Answers left 'streaming' by a process that died become 'stopped'."""
        rows = self.db.execute("SELECT id, pid FROM messages WHERE status = 'streaming'").fetchall()
        dead = [row["id"] for row in rows if not _pid_alive(row["pid"])]
        if dead:
            with self.write() as db:
                db.executemany(
                    "UPDATE messages SET status = 'stopped', error = 'interrupted' "
                    "WHERE id = ? AND status = 'streaming'",
                    [(i,) for i in dead],
                )

    def _check_search_index(self) -> bool:
        """Whether search can use the FTS5 index; repairs it when this SQLite's FTS5 support
        changed since the last start (the reason is logged when it falls back to a scan)."""
        if self._version() < SCHEMA_VERSION:
            return False  # an older schema opened read-only: no index yet
        names = {
            row[0]
            for row in self.db.execute(
                "SELECT name FROM sqlite_master WHERE name LIKE '%_fts%'"
            ).fetchall()
        }
        complete = {"conversations_fts", "messages_fts", *SEARCH_TRIGGERS} <= names
        if reason := fts5_missing(self.db):
            if not self.readonly and names & set(SEARCH_TRIGGERS):
                with self.write() as db:
                    drop_search_triggers(db)
            _scan_warning(f"this SQLite has no FTS5 ({reason})")
            return False
        if complete or self._version() > SCHEMA_VERSION:
            return complete
        if self.readonly:
            _scan_warning("the search index is incomplete")
            return False
        with self.write() as db:
            create_search_index(db)
        return True

    @property
    def newer_schema_message(self) -> str | None:
        version = getattr(self, "newer_schema", None)
        if version is None:
            return None
        return (
            f"{self.path} was written by a newer mmchat (schema {version}, this one knows "
            f"{SCHEMA_VERSION}); it is open read-only: upgrade mmchat to write to it"
        )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise StoreError(self.newer_schema_message or f"{self.path} is open read-only")
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(_describe(exc)) from None
        try:
            yield self.db
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreError(_describe(exc)) from None
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        # A COMMIT that failed on a full disk has already rolled back; a second ROLLBACK
        # would raise and hide the one-line reason.
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    # -- conversations -----------------------------------------------------------------------

    def create_conversation(
        self,
        *,
        title: str = "",
        model: str | None = None,
        persona: str | None = None,
        system: str | None = None,
    ) -> Conversation:
        now = time.time()
        title, model, persona = _label(title) or "", _label(model), _label(persona)
        with self.write() as db:
            cur = db.execute(
                "INSERT INTO conversations (title, model, persona, system, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (title, model, persona, system, now, now),
            )
            conv_id = int(cur.lastrowid or 0)
        return self.conversation(conv_id)

    def conversation(self, conv_id: int) -> Conversation:
        row = self.db.execute(
            f"SELECT c.*, {self._count} AS n FROM conversations c WHERE c.id = ?",
            (conv_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"no conversation {conv_id}; `mmchat history list` shows them")
        return _conversation(row)

    def conversations(
        self, search: str = "", limit: int | None = 200, offset: int = 0
    ) -> list[Conversation]:
        """Newest first (`limit` None: all of them); `search` matches titles and message text:
        every word of it as a word or the start of one, through the full-text index where this
        SQLite has FTS5, else as a substring."""
        query = f"SELECT c.*, {self._count} AS n FROM conversations c"
        args: list[Any] = []
        match = fts_query(search) if self.full_text else None
        if match:
            query += (
                " WHERE c.id IN (SELECT rowid FROM conversations_fts WHERE conversations_fts "
                "MATCH ? UNION SELECT m.conversation_id FROM messages_fts f JOIN messages m "
                "ON m.id = f.rowid WHERE messages_fts MATCH ?)"
            )
            args += [match, match]
        elif search.strip():
            like = f"%{_escape_like(search.strip())}%"
            query += (
                " WHERE c.title LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m "
                "WHERE m.conversation_id = c.id AND m.content LIKE ? ESCAPE '\\')"
            )
            args += [like, like]
        query += " ORDER BY c.updated_at DESC, c.id DESC LIMIT ? OFFSET ?"
        args += [-1 if limit is None else limit, offset]
        found = [_conversation(r) for r in self.db.execute(query, args).fetchall()]
        if self.tree and (match or search.strip()):
            self._mark_branch_hits(found, search, match)
        return found

    def _mark_branch_hits(self, found: list[Conversation], search: str, match: str | None) -> None:
        """Set branch_hit on the conversations that match `search` only on a branch they
        do not show: a person searches for what they once read, on whichever branch."""
        ids = [c.id for c in found]
        marks = ",".join("?" * len(ids))
        if match:
            titled = "SELECT rowid FROM conversations_fts WHERE conversations_fts MATCH ?"
            hits_sql = (
                "SELECT m.id, m.conversation_id FROM messages_fts f JOIN messages m "
                f"ON m.id = f.rowid WHERE messages_fts MATCH ? AND m.conversation_id IN ({marks})"
            )
            pattern: list[Any] = [match]
        else:
            like = f"%{_escape_like(search.strip())}%"
            titled = "SELECT id FROM conversations WHERE title LIKE ? ESCAPE '\\'"
            hits_sql = (
                "SELECT m.id, m.conversation_id FROM messages m WHERE m.content LIKE ? "
                f"ESCAPE '\\' AND m.conversation_id IN ({marks})"
            )
            pattern = [like]
        by_title = {row[0] for row in self.db.execute(titled, pattern)}
        hits: dict[int, set[int]] = {}
        for row in self.db.execute(hits_sql, [*pattern, *ids]):
            hits.setdefault(row[1], set()).add(row[0])
        unsure = [i for i in ids if i not in by_title and i in hits]
        if not unsure:
            return
        shown: set[int] = set()
        marks = ",".join("?" * len(unsure))
        for row in self.db.execute(
            "WITH RECURSIVE path(id) AS ("
            f"SELECT {_LEAF} FROM conversations c WHERE c.id IN ({marks}) "
            "UNION ALL SELECT m.parent_id FROM messages m JOIN path p ON m.id = p.id "
            "WHERE m.parent_id IS NOT NULL) SELECT id FROM path",
            unsure,
        ):
            shown.add(row[0])
        for conv in found:
            if conv.id in unsure and not hits[conv.id] & shown:
                conv.branch_hit = max(hits[conv.id])

    def update_conversation(self, conv_id: int, **values: str | float | int | None) -> Conversation:
        unknown = set(values) - {*LABELS, *SETTINGS}
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        self.conversation(conv_id)
        values = {k: _setting(k, v) for k, v in values.items()}
        if values:
            sets = ", ".join(f"{k} = ?" for k in values)
            with self.write() as db:
                db.execute(
                    f"UPDATE conversations SET {sets}, updated_at = ? WHERE id = ?",
                    [*values.values(), time.time(), conv_id],
                )
        return self.conversation(conv_id)

    def delete_conversation(self, conv_id: int) -> None:
        self.conversation(conv_id)
        with self.write() as db:
            db.execute("DELETE FROM conversations WHERE id = ?", (conv_id,))
            _drop_unused_blobs(db)

    # -- messages ----------------------------------------------------------------------------

    def add_message(
        self,
        conv_id: int,
        role: Role,
        content: str,
        *,
        model: str | None = None,
        persona: str | None = None,
        images: Sequence[CheckedImage] = (),
        status: str = "complete",
        meta: dict[str, Any] | None = None,
    ) -> Message:
        """Append a message to the conversation's active path; it becomes the path's end."""
        now = time.time()
        with self.write() as db:
            parent, depth = self._path_end(conv_id)
            cur = db.execute(
                "INSERT INTO messages (conversation_id, role, content, model, persona, status,"
                " meta, pid, created_at, updated_at, parent_id, depth)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conv_id,
                    role,
                    content,
                    model,
                    persona,
                    status,
                    json.dumps(meta or {}),
                    os.getpid() if status == "streaming" else None,
                    now,
                    now,
                    parent,
                    depth + 1,
                ),
            )
            message_id = int(cur.lastrowid or 0)
            db.execute(
                "UPDATE conversations SET active_leaf = ? WHERE id = ?", (message_id, conv_id)
            )
            for position, image in enumerate(images):
                sha = hashlib.sha256(image.data).hexdigest()
                db.execute(
                    "INSERT OR IGNORE INTO blobs (sha256, data, mime, width, height, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (sha, image.data, image.mime, image.width, image.height, now),
                )
                db.execute(
                    "INSERT INTO attachments (message_id, position, sha256, name)"
                    " VALUES (?, ?, ?, ?)",
                    (message_id, position, sha, image.name),
                )
            title_row = db.execute(
                "SELECT title FROM conversations WHERE id = ?", (conv_id,)
            ).fetchone()
            if title_row is None:
                raise NotFound(f"no conversation {conv_id}")
            title = title_row["title"]
            if not title and role == "user" and content.strip():
                title = _title_from(content)
            db.execute(
                "UPDATE conversations SET updated_at = ?, title = ? WHERE id = ?",
                (now, title, conv_id),
            )
        return self.message(message_id)

    def _path_end(self, conv_id: int) -> tuple[int | None, int]:
        """The active path's last message and its depth ((None, 0): no message yet)."""
        row = self.db.execute(
            f"SELECT m.id, m.depth FROM conversations c JOIN messages m ON m.id = {_LEAF} "
            "WHERE c.id = ?",
            (conv_id,),
        ).fetchone()
        return (row["id"], row["depth"]) if row is not None else (None, 0)

    def checkpoint(self, message_id: int, content: str) -> None:
        """Save a partial answer while it streams, so a crash keeps what was shown."""
        with self.write() as db:
            db.execute(
                "UPDATE messages SET content = ?, updated_at = ? WHERE id = ?",
                (content, time.time(), message_id),
            )

    def finish(
        self,
        message_id: int,
        *,
        content: str,
        status: str,
        error: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Message:
        with self.write() as db:
            db.execute(
                "UPDATE messages SET content = ?, status = ?, error = ?, prompt_tokens = ?,"
                " completion_tokens = ?, meta = ?, pid = NULL, updated_at = ? WHERE id = ?",
                (
                    content,
                    status,
                    error,
                    prompt_tokens,
                    completion_tokens,
                    json.dumps(meta or {}),
                    time.time(),
                    message_id,
                ),
            )
        return self.message(message_id)

    def edit_message(self, message_id: int, content: str) -> Message:
        with self.write() as db:
            # The text a plugin rewrote for the model belonged to the old words.
            db.execute(
                "UPDATE messages SET content = ?, meta = json_remove(meta, ?), updated_at = ?"
                " WHERE id = ?",
                (content, f"$.{PROMPT_TEXT}", time.time(), message_id),
            )
        return self.message(message_id)

    def set_prompt_text(self, message_id: int, text: str) -> None:
        """Keep what a plugin rewrote a person's message to (a redaction): every later
        prompt sends this instead of the words as typed."""
        with self.write() as db:
            db.execute(
                "UPDATE messages SET meta = json_set(meta, ?, ?), updated_at = ? WHERE id = ?",
                (f"$.{PROMPT_TEXT}", text, time.time(), message_id),
            )

    def delete_messages_from(self, message_id: int) -> int:
        """Delete a message and every message that follows it, on every branch; the active
        path then ends at the message before it."""
        msg = self.message(message_id)
        with self.write() as db:
            below = db.execute(
                f"WITH RECURSIVE below(id) AS ({_BELOW}) SELECT id FROM below", (message_id,)
            ).fetchall()
            db.executemany("DELETE FROM messages WHERE id = ?", [(row[0],) for row in below])
            db.execute(
                "UPDATE conversations SET active_leaf = ? WHERE id = ? AND active_leaf IS NULL",
                (msg.parent_id, msg.conversation_id),
            )
            _drop_unused_blobs(db)
            return len(below)

    def message(self, message_id: int) -> Message:
        row = self.db.execute(f"{self._select} WHERE m.id = ?", (message_id,)).fetchone()
        if row is None:
            raise NotFound(f"no message {message_id}")
        return self._messages([row])[0]

    def messages(self, conv_id: int, *, last: int | None = None) -> list[Message]:
        """The conversation's active path, oldest first: what is shown, sent and exported.
        Other branches stay in the store (all_messages). `last`: only its newest `last`."""
        if not self.tree:
            return self.all_messages(conv_id, last=last)
        limit = -1 if last is None else max(0, last)  # the walk up from the leaf stops there
        rows = self.db.execute(
            "WITH RECURSIVE path(id, n) AS ("
            f"SELECT {_LEAF}, 1 FROM conversations c WHERE c.id = ? "
            "UNION ALL SELECT m.parent_id, p.n + 1 FROM messages m JOIN path p ON m.id = p.id "
            "WHERE m.parent_id IS NOT NULL AND (? < 0 OR p.n < ?)) "
            f"{self._select} JOIN path p ON p.id = m.id "
            "WHERE ? != 0 ORDER BY m.id",
            (conv_id, limit, limit, limit),
        ).fetchall()
        return self._messages(rows)

    def all_messages(self, conv_id: int, *, last: int | None = None) -> list[Message]:
        """Every message of the conversation, on every branch, in the order they were written
        (`last`: the newest `last` of them)."""
        limit = -1 if last is None else max(0, last)
        rows = self.db.execute(
            f"SELECT * FROM ({self._select} WHERE m.conversation_id = ? "
            "ORDER BY m.id DESC LIMIT ?) ORDER BY id",
            (conv_id, limit),
        ).fetchall()
        return self._messages(rows)

    @property
    def _select(self) -> str:
        """Messages with their place among their parent's continuations."""
        if not self.tree:
            return "SELECT m.*, NULL AS parent_id, 1 AS branch, 1 AS branches FROM messages m"
        siblings = (
            "SELECT count(*) FROM messages s WHERE s.conversation_id = m.conversation_id "
            "AND s.parent_id IS m.parent_id"
        )
        return (
            f"SELECT m.*, ({siblings} AND s.id <= m.id) AS branch, ({siblings}) AS branches "
            "FROM messages m"
        )

    # -- branches ----------------------------------------------------------------------------

    def continue_from(self, message_id: int) -> None:
        """Make the active path end at this message, so the next message added starts a new
        branch after it; what followed it stays as another branch."""
        msg = self.message(message_id)
        with self.write() as db:
            db.execute(
                "UPDATE conversations SET active_leaf = ? WHERE id = ?",
                (message_id, msg.conversation_id),
            )

    def edit_as_branch(self, message_id: int, content: str) -> Message:
        """A new version of a person's message beside the old one, with its pictures: the
        active path ends at it (to be answered); the old one and its answers stay a branch."""
        old = self.message(message_id)
        if old.role != "user":
            raise StoreError("only your own messages can be edited")
        meta = {k: v for k, v in old.meta.items() if k != PROMPT_TEXT}
        now = time.time()
        with self.write() as db:
            cur = db.execute(
                "INSERT INTO messages (conversation_id, role, content, model, persona, status,"
                " meta, created_at, updated_at, parent_id, depth)"
                " SELECT conversation_id, role, ?, model, persona, 'complete', ?, ?, ?,"
                " parent_id, depth FROM messages WHERE id = ?",
                (content, json.dumps(meta), now, now, message_id),
            )
            new_id = int(cur.lastrowid or 0)
            db.execute(
                "INSERT INTO attachments (message_id, position, sha256, name) "
                "SELECT ?, position, sha256, name FROM attachments WHERE message_id = ?",
                (new_id, message_id),
            )
            db.execute(
                "UPDATE conversations SET active_leaf = ?, updated_at = ? WHERE id = ?",
                (new_id, now, old.conversation_id),
            )
        return self.message(new_id)

    def show_message(self, message_id: int) -> None:
        """Show the branch that holds this message (a search hit on another branch): the
        active path goes through it, on to the newest message written below it."""
        msg = self.message(message_id)
        with self.write() as db:
            db.execute(
                f"UPDATE conversations SET active_leaf = (WITH RECURSIVE below(id) AS ({_BELOW}) "
                "SELECT max(id) FROM below) WHERE id = ?",
                (message_id, msg.conversation_id),
            )

    def switch_branch(self, message_id: int, step: int) -> Message:
        """Show the branch `step` places from this message's (-1: the previous one): the
        active path goes through that sibling, on to the newest message written below it.
        Returns the sibling; a step past the first or last branch is refused."""
        msg = self.message(message_id)
        siblings = [
            row["id"]
            for row in self.db.execute(
                "SELECT id FROM messages WHERE conversation_id = ? AND parent_id IS ? ORDER BY id",
                (msg.conversation_id, msg.parent_id),
            )
        ]
        target = msg.branch - 1 + step
        if len(siblings) < 2:
            raise StoreError("this message has no other branch")
        if not 0 <= target < len(siblings):
            which = "first" if target < 0 else "last"
            raise StoreError(f"this is the {which} branch ({msg.branch}/{len(siblings)})")
        sibling = siblings[target]
        with self.write() as db:
            db.execute(
                f"UPDATE conversations SET active_leaf = (WITH RECURSIVE below(id) AS ({_BELOW}) "
                "SELECT max(id) FROM below) WHERE id = ?",
                (sibling, msg.conversation_id),
            )
        return self.message(sibling)

    def blob(self, sha256: str) -> bytes:
        row = self.db.execute("SELECT data FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
        if row is None:
            raise NotFound(f"no attachment {sha256[:12]}")
        return bytes(row["data"])

    def _messages(self, rows: list[sqlite3.Row]) -> list[Message]:
        """Messages from their rows, with their attachments read in one query for all of them
        (one per message made opening a 2,000-message chat 2,000 queries)."""
        ids = [row["id"] for row in rows]
        attached: dict[int, list[Attachment]] = {}
        if ids:
            for a in self.db.execute(
                "SELECT a.message_id, a.sha256, a.name, b.mime, b.width, b.height "
                "FROM attachments a JOIN blobs b ON b.sha256 = a.sha256 "
                "WHERE a.message_id IN (SELECT value FROM json_each(?)) "
                "ORDER BY a.message_id, a.position",
                (json.dumps(ids),),
            ):
                attached.setdefault(a["message_id"], []).append(
                    Attachment(a["sha256"], a["name"], a["mime"], a["width"], a["height"])
                )
        return [self._message(row, attached.get(row["id"], [])) for row in rows]

    @staticmethod
    def _message(row: sqlite3.Row, attachments: list[Attachment]) -> Message:
        return Message(
            id=row["id"],
            conversation_id=row["conversation_id"],
            role=row["role"],
            content=row["content"],
            status=row["status"],
            model=row["model"],
            persona=row["persona"],
            error=row["error"],
            prompt_tokens=row["prompt_tokens"],
            completion_tokens=row["completion_tokens"],
            meta=json.loads(row["meta"] or "{}"),
            created_at=row["created_at"],
            attachments=attachments,
            parent_id=row["parent_id"],
            branch=row["branch"],
            branches=row["branches"],
        )


def _damaged(path: Path | str, exc: Exception) -> str:
    return (
        f"{path} is damaged or not an mmchat database ({exc}); it was left untouched. "
        f"Move it aside to start afresh, or recover it with: sqlite3 {path} .recover"
    )


# The end of conversation c's active path: the message it names, or (a conversation whose
# end was deleted) its newest message.
_LEAF = "coalesce(c.active_leaf, (SELECT max(x.id) FROM messages x WHERE x.conversation_id = c.id))"
# A message (the one parameter) and every message below it, on every branch.
_BELOW = "SELECT ? UNION ALL SELECT m.id FROM messages m JOIN below b ON m.parent_id = b.id"

# What update_conversation may change: one-line names, and the chat's own settings.
LABELS = ("title", "model", "persona")
SETTINGS = ("system", "temperature", "top_p", "max_tokens")


@functools.cache
def _scan_warning(reason: str) -> None:
    """Once a process: every turn opens a store of its own."""
    log.warning("chat search uses a full scan: %s", reason)


def _setting(key: str, value: str | float | int | None) -> str | float | int | None:
    """A conversation column's value, checked: names one line, numbers numbers."""
    if value is None:
        return None
    if key in ("temperature", "top_p") and isinstance(value, int | float):
        return float(value)
    if key == "max_tokens" and isinstance(value, int):
        return value
    if key in (*LABELS, "system") and isinstance(value, str):
        return _label(value) if key in LABELS else value
    raise ValueError(f"{key} cannot be {value!r}")


def fts_query(search: str) -> str | None:
    """An FTS5 query matching every word of `search` as a word or a word's start; the words
    are quoted, so nothing a person types is FTS5 syntax. None: no word to look for."""
    words = re.findall(r"\w+", search)
    return " ".join(f'"{word}"*' for word in words) or None


def _conversation(row: sqlite3.Row) -> Conversation:
    # A read-only store on an older schema has no settings columns yet.
    settings = {k: row[k] for k in ("temperature", "top_p", "max_tokens") if k in row.keys()}
    return Conversation(
        id=row["id"],
        title=row["title"],
        model=row["model"],
        persona=row["persona"],
        system=row["system"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        message_count=row["n"],
        **settings,
    )


def _drop_unused_blobs(db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM blobs WHERE sha256 NOT IN (SELECT sha256 FROM attachments)")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _label(text: str | None) -> str | None:
    # Titles, model and persona names are printed in one line by every front end; escape
    # sequences in them have no use and every way to reach a terminal (tests/reliability).
    return None if text is None else " ".join(strip_control(text).split())


def _title_from(content: str) -> str:
    line = " ".join(strip_control(content).split())
    return line[:57] + "..." if len(line) > 60 else line


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
