"""Real pictures for tests, from packages README's test command installs without their
dependencies: foolbox's 20 labelled ImageNet photos, scikit-image's cat, coffee and page; and
the Debian darknet package's photos, which bench/photos.py fetches once (checked by sha256)."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
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


@cache
def darknet_photo(name: str) -> Path:
    """/usr/share/darknet/data/NAME.jpg of the darknet package (dog, giraffe, horses, ...)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from photos import PhotoSetIncomplete, photos

    try:
        got = {entry["id"]: path for path, entry in photos(strict=True, only="darknet")}
    except PhotoSetIncomplete as exc:
        pytest.fail(f"darknet's photos could not be fetched: {exc}")
    return got[f"darknet/{name}"]
