"""The second held-out text-picture set: complete, self-consistent, and drawn the same each time.

Pillow only; nothing is downloaded and the app is not run. The pictures are drawn in DejaVu Serif,
Serif Condensed and Sans Condensed faces; where one of them is not installed the drawing tests
skip and name the Debian package, and the checks on the records still run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bench_scripts import (
    check_answerable,
    check_apart,
    check_complete,
    check_drawn_again,
    check_pictures,
    check_records,
    load,
    set_records,
)

# Questions about the picture rather than its text: their keywords need not be in its `text`.
ABOUT_THE_PICTURE = {
    ("menuboard_figtree", "What colour is the board?"),
    ("meter_milllane", "Is this a photo of a screen?"),
}
# The few wordings both held-out sets may share.
GENERIC = {"What does it say?", "Is there any text?", "What is the title?"}


def missing_faces() -> list[str]:
    module = load("textpics_heldout2")
    return [name for name in module.FACES.values() if not (module.FONT_DIR / name).is_file()]


needs_faces = pytest.mark.skipif(
    bool(missing_faces()),
    reason="DejaVu Serif/Condensed faces missing: install fonts-dejavu-core fonts-dejavu-extra",
)


def records() -> list[dict[str, Any]]:
    return load("textpics_heldout2").load_spec()


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, dict[str, Any]]]:
    if missing_faces():
        pytest.skip("DejaVu faces missing: install fonts-dejavu-core fonts-dejavu-extra")
    out = tmp_path_factory.mktemp("heldout2")
    return list(load("textpics_heldout2").generate(out))


def test_the_set_is_complete() -> None:
    check_complete(load("textpics_heldout2"))


def test_records_are_well_formed() -> None:
    check_records(records(), ABOUT_THE_PICTURE)


def test_every_text_question_is_answerable_from_its_own_text() -> None:
    check_answerable(records(), ABOUT_THE_PICTURE)


def test_it_shares_no_kind_text_or_wording_with_the_first_held_out_set() -> None:
    check_apart(set_records("textpics_heldout"), records(), GENERIC)


@needs_faces
def test_pictures_are_drawn_the_same_each_time(
    drawn: list[tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    check_drawn_again(load("textpics_heldout2"), drawn, tmp_path)


@needs_faces
def test_pictures_are_valid_images_of_sane_size(drawn: list[tuple[Path, dict[str, Any]]]) -> None:
    check_pictures(load("textpics_heldout2"), drawn)


def test_a_missing_face_names_the_debian_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    module = load("textpics_heldout2")
    module.face.cache_clear()
    monkeypatch.setattr(module, "FONT_DIR", tmp_path)
    try:
        with pytest.raises(FileNotFoundError, match="fonts-dejavu-extra"):
            module.face("cond", 20)
        with pytest.raises(FileNotFoundError, match="fonts-dejavu-core"):
            module.face("serif", 20)
    finally:
        module.face.cache_clear()
