"""Real pictures for tests, from packages README's test command installs without their
dependencies: foolbox's 20 labelled ImageNet photos, scikit-image's cat, coffee and page."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

FOOLBOX = "foolbox==3.3.4"
SKIMAGE = "scikit-image==0.26.0"


def package_data(module: str, install: str) -> Path:
    """A package's data folder, located without importing it (foolbox imports eagerpy)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(f"{module} is missing; run: .venv/bin/pip install --no-deps {install}")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def foolbox_photo(name: str) -> Path:
    return package_data("foolbox", FOOLBOX) / name


def skimage_picture(name: str) -> Path:
    return package_data("skimage", SKIMAGE) / name
