"""Readers through the real parsing process: formats, encodings, and files that cannot be used."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from kbtest_files import make_docx, make_pdf
from mmchat_kb.blocks import ExtractError
from mmchat_kb.extract import kind_of
from mmchat_kb.parser import Parser


@pytest.fixture(scope="module")
def parser() -> Iterator[Parser]:
    with Parser() as parser:
        yield parser


def parse(parser: Parser, path: Path) -> tuple[str, list[tuple[str, str, int]]]:
    kind = kind_of(path)
    assert kind is not None
    doc = parser.parse(path, kind)
    return doc.title, [(b.text, b.heading, b.page) for b in doc.blocks]


def test_pdf_pages_and_title(parser: Parser, tmp_path: Path) -> None:
    path = make_pdf(
        tmp_path / "m.pdf", ["Warranty: seven years.", "", "Refunds: 5 days."], "Manual"
    )
    title, blocks = parse(parser, path)
    assert title == "Manual"
    assert blocks == [("Warranty: seven years.", "", 1), ("Refunds: 5 days.", "", 3)]


def test_docx_headings_paragraphs_and_tables(parser: Parser, tmp_path: Path) -> None:
    path = make_docx(
        tmp_path / "g.docx", "Zorblax Guide", {"Warranty": ["Seven years."], "Reset": ["Hold."]}
    )
    title, blocks = parse(parser, path)
    assert title == "Zorblax Guide"
    assert ("Seven years.", "Warranty", 0) in blocks and ("Hold.", "Reset", 0) in blocks
    assert any("Zorblax 3000 | 499 euros" in text for text, _, _ in blocks)


def test_json_and_csv_are_read_as_text(parser: Parser, tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"opening_hours": "9-17"}), encoding="utf-8")
    (tmp_path / "b.csv").write_text("name,hours\nshop,9-17\n", encoding="utf-8")
    assert "opening_hours" in parse(parser, tmp_path / "a.json")[1][0][0]
    assert parse(parser, tmp_path / "b.csv")[1][0][0] == "name,hours\nshop,9-17"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Crème brûlée à côté".encode("utf-16"), "Crème brûlée à côté"),
        ("Crème brûlée à côté, déjà vu".encode("cp1252"), "Crème brûlée à côté, déjà vu"),
        ("Zażółć gęślą jaźń, polski tekst.".encode("cp1250"), "Zażółć gęślą jaźń, polski tekst."),
        ("\ufeffBOM first line".encode(), "BOM first line"),
        ("Grüße aus Köln".encode(), "Grüße aus Köln"),
    ],
)
def test_odd_encodings_are_decoded(
    parser: Parser, tmp_path: Path, data: bytes, expected: str
) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes(data)
    assert parse(parser, path)[1][0][0] == expected


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("blob.txt", bytes(range(256)) * 40, "binary"),
        ("image.md", b"\x89PNG\r\n\x1a\n" + b"\x00\x01" * 500, "binary"),
        ("blank.txt", b"   \n\n\t\n", "empty"),
        ("fake.pdf", b"this is not a pdf at all", "not a readable PDF"),
        ("fake.docx", b"PK\x03\x04 broken", "not a readable .docx"),
    ],
)
def test_unusable_files_give_a_reason(
    parser: Parser, tmp_path: Path, name: str, data: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ExtractError, match=reason):
        parse(parser, path)


def test_pdf_without_text_is_named_as_such(parser: Parser, tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "scan.pdf", ["", ""])
    with pytest.raises(ExtractError, match="no extractable text"):
        parse(parser, path)


def test_parser_goes_on_after_a_bad_file(parser: Parser, tmp_path: Path) -> None:
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 garbage")
    with pytest.raises(ExtractError):
        parse(parser, tmp_path / "bad.pdf")
    (tmp_path / "good.txt").write_text("still working", encoding="utf-8")
    assert parse(parser, tmp_path / "good.txt")[1] == [("still working", "", 0)]
