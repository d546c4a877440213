"""`history export -o FILE`: a new file only (unless --force), never through a symlink, 0600."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mmchat.store import Store

pytestmark = pytest.mark.reliability


def export(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MMCHAT_HOME=str(home))
    env.pop("MMCHAT_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "mmchat.cli", "history", "export", "1", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    with Store(home / "data" / "mmchat.db") as store:
        conv = store.create_conversation(title="Secrets")
        store.add_message(conv.id, "user", "my private question")
    return home


def test_new_file_is_written_0600_under_umask_022(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.md"
    old = os.umask(0o022)
    try:
        done = export(home, "-o", str(out))
    finally:
        os.umask(old)
    assert done.returncode == 0, done.stderr
    assert "my private question" in out.read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_existing_file_is_refused_unless_forced(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "notes.md"
    out.write_text("my own notes\n")
    os.chmod(out, 0o644)
    done = export(home, "-o", str(out))
    assert done.returncode == 2
    assert "exists" in done.stderr and "--force" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert out.read_text() == "my own notes\n"  # nothing lost
    forced = export(home, "-o", str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "my private question" in out.read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


@pytest.mark.parametrize("force", [False, True])
def test_symlink_is_never_followed(home: Path, tmp_path: Path, force: bool) -> None:
    target = tmp_path / "victim"
    target.write_text("precious\n")
    link = tmp_path / "out.md"
    link.symlink_to(target)
    dangling = tmp_path / "dangling.md"
    dangling.symlink_to(tmp_path / "created-through-link")
    for path in (link, dangling):
        done = export(home, "-o", str(path), *(["--force"] if force else []))
        assert done.returncode == 2, done.stderr
        assert "symbolic link" in done.stderr or "exists" in done.stderr
    assert target.read_text() == "precious\n"
    assert not (tmp_path / "created-through-link").exists()
    assert link.is_symlink() and dangling.is_symlink()
