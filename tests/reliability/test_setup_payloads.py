"""`mmchat setup` installs wheels only, and checks every payload's sha256 after installing.

A tampered copy of a package (here: one found first on PYTHONPATH, as a hijacked or damaged
install would be) fails setup with one line naming the file. A source package, whose build
code runs at install time, is refused.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from mmchat.commands.setup import pip_command

pytestmark = pytest.mark.reliability


def setup(home: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mmchat.cli", "setup"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MMCHAT_HOME": str(home), **env},
    )


def test_setup_refuses_a_tampered_payload(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    data = shadow / "easy_vqa" / "data"
    data.mkdir(parents=True)
    (shadow / "easy_vqa" / "__init__.py").write_text("")
    (data / "answers.txt").write_text("yes\nno\n")  # not the published data
    done = setup(tmp_path / "home", {"PYTHONPATH": str(shadow)})
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "does not match the published easy-vqa 1.0" in done.stderr
    assert str(data) in done.stderr


def test_setup_checks_every_payload_of_a_good_install(tmp_path: Path) -> None:
    from mmchat.commands.setup import PACKAGES
    from mmchat.engine.assets import PAYLOADS

    names = [name.split("==")[0] for name in PACKAGES]
    assert set(names) == set(PAYLOADS), "every package setup installs has its payloads listed"
    done = setup(tmp_path / "home", {})
    assert done.returncode == 0, done.stderr
    expected = sum(len(PAYLOADS[name]) for name in names)
    assert expected >= 8 and f"Checked {expected} payloads by sha256" in done.stdout


def source_package(folder: Path, marker: Path) -> None:
    """An sdist whose setup.py writes `marker`: what a hijacked release could run."""
    root = folder / "build" / "evil-sdist-1.0"
    root.mkdir(parents=True)
    (root / "setup.py").write_text(
        f"open({str(marker)!r}, 'w').write('build code ran')\n"
        "from setuptools import setup\nsetup(name='evil-sdist', version='1.0')\n"
    )
    (root / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: evil-sdist\nVersion: 1.0\n")
    with tarfile.open(folder / "evil-sdist-1.0.tar.gz", "w:gz") as tar:
        tar.add(root, arcname="evil-sdist-1.0")


def test_setup_installs_no_source_package(tmp_path: Path) -> None:
    pytest.importorskip("setuptools")
    marker = tmp_path / "built"
    source_package(tmp_path, marker)
    env = {
        **os.environ,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(tmp_path),
        "PIP_NO_BUILD_ISOLATION": "0",  # pip's inverted spelling: use the installed setuptools
        "PIP_TARGET": str(tmp_path / "target"),
    }
    done = subprocess.run(
        pip_command(["evil-sdist==1.0"]), capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode != 0
    assert not marker.exists()
