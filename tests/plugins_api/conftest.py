"""Fixtures for the plugin API tests: real distributions on sys.path, a private plugins folder.

Every test names the plugins it loads (MMCHAT_PLUGINS or allow=), so what else happens to be
installed never changes a result. The example plugin in example-plugin/ is a real installed
distribution (pip install -e tests/plugins_api/example-plugin), not a stand-in.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from plugins_api_helpers import FakeDist


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDist]:
    """Install a tiny distribution by writing its .dist-info onto sys.path, as pip would."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def make(
        name: str, entry_points: dict[str, str], modules: dict[str, str], version: str = "1.0"
    ) -> Path:
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = "".join(f"{key} = {value}\n" for key, value in entry_points.items())
        (info / "entry_points.txt").write_text(f"[mmchat]\n{lines}")
        for module, source in modules.items():
            (site / f"{module}.py").write_text(source)
        importlib.invalidate_caches()
        return site

    yield make
    for module in list(sys.modules):
        if (getattr(sys.modules[module], "__file__", None) or "").startswith(str(site)):
            del sys.modules[module]


@pytest.fixture
def local_plugins(isolated_home: Path) -> Path:
    """The config dir's plugins folder, private (0700) as mmchat requires."""
    folder = isolated_home / "config" / "plugins"
    folder.mkdir(parents=True, mode=0o700)
    folder.chmod(0o700)
    return folder
