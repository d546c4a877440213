"""Hostile files are parsed in a capped subprocess: bombs, endless and cyclic PDFs, zip bombs.

Each test ingests the hostile file next to a good one: the hostile file is named with a reason,
the good one is added, and the parsing process is replaced for the files after it.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path

from kbtest_files import make_docx, make_pdf
from mmchat_kb.embed import get_embedder
from mmchat_kb.ingest import Report, add_paths
from mmchat_kb.limits import Limits
from mmchat_kb.store import KnowledgeBase
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, StreamObject

MB = 1024 * 1024


def limits(**changes: float) -> Limits:
    return Limits(**{**Limits.from_env().__dict__, **changes})


def ingest(tmp_path: Path, hostile: Path, caps: Limits) -> dict[str, str]:
    good = tmp_path / "good.md"
    good.write_text("# Opening hours\n\nThe shop opens at nine.\n", encoding="utf-8")
    with KnowledgeBase.create("hostile", "all-MiniLM-L6-v2") as kb:
        report: Report = add_paths(kb, get_embedder(), [hostile, good], limits=caps)
        assert [Path(d.path).name for d in kb.documents()] == ["good.md"]
    return {Path(o.path).name: f"{o.status}: {o.message}" for o in report.outcomes}


def flate_bomb_pdf(path: Path, inflated_bytes: int) -> Path:
    """One page whose content stream is a few hundred KB compressed and huge inflated."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    stream = StreamObject()
    stream._data = zlib.compress(b"BT /F1 12 Tf 72 720 Td (A) Tj ET\n" * (inflated_bytes // 33))
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    page[NameObject("/Contents")] = writer._add_object(stream)
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
    )
    writer.write(str(path))
    return path


def test_pdf_bomb_past_pypdf_limit(tmp_path: Path) -> None:
    bomb = flate_bomb_pdf(tmp_path / "bomb.pdf", 500 * MB)
    assert bomb.stat().st_size < 2 * MB
    seen = ingest(tmp_path, bomb, limits())
    assert seen["bomb.pdf"] == (
        "failed: page 1 decompresses past pypdf's safety limit (a PDF bomb?)"
    )
    assert seen["good.md"] == "added: "


def test_pdf_that_needs_too_much_memory_hits_the_process_cap(tmp_path: Path) -> None:
    # Under pypdf's own limit, but text extraction multiplies it: the RLIMIT_AS cap stops it.
    bomb = flate_bomb_pdf(tmp_path / "heavy.pdf", 30 * MB)
    seen = ingest(tmp_path, bomb, limits(parse_memory_bytes=200 * MB))
    assert seen["heavy.pdf"] == "failed: needs more than the 200 MB reading limit (a bomb?)"
    assert seen["good.md"] == "added: "


def test_endless_pdf_is_stopped_by_the_time_cap(tmp_path: Path) -> None:
    long = make_pdf(tmp_path / "long.pdf", [f"Page {i} of a very long file." for i in range(1500)])
    seen = ingest(tmp_path, long, limits(parse_seconds=0.3))
    assert seen["long.pdf"] == "failed: took longer than 0.3 s to read (endless or hostile file?)"
    assert seen["good.md"] == "added: "


def test_pdf_with_a_cyclic_page_tree(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    pages = writer.get_object(writer._pages)
    pages[NameObject("/Kids")] = ArrayObject([writer._pages, writer._pages])
    pages[NameObject("/Count")] = NumberObject(2)
    writer.write(str(tmp_path / "cycle.pdf"))
    seen = ingest(tmp_path, tmp_path / "cycle.pdf", limits())
    assert seen["cycle.pdf"].startswith("failed: is not a readable PDF")
    assert seen["good.md"] == "added: "


def test_docx_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "bomb.docx", "Bomb", {"A": ["text"]})
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/padding.bin", b"\0" * (40 * MB))
    assert path.stat().st_size < MB
    seen = ingest(tmp_path, path, limits(max_unzipped_bytes=20 * MB))
    assert re.fullmatch(
        r"failed: unpacks to 4\d,\d{3},\d{3} bytes in \d+ parts, over the limit \(zip bomb\?\)",
        seen["bomb.docx"],
    )
    assert seen["good.md"] == "added: "
