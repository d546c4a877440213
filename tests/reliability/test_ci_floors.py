"""CI's version-floor check (.ci/floors.py): a version below its floor fails, on any machine.

It needs no vulnerability service, so it checks something where pip-audit cannot.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

pytestmark = pytest.mark.reliability

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / ".ci" / "floors.py"
TABLE = tomllib.loads((REPO / ".ci" / "floors.toml").read_text())


def floors_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_floors", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_version_below_its_floor_is_a_problem() -> None:
    check = floors_module().check
    versions = {"torch": "2.5.1", "jinja2": "3.1.6", "pypdf": "7.1.1"}
    lines, problems = check(TABLE, versions.get)
    assert len(problems) == 1
    assert problems[0].startswith("torch 2.5.1 is below 2.6.0: CVE-2025-32434")
    assert "  jinja2 3.1.6 >= 3.1.6" in lines
    assert "  sentence-transformers: not installed" in lines


def test_local_build_tags_and_bad_versions() -> None:
    check = floors_module().check
    _, problems = check(TABLE, {"torch": "2.13.0+cpu", "jinja2": "3.1.5"}.get)
    assert [p.split(":")[0] for p in problems] == ["jinja2 3.1.5 is below 3.1.6"]
    _, problems = check(TABLE, {"pypdf": "not-a-version"}.get)
    assert problems == ["pypdf not-a-version: not a version that can be compared"]


def test_script_fails_ci_below_a_floor(tmp_path: Path) -> None:
    table = tmp_path / "floors.toml"
    table.write_text('[pypdf]\nminimum = "99.0"\nadvisory = "a future fix"\n')
    done = subprocess.run([sys.executable, str(SCRIPT), str(table)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "BELOW FLOOR: pypdf" in done.stderr and "a future fix" in done.stderr
    real = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert real.returncode == 0, real.stderr  # this environment meets every floor


def test_pyproject_floors_are_not_lower_than_the_table() -> None:
    requirements = []
    for project in (REPO / "pyproject.toml", *sorted((REPO / "plugins").glob("*/pyproject.toml"))):
        data = tomllib.loads(project.read_text())
        requirements += [Requirement(r) for r in data["project"]["dependencies"]]
    bounds: dict[str, Version] = {}
    for requirement in requirements:
        for spec in requirement.specifier:
            if spec.operator in (">=", "=="):
                bounds[requirement.name.lower()] = Version(spec.version)
    for package, floor in TABLE.items():
        assert package in bounds, f"{package} has no floor in any pyproject.toml"
        assert bounds[package] >= Version(floor["minimum"]), package
    assert "floors.py" in (REPO / ".ci" / "run").read_text()
