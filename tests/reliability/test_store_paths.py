"""The database path reaches SQLite as itself; reading commands never change a database.

`#`, `?` and `%` mean something in an SQLite URI: unquoted, `we#ird/mmchat.db` opened a file
named `we`. `history list/show/export` open the database read-only: a database at an older
schema (another mmchat's, a backup) is read as it is, never migrated.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from faultkit import make_old_db

from mmchat.migrations import SCHEMA_VERSION
from mmchat.store import Store

pytestmark = pytest.mark.reliability

ODD_NAMES = ["we#ird", "what?mode=ro", "per%2Fcent", "all #?% of them"]


def mmchat(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MMCHAT_HOME=str(home))
    env.pop("MMCHAT_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "mmchat.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.mark.parametrize("name", ODD_NAMES)
def test_odd_folder_names_open_the_named_file(tmp_path: Path, name: str) -> None:
    folder = tmp_path / name
    db = folder / "mmchat.db"
    with Store(db) as store:
        store.create_conversation(title="kept where it was asked")
    assert db.stat().st_size > 0
    # Nothing else was created beside the named folder (`we` for `we#ird`, ...).
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    with Store(db, readonly=True) as store:
        assert [c.title for c in store.conversations()] == ["kept where it was asked"]
    listed = mmchat("history", "list", "--db", str(db), home=tmp_path / "home")
    assert listed.returncode == 0, listed.stderr
    assert "kept where it was asked" in listed.stdout


def checksums(folder: Path) -> dict[str, str]:
    """The data files' hashes. SQLite's shared-memory index and an empty write-ahead log are
    what any reader of a WAL database may create; they hold no data."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
        and not p.name.endswith("-shm")
        and not (p.name.endswith("-wal") and p.stat().st_size == 0)
    }


def test_reading_commands_leave_an_old_database_untouched(tmp_path: Path) -> None:
    folder = tmp_path / "other"
    folder.mkdir()
    db = folder / "mmchat.db"
    make_old_db(db, conversations=3, messages=2)
    before = checksums(folder)
    home = tmp_path / "home"
    listed = mmchat("history", "list", "--db", str(db), home=home)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("old ") == 3
    shown = mmchat("history", "show", "1", "--db", str(db), home=home)
    assert shown.returncode == 0, shown.stderr
    assert "old message 0/1" in shown.stdout
    exported = mmchat("history", "export", "2", "-f", "json", "--db", str(db), home=home)
    assert exported.returncode == 0, exported.stderr
    assert checksums(folder) == before
    assert not (folder / "backups").exists()  # no upgrade was even started
    with Store(db) as store:  # a writing start upgrades it, as before
        assert store._version() == SCHEMA_VERSION


def test_listing_with_no_database_creates_none(tmp_path: Path) -> None:
    home = tmp_path / "home"
    listed = mmchat("history", "list", home=home)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == ""
    assert not (home / "data" / "mmchat.db").exists()
