"""A fresh install under umask 022 keeps conversations private."""

from __future__ import annotations

from pathlib import Path

import pytest
from faultkit import permissions

pytestmark = pytest.mark.reliability


def test_fresh_install_is_private_under_umask_022(tmp_path: Path) -> None:
    modes = permissions(tmp_path / "home")
    assert modes["data"] == "0o700"
    # Read while the store is open: SQLite's -wal and -shm copy the database file's mode.
    assert modes["mmchat.db"] == modes["mmchat.db-wal"] == modes["mmchat.db-shm"] == "0o600"
    assert modes["engine.log"] == "0o600"  # tracebacks can quote prompts
    # Nothing writes settings yet; whatever does must keep the config dir private.
    assert modes.get("config", "0o700") == "0o700"
    assert modes["config files open to others"] == "0"
