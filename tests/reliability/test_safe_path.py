"""Child processes never import code from the folder mmchat was started in.

`python -m pkg.mod` puts the current folder first on sys.path; a `json.py` or an `mmchat/`
package in a downloaded folder would then run as the user inside the engine or parse worker.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from trustkit import planted_parse, run_planted

pytestmark = pytest.mark.reliability


def test_ask_in_a_folder_with_planted_modules_runs_none_of_them(tmp_path: Path) -> None:
    args = ["ask", "--model", "smollm2", "--max-tokens", "3", "--temperature", "0", "Say hi."]
    done = run_planted(tmp_path, "ask", args)
    assert done["exit"] == 0, done["stderr"]
    assert done["stdout"].strip()
    assert not done["ran"], f"planted modules ran: {done['ran']}"


def test_kb_parse_in_a_folder_with_planted_modules_runs_none_of_them(tmp_path: Path) -> None:
    pytest.importorskip("mmchat_kb")
    done = planted_parse(tmp_path)
    assert "nine" in done["text"]
    assert not done["ran"], f"planted modules ran: {done['ran']}"


def test_setup_in_a_folder_with_planted_modules_runs_none_of_them(tmp_path: Path) -> None:
    # The packages are installed already: pip only checks them, then mmchat checks their files.
    done = run_planted(tmp_path, "setup", ["setup", "--minimal"])
    assert done["exit"] == 0, done["stderr"]
    assert not done["ran"], f"planted modules ran: {done['ran']}"
