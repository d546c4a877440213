"""Helpers for the plugin API tests (imported by name: conftest.py modules share one name)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

MMCHAT = [sys.executable, "-m", "mmchat.cli"]
FakeDist = Callable[..., Path]


def mmchat(
    *args: str, plugins: str | None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a person would; `plugins` is MMCHAT_PLUGINS (None: every plugin)."""
    env = dict(os.environ)
    env.pop("MMCHAT_PLUGINS", None)
    if plugins is not None:
        env["MMCHAT_PLUGINS"] = plugins
    return subprocess.run(
        [*MMCHAT, *args], capture_output=True, text=True, timeout=timeout, env=env
    )
