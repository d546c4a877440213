"""The held-out image benchmark's data: complete, self-consistent, and drawn the same each time.

Pillow only; nothing is downloaded (bench/photos.py's fetch is run by hand, see its docstring).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_scripts import BENCH, load, set_records
from PIL import Image


def test_prompts_are_many_distinct_and_disjoint() -> None:
    prompts = json.loads((BENCH / "data" / "heldout_prompts.json").read_text(encoding="utf-8"))
    about, other, follow = prompts["about_image"], prompts["not_about_image"], prompts["follow_ups"]
    assert len(about) >= 120 and len(other) >= 120 and len(follow) >= 30
    for group in (about, other, follow):
        assert len({p.strip().lower() for p in group}) == len(group)
    assert not {p.lower() for p in about} & {p.lower() for p in other}


def test_gate_document_messages_are_many_distinct_disjoint_and_never_trained_on() -> None:
    from mmchat.training import relevance_data

    path = BENCH / "data" / "gate_heldout_documents.json"
    messages = json.loads(path.read_text(encoding="utf-8"))
    about, other = messages["about_picture"], messages["not_about_picture"]
    assert len(about) >= 100 and len(other) >= 100
    for group in (about, other):
        assert len({m.strip().lower() for m in group}) == len(group)
        assert all(0 < len(m) < 300 for m in group)
    assert not {m.lower() for m in about} & {m.lower() for m in other}

    # None of them is a training message, in any case or punctuation; nor is any held-out
    # message one of the training messages about text pictures and their topics.
    def plain(text: str) -> str:
        return text.lower().strip().rstrip("?.!")

    trained = {plain(text) for text, _ in relevance_data.examples()}
    assert not {plain(m) for m in [*about, *other]} & trained
    prompts = json.loads((BENCH / "data" / "heldout_prompts.json").read_text(encoding="utf-8"))
    held_out = [*about, *other, *(m for group in prompts.values() for m in group)]
    for name in ("textpics_heldout", "textpics_heldout2", "textpics_heldout3", "textpics_heldout4"):
        held_out += [q["q"] for r in set_records(name) for q in r["questions"]]
    added = [*relevance_data.ABOUT_TEXT_PICTURE, *relevance_data.NOT_ABOUT_TEXT_TOPICS]
    assert not {plain(m) for m in held_out} & {plain(m) for m in added}


def test_keyword_rule() -> None:
    keywords = load("keywords")
    assert keywords.found("Two horses and a Bus.", ["horse", "bus", "two"]) == [
        "horse",
        "bus",
        "two",
    ]
    assert keywords.found("a carrot", ["car"]) == []
    assert keywords.found("20 birds", ["2"]) == []
    assert keywords.passes("I can\u2019t make it out", ["can't"])
    assert not keywords.passes("PLATFORM only", ["platform", "brighton"], need=2)


def test_photo_entries_are_pinned_and_their_captions_name_them() -> None:
    keywords = load("keywords")
    spec = load("photos").load_spec()
    assert len(spec["photos"]) >= 50
    for source in spec["sources"].values():
        assert source["version"] and len(source["sha256"]) == 64
    for entry in spec["photos"]:
        assert entry["source"] in spec["sources"]
        assert entry["kind"] in {"animal", "vehicle", "food", "object", "person", "scene"}
        assert entry["keywords"] and len(entry["sha256"]) == 64
        # The caption was written from the photo; it must pass the photo's own grading.
        assert keywords.passes(entry["caption"], entry["keywords"]), entry["id"]


def test_text_pictures_are_drawn_the_same_and_their_text_passes_its_questions(
    tmp_path: Path,
) -> None:
    textpics, keywords = load("textpics"), load("keywords")
    first = textpics.generate(tmp_path / "a")
    second = textpics.generate(tmp_path / "b")
    assert {r["kind"] for _, r in first} == {"scan", "screenshot", "sign", "document"}
    for (path, record), (again, _) in zip(first, second, strict=True):
        assert path.read_bytes() == again.read_bytes(), record["id"]
        with Image.open(path) as picture:
            assert min(picture.size) >= 300
        title, text = record["questions"][0], record["questions"][1]
        assert keywords.passes(record["title"], title["keywords"], title["need"])
        assert keywords.passes(record["text"], text["keywords"], text["need"])
        assert record["text"].splitlines()[0] == record["title"]


def test_held_out_text_pictures_are_drawn_the_same_and_their_text_answers_them(
    tmp_path: Path,
) -> None:
    """The held-out set (another typeface and layouts): reproducible, and each whole-text
    question is answerable from its picture's own text, so a miss is the reader's."""
    heldout, keywords = load("textpics_heldout"), load("keywords")
    first = list(heldout.generate(tmp_path / "a"))
    second = list(heldout.generate(tmp_path / "b"))
    assert len(first) == 10 and sum(len(r["questions"]) for _, r in first) >= 45
    seen = {r["title"] for _, r in load("textpics").generate(tmp_path / "tuned")}
    for (path, record), (again, _) in zip(first, second, strict=True):
        assert path.read_bytes() == again.read_bytes(), record["id"]
        assert record["title"] not in seen
        said = next(q for q in record["questions"] if q["q"] == "What does it say?")
        assert keywords.passes(record["text"], said["keywords"], said["need"]), record["id"]


@pytest.fixture(scope="module")
def bad_pictures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("badpics")
    return {r["id"]: p for p, r in load("badpics").generate(out, huge=False)}


@pytest.mark.parametrize(
    ("name", "mode", "size"),
    [
        ("tiny_1x1", "RGB", (1, 1)),
        ("tiny_8x8", "RGB", (8, 8)),
        ("grey16_circle", "I;16", (300, 300)),
        ("cmyk_circle", "CMYK", (300, 300)),
        ("rgba_transparent", "RGBA", (400, 400)),
        ("animated_gif", "P", (300, 300)),
    ],
)
def test_bad_pictures_have_the_declared_form(
    bad_pictures: dict[str, Path], name: str, mode: str, size: tuple[int, int]
) -> None:
    with Image.open(bad_pictures[name]) as picture:
        assert (picture.mode, picture.size) == (mode, size)
