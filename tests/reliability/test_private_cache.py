"""The test and bench cache of converted models is this user's own folder, never a shared one.

Converted models are trusted once their `.complete` marker exists, so the folder must be one
that no one else can have written to: not a link, not another user's, not writable by others.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from askkit import ask_env

from mmchat.config import ConfigError, owned_dir_problem

pytestmark = pytest.mark.reliability


def cache_for(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, chosen: Path) -> str:
    monkeypatch.delenv("MMCHAT_CACHE_DIR", raising=False)
    monkeypatch.setenv("MMCHAT_TEST_CACHE", str(chosen))
    return ask_env(tmp_path / "home")["MMCHAT_CACHE_DIR"]


def test_default_cache_is_created_private(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    chosen = tmp_path / "mine" / "cache"
    assert cache_for(monkeypatch, tmp_path, chosen) == str(chosen)
    status = chosen.stat()
    assert stat.S_IMODE(status.st_mode) == 0o700 and status.st_uid == os.getuid()
    assert owned_dir_problem(chosen) is None


def test_shared_or_foreign_cache_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # what /tmp/mmchat-shared-cache would be made by a careless user
    with pytest.raises(ConfigError, match="others may write to it"):
        cache_for(monkeypatch, tmp_path, shared)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "mine", target_is_directory=True)
    (tmp_path / "mine").mkdir(mode=0o700)
    with pytest.raises(ConfigError, match="symbolic link"):
        cache_for(monkeypatch, tmp_path, link)
    if os.getuid() == 0:  # only root can make a folder belong to someone else
        theirs = tmp_path / "theirs"
        theirs.mkdir(mode=0o700)
        os.chown(theirs, 65534, -1)
        with pytest.raises(ConfigError, match="belongs to another user"):
            cache_for(monkeypatch, tmp_path, theirs)


def test_a_cache_dir_already_chosen_is_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MMCHAT_CACHE_DIR", str(tmp_path / "explicit"))
    assert ask_env(tmp_path / "home")["MMCHAT_CACHE_DIR"] == str(tmp_path / "explicit")
