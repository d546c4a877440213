"""The third held-out text-picture set: complete, self-consistent, and drawn the same each time.

Pillow only; nothing is downloaded and the app is not run. The pictures are drawn in Liberation
Sans, Serif and Mono faces; where one of them is not installed the drawing tests skip and name
the Debian package (fonts-liberation), and the checks on the records still run.
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

SCRIPT = "textpics_heldout3"
# Questions about the picture rather than its text: their keywords need not be in its `text`.
ABOUT_THE_PICTURE = {
    ("lockscreen_tomasz", "What kind of device is this from?"),
    ("streetsign_chandos", "What is the wall made of?"),
}
# The few wordings every held-out set may share.
GENERIC = {"What does it say?", "Is there any text?", "What is the title?"}
EARLIER_SETS = ("textpics_heldout", "textpics_heldout2")


def missing_faces() -> list[str]:
    module = load(SCRIPT)
    return [name for name in module.FACES.values() if not (module.FONT_DIR / name).is_file()]


needs_faces = pytest.mark.skipif(
    bool(missing_faces()),
    reason="Liberation Sans/Serif/Mono faces missing: install the Debian package fonts-liberation",
)


def records() -> list[dict[str, Any]]:
    return load(SCRIPT).load_spec()


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, dict[str, Any]]]:
    if missing_faces():
        pytest.skip("Liberation faces missing: install the Debian package fonts-liberation")
    out = tmp_path_factory.mktemp("heldout3")
    return list(load(SCRIPT).generate(out))


def test_the_set_is_complete() -> None:
    check_complete(load(SCRIPT))


def test_records_are_well_formed() -> None:
    check_records(records(), ABOUT_THE_PICTURE)


def test_every_text_question_is_answerable_from_its_own_text() -> None:
    check_answerable(records(), ABOUT_THE_PICTURE)


@pytest.mark.parametrize("name", EARLIER_SETS)
def test_it_shares_no_kind_text_or_wording_with_an_earlier_held_out_set(name: str) -> None:
    check_apart(set_records(name), records(), GENERIC)


@needs_faces
def test_pictures_are_drawn_the_same_each_time(
    drawn: list[tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    check_drawn_again(load(SCRIPT), drawn, tmp_path)


@needs_faces
def test_pictures_are_valid_images_of_sane_size(drawn: list[tuple[Path, dict[str, Any]]]) -> None:
    check_pictures(load(SCRIPT), drawn)


def test_a_missing_face_names_the_debian_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    module = load(SCRIPT)
    module.face.cache_clear()
    monkeypatch.setattr(module, "FONT_DIR", tmp_path)
    try:
        for name in ("sans", "serif-italic", "mono-bold"):
            with pytest.raises(FileNotFoundError, match="fonts-liberation"):
                module.face(name, 20)
    finally:
        module.face.cache_clear()
