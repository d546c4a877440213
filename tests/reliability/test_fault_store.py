"""The store under kill -9, concurrency, old and newer schemas, damage and a full disk."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest
from faultkit import (
    concurrent_first_starts,
    concurrent_writers,
    count,
    damaged,
    damaged_copies,
    disk_full,
    kill_migration,
    kill_writer,
    make_old_db,
    newer_schema,
)

from mmchat.migrations import SCHEMA_VERSION
from mmchat.store import Store

pytestmark = pytest.mark.reliability
MMCHAT = [sys.executable, "-m", "mmchat.cli"]


def test_kill_9_writer_loses_no_confirmed_write(tmp_path: Path) -> None:
    figures = kill_writer(tmp_path, count(30, 8))
    assert figures["confirmed"] > 0
    assert figures["lost"] == 0
    assert figures["integrity_failed"] == 0


def test_kill_9_during_migration_leaves_old_or_new_schema(tmp_path: Path) -> None:
    figures = kill_migration(tmp_path, count(20, 6))
    assert figures["bad_migrations"] == 0
    assert figures["integrity_failed"] == 0
    assert figures["old_rows_lost"] == 0
    assert figures["lost"] == 0


def test_eight_writers_never_see_database_is_locked(tmp_path: Path) -> None:
    writes = count(200, 60)
    figures = concurrent_writers(tmp_path, 8, writes)
    assert figures["locked"] == 0 and figures["failed"] == 0, figures["errors"]
    assert figures["stored"] == 8 * writes
    assert figures["integrity_failed"] == 0


def test_eight_first_starts_migrate_exactly_once(tmp_path: Path) -> None:
    figures = concurrent_first_starts(tmp_path, 8, count(10, 3))
    assert figures["failed_starts"] == 0
    assert figures["migrations_not_once"] == 0
    backups = list((tmp_path / "backups").iterdir())
    assert backups and all(p.stat().st_mode & 0o777 == 0o600 for p in backups)


def test_newer_schema_is_refused_for_writes_with_zero_writes(tmp_path: Path) -> None:
    figures = newer_schema(tmp_path)
    assert figures["refused"] and figures["one_line"], figures
    assert figures["readable"]
    assert figures["bytes_changed"] == 0


DAMAGE = [
    "truncated-half",
    "truncated-first-page",
    "truncated-header",
    "garbage-middle",
    "not-sqlite",
]


@pytest.mark.parametrize("case", DAMAGE)
def test_damaged_database_is_reported_and_kept_byte_for_byte(tmp_path: Path, case: str) -> None:
    figures = damaged(tmp_path, case, damaged_copies(tmp_path)[case])
    assert figures["reported"] and figures["cli_reported"], figures
    assert figures["cli_tracebacks"] == 0
    assert figures["kept"] and not figures["replaced"]


def test_disk_full_gives_one_error_keeps_text_and_recovers(tmp_path: Path) -> None:
    figures = disk_full(tmp_path, MMCHAT)
    assert figures["errors"] == 1, figures
    assert figures["one_line"], figures
    assert figures["saved_after_free"], figures
    assert figures["integrity"] == "ok"
    if "cli_exit" in figures:
        assert figures["cli_exit"] != 0
        stderr = str(figures["cli_stderr"])
        assert "disk is full" in stderr and "\n" not in stderr and "Traceback" not in stderr


def test_old_schema_is_backed_up_once_then_migrated(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    rows = make_old_db(db, conversations=5, messages=4)
    with Store(db) as store:
        assert sum(c.message_count for c in store.conversations()) == rows
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    (backup,) = (tmp_path / "backups").iterdir()
    conn = sqlite3.connect(backup)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()
