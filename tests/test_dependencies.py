"""pyproject.toml's runtime dependencies are what mmchat/ imports, no more and no less."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

# Needed at run time though mmchat/ never imports them, each for the reason given.
INDIRECT = {
    "jinja2": "its floor: transformers renders chat templates in its sandbox",
    "accelerate": "transformers needs it for device_map",
    "gguf": "transformers reads GGUF files with it",
    "onnxruntime": "rapidocr-onnxruntime runs its models with it",
    "pyclipper": "rapidocr-onnxruntime imports it",
    "shapely": "rapidocr-onnxruntime imports it",
    "pyyaml": "rapidocr-onnxruntime imports it",
}
# Imported by mmchat/ but installed another way, each for the reason given.
ELSEWHERE = {
    "rapidocr-onnxruntime": "`mmchat setup` installs it --no-deps (it declares opencv-python)",
    "bitsandbytes": "the cuda extra",
}


def imported_modules() -> dict[str, tuple[set[str], str]]:
    """Third-party top-level module imported by mmchat/ -> (the installed distributions that
    provide it, one file that imports it)."""
    providers = packages_distributions()
    found: dict[str, tuple[set[str], str]] = {}
    for path in sorted((REPO / "mmchat").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ("__future__", "mmchat"):
                    continue
                dists = {canonicalize_name(d) for d in providers.get(top, [top])}
                found.setdefault(top, (dists, str(path.relative_to(REPO))))
    return found


def declared() -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in PROJECT["dependencies"]}


def test_every_third_party_import_of_mmchat_is_a_declared_dependency() -> None:
    allowed = declared() | set(ELSEWHERE)
    missing = {
        module: where
        for module, (dists, where) in imported_modules().items()
        if not dists & allowed
    }
    assert not missing, f"imported but not in [project.dependencies]: {missing}"


def test_every_runtime_dependency_is_imported_or_needed_for_a_stated_reason() -> None:
    imported = set().union(*(dists for dists, _ in imported_modules().values()))
    unused = declared() - imported - set(INDIRECT)
    assert not unused, f"in [project.dependencies] but never imported by mmchat/: {unused}"


def test_test_only_packages_stay_in_the_test_extra() -> None:
    extra = PROJECT["optional-dependencies"]["test"]
    test_only = {canonicalize_name(Requirement(r).name) for r in extra}
    assert "psutil" in test_only and "psutil" not in declared()
