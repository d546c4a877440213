"""A real X11 clipboard for tests: an Xvfb server of its own and xclip to fill the clipboard.

Install both with `apt-get install -y xvfb xclip`; tests that need them skip, saying so, where
they are missing.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

MISSING = "needs Xvfb and xclip on PATH (apt-get install -y xvfb xclip)"


def have_x11_tools() -> bool:
    return bool(shutil.which("Xvfb") and shutil.which("xclip"))


@contextmanager
def xvfb_display() -> Iterator[str]:
    """Start Xvfb on a free display (it picks one: -displayfd) and yield ":N"."""
    if not have_x11_tools():
        pytest.skip(MISSING)
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", "1", "-nolisten", "tcp", "-screen", "0", "320x200x24"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert server.stdout is not None
        number = server.stdout.readline().strip()  # written once the server accepts clients
        if not number:
            pytest.fail("Xvfb did not start")
        yield f":{number.decode()}"
    finally:
        server.terminate()  # the xclip processes serving the clipboard end with it
        server.wait(timeout=10)


def put_on_clipboard(display: str, data: bytes, mime: str | None) -> None:
    """Own the CLIPBOARD selection with `data` as `mime` (None: as text)."""
    target = ["-t", mime] if mime else []
    # xclip stays behind to serve the selection; no pipe of ours is kept open by it.
    xclip = shutil.which("xclip") or "xclip"
    subprocess.run(
        [xclip, "-selection", "clipboard", *target, "-i"],
        input=data,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={"DISPLAY": display},
        check=True,
        timeout=10,
    )
