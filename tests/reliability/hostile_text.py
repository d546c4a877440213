"""Hostile strings (markup and terminal escapes) and a pseudo-terminal to catch what gets out.

The corpus is generated: base payloads (OSC 52 clipboard writes, OSC 8 links, CSI, 8-bit C1,
lone ESC, bidi overrides, Rich/Textual markup) times wrappers that put them mid-text, repeat
them or glue them to markup. `run_in_pty` runs a command with its stdout and stderr on a pty,
as a person's terminal would see them, and `control_count` counts what should never be there.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from dataclasses import dataclass

BASE = [
    "\x1b]52;c;ZWNobyBwd25lZA==\x07",  # OSC 52: write the clipboard
    "\x1b]52;c;ZWNobyBwd25lZA==\x1b\\",
    "\x1b]8;;https://example.invalid/x\x07click me\x1b]8;;\x07",  # OSC 8 hyperlink
    "\x1b]0;fake window title\x07",
    "\x1b[31mred\x1b[0m",
    "\x1b[2J\x1b[H",  # clear the screen
    "\x1b[6n",  # asks the terminal to type a reply
    "\x1b[?1049h",  # alternate screen
    "\x1b[20t",
    "\x1bP+q544e\x1b\\",  # DCS
    "\x1b_APC payload\x1b\\",
    "\x1bc",  # full reset
    "\x1b",  # lone ESC
    "\x1b7saved\x1b8",
    "\x9b31m8-bit CSI\x9b0m",
    "\x9d52;c;ZWNobw==\x9c",  # 8-bit OSC 52
    "\x90q\x9c",
    "\x85next line",
    "\x8d\x8e\x8f",
    "safe text\roverwritten",
    "back\x08\x08\x08space",
    "bell\x07bell",
    "nul\x00byte",
    "del\x7fete",
    "\x0b\x0cform feed",
    "\u202eevil.exe\u202cgnp.txt",  # right-to-left override
    "\u2066isolate\u2069",
    "\u200fmark\u200e",
    "\u061carabic mark",
    "[bold red]markup[/]",
    "[/]",
    "[@click=app.quit]quit[/]",
    "[link=file:///etc/passwd]passwd[/link]",
    "[red",
    "\\[escaped]",
    "[on #ff0000]x[/on #ff0000]",
    "$accent",
    "**bold** `code` <b>html</b>",
    "\u2028line separator\u2029",
    "zero\u200bwidth\u200djoin",
]
WRAPS = [
    "{}",
    "before {} after",
    "{}{}{}",
    "[b]{}[/b] \x1b[0m",
    "title: {}\nsecond line {}",
]


def corpus() -> list[str]:
    strings: list[str] = []
    for wrap in WRAPS:
        for base in BASE:
            strings.append(wrap.replace("{}", base))
    for i in range(0, len(BASE) - 1, 2):
        strings.append(BASE[i] + " and " + BASE[i + 1])
    return strings


# What must never reach the terminal from untrusted text. \r is allowed: the pty itself turns
# each \n into \r\n. Bidi controls are included (they disguise text).
FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]"
)


def control_count(text: str) -> int:
    return len(FORBIDDEN.findall(text))


@dataclass
class PtyResult:
    output: str
    exit_code: int | None
    seconds: float
    hung: bool


def run_in_pty(
    command: list[str], env: dict[str, str], timeout: float = 60.0, stdin: bytes | None = None
) -> PtyResult:
    """Run with stdout and stderr on one pseudo-terminal; the output as the terminal got it."""
    master, slave = pty.openpty()
    started = time.monotonic()
    proc = subprocess.Popen(
        command,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env={**env, "TERM": "xterm-256color", "COLUMNS": "200"},
        close_fds=True,
    )
    os.close(slave)
    if stdin is not None and proc.stdin is not None:
        proc.stdin.write(stdin)
        proc.stdin.close()
    chunks: list[bytes] = []
    hung = False
    while True:
        if time.monotonic() - started > timeout:
            proc.kill()
            hung = True
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the other side closed
                data = b""
            if data:
                chunks.append(data)
                continue
            break
        if proc.poll() is not None and not ready:
            # drain what is left, then stop
            try:
                while data := os.read(master, 65536):
                    chunks.append(data)
            except OSError:
                pass
            break
    os.close(master)
    proc.wait()
    return PtyResult(
        b"".join(chunks).decode("utf-8", "replace"),
        proc.returncode,
        time.monotonic() - started,
        hung,
    )
