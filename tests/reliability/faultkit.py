"""Store fault scenarios shared by tests/reliability and bench/faults.py.

Each function runs one scenario against the real mmchat.store in real processes and returns its
figures as a dict; the tests assert them at small counts, the bench prints them at full counts.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mmchat.migrations import MIGRATIONS, SCHEMA_VERSION

HERE = Path(__file__).resolve().parent
WRITER = HERE / "writer.py"
PYTHON = sys.executable


def count(full: int, ci: int) -> int:
    """Long loops take the shorter count under CI (the env var CI is set)."""
    return ci if os.environ.get("CI") else full


def writer(mode: str, db: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, str(WRITER), mode, str(db), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def integrity(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def make_old_db(path: Path, conversations: int = 50, messages: int = 20) -> int:
    """A database at schema 1 (before m002), filled with data; returns the message count."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    name, apply = MIGRATIONS[0]
    apply(conn)
    conn.execute("INSERT INTO _migrations VALUES (?, ?)", (name, time.time()))
    now = time.time()
    for c in range(conversations):
        cid = conn.execute(
            "INSERT INTO conversations (title, created_at, updated_at) VALUES (?, ?, ?)",
            (f"old {c}", now, now),
        ).lastrowid
        conn.executemany(
            "INSERT INTO messages (conversation_id, role, content, created_at, updated_at)"
            " VALUES (?, 'user', ?, ?, ?)",
            [(cid, f"old message {c}/{m} " * 20, now, now) for m in range(messages)],
        )
    conn.execute("PRAGMA user_version = 1")
    conn.execute("COMMIT")
    conn.close()
    os.chmod(path, 0o600)
    return conversations * messages


def _applied(db: Path) -> tuple[int, list[str]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        names = [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY name")]
        return version, names
    finally:
        conn.close()


def _check_confirmed(db: Path, confirmed: dict[int, tuple[int, str]]) -> int:
    """Confirmed writes missing from the database; a later, longer checkpoint is fine."""
    import hashlib

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    lost = 0
    try:
        for message_id, (length, digest) in confirmed.items():
            row = conn.execute(
                "SELECT content FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            if row is None or hashlib.sha1(row[0][:length].encode()).hexdigest() != digest:
                lost += 1
    finally:
        conn.close()
    return lost


def _run_and_kill(proc: subprocess.Popen[str], delay: float) -> list[str]:
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=10)
    return out.splitlines()


def _parse(lines: list[str], confirmed: dict[int, tuple[int, str]]) -> None:
    for line in lines:
        parts = line.split()
        if len(parts) == 4 and parts[0] == "C":
            confirmed[int(parts[1])] = (int(parts[2]), parts[3])


def kill_writer(workdir: Path, rounds: int, seed: int = 1) -> dict[str, int]:
    """kill -9 a writer mid-turn `rounds` times on one database."""
    rng = random.Random(seed)
    db = workdir / "kill-writer.db"
    confirmed: dict[int, tuple[int, str]] = {}
    bad_integrity = 0
    for _ in range(rounds):
        _parse(_run_and_kill(writer("turns", db), rng.uniform(0.3, 0.9)), confirmed)
        bad_integrity += integrity(db) != "ok"
    return {
        "kills": rounds,
        "confirmed": len(confirmed),
        "lost": _check_confirmed(db, confirmed),
        "integrity_failed": bad_integrity,
    }


def kill_migration(workdir: Path, rounds: int, seed: int = 2) -> dict[str, int]:
    """kill -9 a first start on an old-schema database while it backs up and migrates."""
    rng = random.Random(seed)
    figures = {"kills": rounds, "mid_migration": 0, "bad_migrations": 0, "integrity_failed": 0}
    figures |= {"old_rows_lost": 0, "lost": 0, "confirmed": 0}
    for n in range(rounds):
        db = workdir / f"kill-migration-{n}.db"
        old_rows = make_old_db(db, conversations=100, messages=40)
        confirmed: dict[int, tuple[int, str]] = {}
        proc = writer("turns", db)
        assert proc.stdout is not None
        proc.stdout.readline()  # "opening": the backup and migration start now
        lines = _run_and_kill(proc, rng.uniform(0.0, 0.06))
        _parse(lines, confirmed)
        version, names = _applied(db)
        figures["mid_migration"] += "opened" not in lines
        expected = sorted(name for name, _ in MIGRATIONS[:version])
        figures["bad_migrations"] += names != expected
        figures["integrity_failed"] += integrity(db) != "ok"
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        kept = conn.execute("SELECT count(*) FROM messages WHERE content LIKE 'old message%'")
        figures["old_rows_lost"] += old_rows - int(kept.fetchone()[0])
        conn.close()
        figures["confirmed"] += len(confirmed)
        figures["lost"] += _check_confirmed(db, confirmed)
        # The next start finishes the job.
        start = writer("start", db)
        db.with_name(db.name + ".go").touch()
        out, _ = start.communicate(timeout=60)
        version, names = _applied(db)
        figures["bad_migrations"] += out.strip() != "ok" or version != SCHEMA_VERSION
    return figures


def _release(procs: list[subprocess.Popen[str]], go: Path, timeout: float) -> list[str]:
    time.sleep(0.3)  # let every process import and connect before the gun
    go.touch()
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        outputs.append(out.strip() or f"error {err.strip().splitlines()[-1:]}")
    return outputs


def concurrent_writers(workdir: Path, processes: int, writes: int) -> dict[str, Any]:
    db = workdir / "concurrent.db"
    procs = [writer("burst", db, str(writes)) for _ in range(processes)]
    results = _release(procs, db.with_name(db.name + ".go"), timeout=300)
    summaries = [json.loads(r) if r.startswith("{") else {"failed": writes} for r in results]
    conn = sqlite3.connect(db)
    stored = int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])
    conn.close()
    return {
        "processes": processes,
        "writes": processes * writes,
        "locked": sum(s.get("locked", 0) for s in summaries),
        "failed": sum(s.get("failed", 0) for s in summaries),
        "stored": stored,
        "integrity_failed": int(integrity(db) != "ok"),
        # Why writers failed (their error or last stderr line), for the assertion message.
        "errors": [s["error"] for s in summaries if s.get("error")]
        + [r for r in results if not r.startswith("{")],
    }


def concurrent_first_starts(workdir: Path, processes: int, rounds: int) -> dict[str, int]:
    figures = {"rounds": rounds, "starts": 0, "failed_starts": 0, "migrations_not_once": 0}
    for n in range(rounds):
        db = workdir / f"first-start-{n}.db"
        make_old_db(db, conversations=20, messages=10)
        procs = [writer("start", db) for _ in range(processes)]
        results = _release(procs, db.with_name(db.name + ".go"), timeout=120)
        figures["starts"] += len(results)
        figures["failed_starts"] += sum(r != "ok" for r in results)
        conn = sqlite3.connect(db)
        rows = conn.execute("SELECT name, count(*) FROM _migrations GROUP BY name").fetchall()
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        conn.close()
        once = dict(rows) == {name: 1 for name, _ in MIGRATIONS} and version == SCHEMA_VERSION
        figures["migrations_not_once"] += not once
    return figures


@contextmanager
def small_filesystem(where: Path, size_kib: int) -> Iterator[str]:
    """A tmpfs of `size_kib` at `where` when mount works (root); yields how it was made."""
    where.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0700", "tmpfs", str(where)],
        capture_output=True,
    )
    if result.returncode != 0:
        yield "none"
        return
    try:
        yield "tmpfs"
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(folder: Path) -> Path:
    """Fill the file system holding `folder`; returns the filler file."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass  # ENOSPC: full
    finally:
        os.close(fd)
    return filler


def disk_full(workdir: Path, mmchat_cli: list[str] | None = None) -> dict[str, object]:
    """Fill the disk under a database, try to send, free the space, send again."""
    from mmchat.store import Store, StoreError

    unsent = "a question that must not be lost " * 200
    figures: dict[str, object] = {"errors": 0, "one_line": True, "saved_after_free": False}
    with small_filesystem(workdir / "small-fs", 1024) as how:
        figures["method"] = how
        if how == "none":
            return figures | _disk_full_rlimit(workdir, unsent)
        db = workdir / "small-fs" / "mmchat.db"
        with Store(db) as store:
            conv = store.create_conversation(title="full disk")
            filler = fill(db.parent)
            try:
                store.add_message(conv.id, "user", unsent)
            except StoreError as exc:
                figures["errors"] = 1
                figures["message"] = str(exc)
                figures["one_line"] = "\n" not in str(exc) and "disk is full" in str(exc)
            if mmchat_cli is not None:
                cli = subprocess.run(
                    [*mmchat_cli, "ask", "--db", str(db), "--no-plugins", unsent],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                figures["cli_exit"] = cli.returncode
                figures["cli_stderr"] = cli.stderr.strip()
            filler.unlink()
            message = store.add_message(conv.id, "user", unsent)
            figures["saved_after_free"] = store.message(message.id).content == unsent
        figures["integrity"] = integrity(db)
    return figures


_RLIMIT_CHILD = """
import resource, signal, sys
from pathlib import Path
from typing import Any
from mmchat.store import Store, StoreError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
db = Path(sys.argv[1])
with Store(db) as store:
    conv = store.create_conversation(title="full disk")
    size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 16 * 1024, resource.RLIM_INFINITY))
    try:
        store.add_message(conv.id, "user", sys.argv[2] * 100)
        print("no error")
    except StoreError as exc:
        print(str(exc))
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    message = store.add_message(conv.id, "user", sys.argv[2])
    print(store.message(message.id).content == sys.argv[2])
"""


def _disk_full_rlimit(workdir: Path, unsent: str) -> dict[str, object]:
    """Fallback without mount: RLIMIT_FSIZE makes writes past a size fail like a full disk."""
    db = workdir / "rlimit" / "mmchat.db"
    result = subprocess.run(
        [PYTHON, "-c", _RLIMIT_CHILD, str(db), unsent], capture_output=True, text=True
    )
    lines = result.stdout.splitlines()
    message = lines[0] if lines else result.stderr[-300:]
    return {
        "method": "RLIMIT_FSIZE",
        "errors": int("disk" in message and "nothing was saved" in message),
        "message": message,
        "one_line": len(lines) == 2 and "Traceback" not in result.stderr,
        "saved_after_free": lines[-1:] == ["True"],
        "integrity": integrity(db),
    }


MMCHAT = [PYTHON, "-m", "mmchat.cli"]


def newer_schema(workdir: Path) -> dict[str, object]:
    """A database from a newer mmchat: refused for writes, readable, not one byte changed."""
    from mmchat.store import Store

    db = workdir / "newer.db"
    Store(db).close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = DELETE")  # a newer mmchat may journal differently
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 3}")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    ask = subprocess.run(
        [*MMCHAT, "ask", "--db", str(db), "--no-plugins", "--model", "smollm2", "hello"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    listing = subprocess.run(
        [*MMCHAT, "history", "list", "--db", str(db)], capture_output=True, text=True, timeout=60
    )
    return {
        "refused": ask.returncode != 0 and "newer mmchat" in ask.stderr,
        "one_line": ask.stderr.count("\n") == 1 and "Traceback" not in ask.stderr,
        "message": ask.stderr.strip(),
        "readable": listing.returncode == 0,
        "bytes_changed": int(db.read_bytes() != before),
    }


def damaged_copies(workdir: Path) -> dict[str, bytes]:
    from mmchat.store import Store

    good = workdir / "good.db"
    with Store(good) as store:
        conv = store.create_conversation(title="keep me")
        for i in range(300):
            store.add_message(conv.id, "user", f"message {i} " * 100)
    data = good.read_bytes()
    middle = len(data) // 2
    return {
        "truncated-half": data[:middle],
        "truncated-first-page": data[:4096],
        "truncated-header": data[:60],
        "garbage-middle": data[:middle] + b"\xa5" * 8192 + data[middle + 8192 :],
        "not-sqlite": b"this is not a database " * 500,
    }


def damaged(workdir: Path, case: str, data: bytes) -> dict[str, object]:
    """Open a damaged file with the store and the CLI: reported in one line, kept as it was."""
    from mmchat.store import Store, StoreError

    db = workdir / case / "data" / "mmchat.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(data)
    message = ""
    try:
        # Damage is found when a query reaches it: at open, or on reading the messages.
        with Store(db) as store:
            store.messages(1)
    except StoreError as exc:
        message = str(exc)
    show = subprocess.run(
        [*MMCHAT, "history", "show", "1", "--db", str(db)], capture_output=True, text=True
    )
    listing = subprocess.run(
        [*MMCHAT, "history", "list", "--db", str(db)], capture_output=True, text=True
    )
    return {
        "reported": "damaged" in message and str(db) in message and "\n" not in message,
        "cli_reported": show.returncode != 0
        and "damaged" in show.stderr
        and show.stderr.count("\n") == 1,
        "cli_tracebacks": ("Traceback" in show.stderr) + ("Traceback" in listing.stderr),
        "kept": db.read_bytes() == data,
        "replaced": sorted(p.name for p in db.parent.iterdir() if p.suffix == ".db")
        != ["mmchat.db"],
    }


_OPEN_AND_LIST = """
import stat
from pathlib import Path
from typing import Any
from mmchat.config import data_dir, default_db_path
from mmchat.store import Store
store = Store(default_db_path())
conv = store.create_conversation(title="private")
store.add_message(conv.id, "user", "a secret")
db = default_db_path()
for path in (data_dir(), db, Path(f"{db}-wal"), Path(f"{db}-shm")):
    print(path.name, oct(stat.S_IMODE(path.stat().st_mode)))
"""


def permissions(home: Path) -> dict[str, str]:
    """Modes on a fresh install under umask 022, read while the store is open (-wal, -shm),
    then the engine log after an engine start (one that fails fast on a memory cap)."""
    env = dict(os.environ, MMCHAT_HOME=str(home), MMCHAT_CACHE_DIR=str(home / "cache"))
    env.pop("MMCHAT_DB", None)
    umask = ["sh", "-c", 'umask 022 && exec "$@"', "sh"]
    result = subprocess.run(
        [*umask, PYTHON, "-c", _OPEN_AND_LIST], capture_output=True, text=True, env=env
    )
    modes = dict(line.split() for line in result.stdout.splitlines() if line.count(" ") == 1)
    subprocess.run(
        [*umask, *MMCHAT, "ask", "--no-plugins", "--model", "smollm2", "hello"],
        capture_output=True,
        env=env | {"MMCHAT_ENGINE_MEMORY_LIMIT_MB": "300"},
        timeout=120,
    )
    for path in (home / "cache" / "engine.log", home / "config"):
        if path.exists():
            modes[path.name] = oct(path.stat().st_mode & 0o777)
    config_files = [p for p in (home / "config").rglob("*") if p.is_file()]
    modes["config files open to others"] = str(
        sum(p.stat().st_mode & 0o077 != 0 for p in config_files)
    )
    return modes
