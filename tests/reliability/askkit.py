"""Real `mmchat ask` processes with the "smollm2" model, signalled or killed at chosen moments.

Shared by tests/reliability and bench/faults.py. A run is started in its own session (as a
terminal's foreground job) so Ctrl-C can be sent the way a terminal sends it: SIGINT to the whole
process group. The engine process is found as a child, to check it does not outlive mmchat.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

PROMPT = "Write a long story about a dragon who learns to bake bread. Use many details."
PHASES = ("idle", "loading", "streaming")


def mmchat_command() -> list[str]:
    return [sys.executable, "-m", "mmchat.cli"]


REPO = Path(__file__).resolve().parents[2]


def private_cache() -> Path:
    """The converted-model cache when none is set: this user's own, under the repository
    (git ignores .mmchat-test/). A shared folder in /tmp would be trusted by its `.complete`
    markers, and anyone on the machine could have put a model there first."""
    from mmchat.config import ensure_owned_dir

    chosen = os.environ.get("MMCHAT_TEST_CACHE")
    return ensure_owned_dir(Path(chosen) if chosen else REPO / ".mmchat-test" / "cache")


def ask_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MMCHAT_HOME"] = str(home)
    if "MMCHAT_CACHE_DIR" not in env:
        env["MMCHAT_CACHE_DIR"] = str(private_cache())
    env.pop("MMCHAT_DB", None)
    env["NO_COLOR"] = "1"
    env["MMCHAT_THREADS"] = "1"
    return env


@dataclass
class Outcome:
    phase: str
    how: str
    exit_seconds: float = 0.0
    exit_code: int | None = None
    printed: str = ""
    stderr: str = ""
    orphans: int = 0
    prompt_saved: bool = False
    answer_status: str | None = None
    answer_is_prefix: bool = True
    problems: list[str] = field(default_factory=list)


def _engine_children(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [p for p in proc.children(recursive=True) if "mmchat.engine.worker" in p.cmdline()]
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return []


def _read_some(proc: subprocess.Popen[bytes], want: int, timeout: float) -> bytes:
    """Read stdout until `want` bytes arrived (the answer is streaming) or the timeout."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    got = b""
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline and proc.poll() is None:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            chunk = b""
        got += chunk
        if not chunk:
            time.sleep(0.02)
    return got


def _wait_for_engine(ps: psutil.Process, timeout: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engines := _engine_children(ps):
            return engines
        time.sleep(0.05)
    return []


def sigint_as_at_a_terminal() -> None:
    """Child setup: SIGINT does what Ctrl-C does at a terminal. A test runner started in the
    background of a non-interactive shell ignores SIGINT, and children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run(home: Path, phase: str, how: str, *, max_tokens: int = 400) -> Outcome:
    """Start `mmchat ask`, reach `phase`, then deliver `how` (SIGINT/SIGTERM/SIGHUP/SIGKILL)."""
    outcome = Outcome(phase, how)
    prompt = "-" if phase == "idle" else f"{PROMPT} ({phase} {how} {time.time_ns()})"
    command = [*mmchat_command(), "ask", "--model", "smollm2", "--no-plugins", prompt]
    command += ["--max-tokens", str(max_tokens)]
    proc = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ask_env(home),
        start_new_session=True,
        preexec_fn=sigint_as_at_a_terminal,
    )
    ps = psutil.Process(proc.pid)
    printed = b""
    engines: list[psutil.Process] = []
    if phase == "idle":
        time.sleep(3.0)  # imported and blocked reading the question from stdin
    elif phase == "loading":
        engines = _wait_for_engine(ps, 60)
        time.sleep(0.8)  # the worker is importing torch / loading weights
        if not engines:
            outcome.problems.append("no engine process appeared")
    else:
        engines = _wait_for_engine(ps, 60)
        printed = _read_some(proc, 24, 120)
        if len(printed) < 24:
            outcome.problems.append(f"no streaming seen (got {printed!r})")
    engines = engines or _engine_children(ps)
    sig = getattr(signal, how)
    started = time.monotonic()
    if how == "SIGINT":
        os.killpg(proc.pid, sig)  # what a terminal does on Ctrl-C
    else:
        proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        outcome.problems.append("did not exit within 30 s")
    outcome.exit_seconds = time.monotonic() - started
    outcome.exit_code = proc.returncode
    outcome.printed = (printed + out).decode("utf-8", "replace")
    outcome.stderr = err.decode("utf-8", "replace")
    outcome.orphans = _orphans(engines, wait=3.0 if how == "SIGKILL" else 0.5)
    _check_db(home, prompt, outcome)
    return outcome


def _orphans(engines: list[psutil.Process], wait: float) -> int:
    deadline = time.monotonic() + wait
    alive = engines
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.05)
    for p in alive:  # leave nothing behind, whatever the figure says
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    return len(alive)


def _check_db(home: Path, prompt: str, outcome: Outcome) -> None:
    db = home / "data" / "mmchat.db"
    if not db.exists():
        outcome.prompt_saved = outcome.phase == "idle"  # nothing was sent yet: nothing to save
        return
    from mmchat.store import Store

    Store(db).close()  # a later start: answers left 'streaming' by a dead process become stopped
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        user = conn.execute("SELECT conversation_id FROM messages WHERE content = ?", (prompt,))
        row = user.fetchone()
        outcome.prompt_saved = row is not None or outcome.phase == "idle"
        if row is None:
            return
        answer = conn.execute(
            "SELECT content, status FROM messages WHERE conversation_id = ? AND role = "
            "'assistant' ORDER BY id DESC",
            (row[0],),
        ).fetchone()
        if answer is not None:
            outcome.answer_status = answer[1]
            saved, shown = answer[0], outcome.printed
            # Stopped: everything shown is saved (perhaps one piece more). Killed: the saved
            # checkpoint is what was shown, or a shorter part of it.
            graceful = outcome.how != "SIGKILL"
            outcome.answer_is_prefix = (
                saved.startswith(shown) if graceful else shown.startswith(saved)
            )
    finally:
        conn.close()
