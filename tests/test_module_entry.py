"""`python -m mmchat` runs the same command line as the `mmchat` script."""

from __future__ import annotations

import subprocess
import sys


def test_python_dash_m_mmchat_is_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mmchat", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "ask" in done.stdout and "Usage: python -m mmchat" in done.stdout
