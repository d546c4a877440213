"""The TUI on a pseudo-terminal, with hostile conversation titles, persona and model names.

Textual draws with escape sequences of its own, so the output cannot be checked for "no escape
at all"; instead it is checked for the payloads' own sequences (OSC 52, OSC 0 titles, OSC 8
links to the corpus's URL, DCS, APC, RIS, DSR) and for any 8-bit C1 or bidi control, which
Textual never emits itself. Titles are written with raw SQL, as a database from before titles
were cleaned would hold them, so the TUI's own stripping is what is tested.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from hostile_text import corpus

from mmchat.store import Store

PAYLOADS = {
    "OSC 52 clipboard write": re.compile("\x1b\\]52;"),
    "OSC 0 window title": re.compile("\x1b\\]0;fake"),
    "OSC 8 link to the corpus URL": re.compile("\x1b\\]8;[^\x07\x1b]*example\\.invalid"),
    "DCS": re.compile("\x1bP\\+q"),
    "APC": re.compile("\x1b_APC"),
    "full reset (RIS)": re.compile("\x1bc"),
    "cursor report request (DSR)": re.compile("\x1b\\[6n"),
    "8-bit C1": re.compile("[\x80-\x9f]"),
    "bidi control": re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]"),
}


def _populate(db: Path, strings: list[str]) -> None:
    with Store(db) as store:
        for text in strings:
            conv = store.create_conversation(title="placeholder")
            with store.write() as sql:
                sql.execute(
                    "UPDATE conversations SET title = ?, persona = ?, model = ? WHERE id = ?",
                    (text, text, text, conv.id),
                )
            store.add_message(conv.id, "user", text)


def _pump(master: int, seconds: float, chunks: list[bytes]) -> bool:
    """Read for `seconds`; False once the other side closed."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                return False
            if not data:
                return False
            chunks.append(data)
    return True


def run(home: Path, count: int = 60) -> dict[str, object]:
    strings = corpus()[:count]
    _populate(home / "data" / "mmchat.db", strings)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = dict(os.environ, MMCHAT_HOME=str(home), TERM="xterm-256color")
    # The model load fails fast under a memory cap: its error text reaches the status bar too.
    env["MMCHAT_ENGINE_MEMORY_LIMIT_MB"] = "300"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmchat.cli", "--no-plugins", "--model", "smollm2"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    _pump(master, 8.0, chunks)
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    while proc.poll() is None and time.monotonic() - started < 10:
        if not _pump(master, 0.05, chunks):
            proc.wait(timeout=10)
    exit_seconds = time.monotonic() - started
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    os.close(master)
    text = b"".join(chunks).decode("utf-8", "replace")
    found = {name: len(p.findall(text)) for name, p in PAYLOADS.items()}
    return {
        "titles": len(strings),
        "bytes": len(text),
        "rendered_titles": "arabic mark" in text and "isolate" in text,
        "payload_sequences": sum(found.values()),
        "found": found,
        "exit_seconds": round(exit_seconds, 2),
        "traceback": "Traceback" in text,
    }
