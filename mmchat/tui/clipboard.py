"""Copying text out of the TUI: OSC 52 through the terminal, and the system's clipboard tool.

OSC 52 reaches the clipboard of the machine the terminal runs on (over ssh too), but some
terminals ignore it (macOS Terminal; tmux unless `set-clipboard on`) and none says whether it
took it. The platform's own tool works where there is a desktop session; both are tried, and
the notice says which were used.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys

from textual.widget import Widget

from mmchat.text import one_line

TOOL_SECONDS = 3  # a clipboard tool that hangs (no display answering) is given up on


def clipboard_tools() -> list[list[str]]:
    """The clipboard commands that can work in this session, best first."""
    candidates: list[tuple[bool, list[str]]] = [
        (bool(os.environ.get("WAYLAND_DISPLAY")), ["wl-copy"]),
        (bool(os.environ.get("DISPLAY")), ["xclip", "-selection", "clipboard"]),
        (bool(os.environ.get("DISPLAY")), ["xsel", "--clipboard", "--input"]),
        (sys.platform == "darwin", ["pbcopy"]),
    ]
    return [argv for usable, argv in candidates if usable and shutil.which(argv[0])]


def copy_with_tool(text: str) -> tuple[str | None, str]:
    """Blocking (run it off the UI thread): (the tool that took the text, or None; why not)."""
    problem = "no clipboard tool found (wl-copy, xclip, xsel or pbcopy)"
    for argv in clipboard_tools():
        try:
            # No pipes kept open: xclip and wl-copy leave a child behind that serves the
            # clipboard, and waiting on its stdout would wait for it to end.
            subprocess.run(
                argv,
                input=text.encode("utf-8"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=TOOL_SECONDS,
                check=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            problem = f"{argv[0]} failed ({one_line(str(exc), 80)})"
            continue
        return argv[0], ""
    return None, problem


def copy_text(node: Widget, text: str, what: str) -> None:
    """Copy `text` both ways and tell the person what was copied (`what`) and how."""
    node.app.copy_to_clipboard(text)

    async def with_tool() -> None:
        tool, problem = await asyncio.to_thread(copy_with_tool, text)
        how = f"via OSC 52 and {tool}" if tool else f"via OSC 52 only: {problem}"
        node.notify(f"Copied {what} {how}", markup=False, timeout=4 if tool else 8)

    node.run_worker(with_tool(), group="clipboard", exclusive=True, exit_on_error=False)
