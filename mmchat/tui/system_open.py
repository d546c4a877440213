"""Open a local file with the desktop's own opener (xdg-open, open, Windows' file association)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


class OpenFailed(Exception):
    """The file was not opened; the message is one line for a person."""


def open_file(path: Path) -> str:
    """Hand `path` to the system opener; returns the opener's name. Does not wait for it."""
    path = path.resolve()  # absolute: a name starting with "-" is never read as an option
    if sys.platform == "win32":
        try:
            os.startfile(path)  # type: ignore[attr-defined]  # Windows only
        except OSError as exc:
            raise OpenFailed(f"cannot open {path}: {exc.strerror or exc}") from None
        return "Windows"
    tool = "open" if sys.platform == "darwin" else "xdg-open"
    exe = shutil.which(tool)
    if exe is None:
        raise OpenFailed(f"no {tool} here to open files; the file is {path}")
    try:
        subprocess.Popen(  # noqa: S603 - a fixed tool and one absolute path, no shell
            [exe, str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl+C in the TUI does not reach the viewer
        )
    except OSError as exc:
        raise OpenFailed(f"cannot run {tool}: {exc.strerror or exc}") from None
    return tool
