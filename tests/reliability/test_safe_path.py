"""Child processes never import code from the folder mmchat was started in.

`python -m pkg.mod` puts the current folder first on sys.path; a `json.py` or an `mmchat/`
package in a downloaded folder would then run as the user inside the engine or parse worker.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from askkit import ask_env

pytestmark = pytest.mark.reliability

PLANTED = ("json", "mmchat", "mmchat_kb", "pip", "transformers", "torch")


def plant(folder: Path) -> Path:
    """Modules named like ones every child imports; each leaves a marker file when imported."""
    marker = folder / "planted-ran"
    code = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    (folder / "json.py").write_text(code, encoding="utf-8")
    for package in PLANTED[1:]:
        (folder / package).mkdir()
        (folder / package / "__init__.py").write_text(code, encoding="utf-8")
    return marker


def test_ask_in_a_folder_with_planted_modules_runs_none_of_them(tmp_path: Path) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    marker = plant(folder)
    # -P for mmchat itself stands for the console script, which never puts the cwd on sys.path;
    # what is tested is what mmchat's own children do.
    command = [sys.executable, "-P", "-m", "mmchat.cli", "ask", "--model", "smollm2"]
    done = subprocess.run(
        [*command, "--max-tokens", "3", "--temperature", "0", "Say hi."],
        cwd=folder,
        env=ask_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert not marker.exists(), f"planted modules ran: {marker.read_text()}"


def test_kb_parse_in_a_folder_with_planted_modules_runs_none_of_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mmchat_kb")
    from mmchat_kb.parser import Parser

    folder = tmp_path / "downloads"
    folder.mkdir()
    marker = plant(folder)
    doc = folder / "notes.md"
    doc.write_text("# Notes\n\nThe shop opens at nine.\n", encoding="utf-8")
    monkeypatch.chdir(folder)
    with Parser() as parser:
        extracted = parser.parse(doc, "markdown")
    assert "nine" in " ".join(b.text for b in extracted.blocks)
    assert not marker.exists(), f"planted modules ran: {marker.read_text()}"


def test_setup_in_a_folder_with_planted_modules_runs_none_of_them(tmp_path: Path) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    marker = plant(folder)
    # The packages are installed already: pip only checks them, then mmchat checks their files.
    done = subprocess.run(
        [sys.executable, "-P", "-m", "mmchat.cli", "setup", "--minimal"],
        cwd=folder,
        env=ask_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert not marker.exists(), f"planted modules ran: {marker.read_text()}"
