"""bench/ is a folder of scripts, not a package: tests load a script by its path."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from PIL import Image

BENCH = Path(__file__).resolve().parent.parent / "bench"


def load(name: str) -> ModuleType:
    """bench/`name`.py as a module (once per test process)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


Record = dict[str, Any]


def set_records(name: str) -> list[Record]:
    """The pictures of a text-picture set as bench/data/`name`.json records them."""
    path = BENCH / "data" / f"{name}.json"
    pictures: list[Record] = json.loads(path.read_text(encoding="utf-8"))["pictures"]
    return pictures


def check_records(records: list[Record], about_the_picture: set[tuple[str, str]]) -> None:
    """A held-out text-picture set's records are well formed: a title and lines that make its
    `text`, 4-6 distinct questions with lowercase keywords and a `need` they can meet, a
    whole-text question per picture, and each question about the picture itself listed."""
    picture_questions = 0
    for record in records:
        rid = record["id"]
        assert record["title"].strip(), rid
        assert all(line.strip() for line in record["lines"]), rid
        assert record["text"] == "\n".join([record["title"], *record["lines"]]), rid
        questions = record["questions"]
        assert 4 <= len(questions) <= 6, rid
        assert len({q["q"] for q in questions}) == len(questions), rid
        for question in questions:
            assert set(question) == {"q", "keywords", "need"}, (rid, question)
            words = question["keywords"]
            assert words and len(set(words)) == len(words), (rid, question["q"])
            assert all(w == w.lower() and w == w.strip() and w for w in words), (rid, words)
            assert 1 <= question["need"] <= len(words), (rid, question["q"])
        # Each picture has a whole-text question: many keywords, about half of them needed.
        whole = [q for q in questions if len(q["keywords"]) >= 6]
        assert whole, rid
        for question in whole:
            n = len(question["keywords"])
            assert n - 1 <= 2 * question["need"] <= n + 1, (rid, question["q"])
        about = [q for q in questions if (rid, q["q"]) in about_the_picture]
        assert len(about) <= 1, rid
        picture_questions += len(about)
    assert picture_questions == len(about_the_picture)  # each listed question exists


def check_answerable(records: list[Record], about_the_picture: set[tuple[str, str]]) -> None:
    """A correct reading of each picture passes each question about its text, so a miss is the
    reader's; and every keyword of a whole-text question is printed in the picture."""
    keywords = load("keywords")
    for record in records:
        text = record["text"]
        for question in record["questions"]:
            if (record["id"], question["q"]) in about_the_picture:
                continue
            words, need = question["keywords"], question["need"]
            assert keywords.passes(text, words, need), (record["id"], question["q"])
            if len(words) >= 6:
                assert keywords.found(text, words) == words, (record["id"], question["q"])


def check_complete(module: ModuleType) -> None:
    """A held-out set script's records: 12 pictures of 12 kinds it draws, 50-65 questions,
    some kinds photographed and some screens or scans."""
    spec = json.loads(module.SPEC.read_text(encoding="utf-8"))
    assert spec["about"].strip()
    pictures = spec["pictures"]
    assert len(pictures) == 12
    assert 50 <= sum(len(r["questions"]) for r in pictures) <= 65
    ids = [r["id"] for r in pictures]
    assert len(set(ids)) == len(ids)
    kinds = [r["kind"] for r in pictures]
    assert len(set(kinds)) == len(kinds) and set(kinds) == set(module.DRAW)
    assert module.PHOTO_LIKE < set(kinds)  # some photographed, some screens or scans


def check_apart(earlier: list[Record], later: list[Record], generic: set[str]) -> None:
    """A later held-out set shares no kind, id, text line or question wording (but the
    `generic` few) with an earlier one."""
    assert not {r["kind"] for r in earlier} & {r["kind"] for r in later}
    assert not {r["id"] for r in earlier} & {r["id"] for r in later}
    seen_lines = {line.strip().lower() for r in earlier for line in r["text"].splitlines()}
    for record in later:
        for line in record["text"].splitlines():
            assert line.strip().lower() not in seen_lines, (record["id"], line)
    asked = {q["q"] for r in earlier for q in r["questions"]} - generic
    assert not asked & {q["q"] for r in later for q in r["questions"]}


def check_drawn_again(module: ModuleType, drawn: list[tuple[Path, Record]], folder: Path) -> None:
    """A set script draws the same files, byte for byte, a second time (into `folder`)."""
    again = list(module.generate(folder))
    assert [p.name for p, _ in drawn] == [p.name for p, _ in again]
    for (path, record), (other, _) in zip(drawn, again, strict=True):
        assert path.read_bytes() == other.read_bytes(), record["id"]


def check_pictures(module: ModuleType, drawn: list[tuple[Path, Record]]) -> None:
    """A set's drawn pictures: one per record in order, JPEG for the photographed kinds and PNG
    for the rest, RGB, of the record's size (300-2000 px a side), and not blank."""
    assert [r["id"] for _, r in drawn] == [r["id"] for r in module.load_spec()]
    for path, record in drawn:
        photo = record["kind"] in module.PHOTO_LIKE
        assert path.suffix == (".jpg" if photo else ".png"), record["id"]
        with Image.open(path) as picture:
            picture.load()
            assert picture.format == ("JPEG" if photo else "PNG"), record["id"]
            assert picture.mode == "RGB", record["id"]
            assert list(picture.size) == record["render"]["size"], record["id"]
            assert 300 <= min(picture.size) and max(picture.size) <= 2000, record["id"]
            levels = [v for v, n in enumerate(picture.convert("L").histogram()) if n]
            assert levels[-1] - levels[0] >= 120, record["id"]  # not blank: there is ink on it
