"""The fourth held-out text-picture set: complete, self-consistent, and drawn the same each time.

Pillow only; nothing is downloaded and the app is not run. The pictures are drawn in Liberation
Sans Narrow, DejaVu Sans Mono, DejaVu Serif Condensed and DejaVu Sans ExtraLight faces; where one
of them is not installed the drawing tests skip and name the Debian packages (fonts-liberation,
fonts-dejavu-core, fonts-dejavu-extra), and the checks on the records still run.
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

SCRIPT = "textpics_heldout4"
# Questions about the picture rather than its text: their keywords need not be in its `text`.
ABOUT_THE_PICTURE = {
    ("board_waverley", "What colour is the writing on the board?"),
}
# The few wordings every held-out set may share.
GENERIC = {"What does it say?", "Is there any text?", "What is the title?"}
EARLIER_SETS = (
    "textpics",
    "textpics_heldout",
    "textpics_heldout2",
    "textpics_heldout3",
)


def missing_faces() -> list[str]:
    module = load(SCRIPT)
    return [file for file in module.FACES.values() if not (module.FONT_DIR / file).is_file()]


def missing_packages() -> str:
    module = load(SCRIPT)
    return " ".join(sorted({module.package(file) for file in missing_faces()}))


needs_faces = pytest.mark.skipif(
    bool(missing_faces()),
    reason=f"faces missing: install the Debian packages {missing_packages()}",
)


def records() -> list[dict[str, Any]]:
    return load(SCRIPT).load_spec()


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, dict[str, Any]]]:
    if missing_faces():
        pytest.skip(f"faces missing: install the Debian packages {missing_packages()}")
    out = tmp_path_factory.mktemp("heldout4")
    return list(load(SCRIPT).generate(out))


def test_the_set_is_complete() -> None:
    check_complete(load(SCRIPT))


def test_records_are_well_formed() -> None:
    check_records(records(), ABOUT_THE_PICTURE)


def test_every_text_question_is_answerable_from_its_own_text() -> None:
    check_answerable(records(), ABOUT_THE_PICTURE)


@pytest.mark.parametrize("name", EARLIER_SETS)
def test_it_shares_no_kind_text_or_wording_with_an_earlier_set(name: str) -> None:
    check_apart(set_records(name), records(), GENERIC)


def test_it_draws_in_no_face_of_the_third_set() -> None:
    third = {Path(file).name for file in load("textpics_heldout3").FACES.values()}
    fourth = {Path(file).name for file in load(SCRIPT).FACES.values()}
    assert not third & fourth


@needs_faces
def test_pictures_are_drawn_the_same_each_time(
    drawn: list[tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    check_drawn_again(load(SCRIPT), drawn, tmp_path)


@needs_faces
def test_pictures_are_valid_images_of_sane_size(drawn: list[tuple[Path, dict[str, Any]]]) -> None:
    check_pictures(load(SCRIPT), drawn)


@pytest.mark.parametrize(
    ("name", "package"),
    [
        ("narrow", "fonts-liberation"),
        ("narrow-bolditalic", "fonts-liberation"),
        ("mono", "fonts-dejavu-core"),
        ("mono-bold", "fonts-dejavu-core"),
        ("mono-oblique", "fonts-dejavu-extra"),
        ("serifcond-italic", "fonts-dejavu-extra"),
        ("light", "fonts-dejavu-extra"),
    ],
)
def test_a_missing_face_names_its_debian_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, package: str
) -> None:
    module = load(SCRIPT)
    module.face.cache_clear()
    monkeypatch.setattr(module, "FONT_DIR", tmp_path)
    try:
        with pytest.raises(FileNotFoundError, match=f"install the Debian package {package} "):
            module.face(name, 20)
    finally:
        module.face.cache_clear()
