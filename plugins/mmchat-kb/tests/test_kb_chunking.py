"""Chunking: headings and pages are boundaries, paragraphs are packed, neighbours overlap."""

from __future__ import annotations

from pathlib import Path

from mmchat_kb.blocks import Block
from mmchat_kb.chunking import MAX_CHARS, chunk_blocks, embedding_text
from mmchat_kb.html_reader import read_html
from mmchat_kb.textreaders import read_markdown, read_plain


def test_markdown_headings_become_locations_and_fences_are_not_headings() -> None:
    doc = read_markdown(
        "# Guide\n\nIntro.\n\n## Install\n\n### Linux\n\nRun the script.\n\n"
        "## Use\n\n```sh\n# a comment, not a heading\nrun\n```\n\nDone.\n",
        Path("guide.md"),
    )
    assert doc.title == "Guide"
    chunks = chunk_blocks(doc.blocks)
    assert [c.location for c in chunks] == ["Guide", "Guide > Install > Linux", "Guide > Use"]
    assert "# a comment, not a heading" in chunks[2].text and "Done." in chunks[2].text


def test_long_section_splits_with_overlap_and_no_chunk_is_too_long() -> None:
    sentences = [f"Sentence number {i} says something specific." for i in range(120)]
    blocks = [Block(" ".join(sentences[i : i + 10]), heading="Long") for i in range(0, 120, 10)]
    chunks = chunk_blocks(blocks)
    assert len(chunks) > 3
    assert all(len(c.text) <= MAX_CHARS for c in chunks)
    for before, after in zip(chunks, chunks[1:], strict=False):
        start = after.text[:40]
        assert start in before.text  # the next chunk starts with the end of the previous one
    text = " ".join(c.text for c in chunks)
    assert all(s in text for s in sentences)  # nothing is lost


def test_one_giant_paragraph_without_spaces_is_cut() -> None:
    chunks = chunk_blocks([Block("x" * 5000)])
    assert sum(len(c.text) for c in chunks) >= 5000
    assert all(len(c.text) <= MAX_CHARS for c in chunks)


def test_pages_are_boundaries_and_locations() -> None:
    chunks = chunk_blocks([Block("Page one text.", page=1), Block("Page two text.", page=2)])
    assert [(c.text, c.location) for c in chunks] == [
        ("Page one text.", "page 1"),
        ("Page two text.", "page 2"),
    ]


def test_plain_text_and_csv_keep_line_numbers() -> None:
    rows = "\n".join(f"{i},item {i},{i * 3} euros" for i in range(1, 301))
    chunks = chunk_blocks(read_plain("id,name,price\n" + rows, Path("prices.csv")).blocks)
    assert chunks[0].location.startswith("lines 1-")
    last = chunks[-1]
    assert last.location.endswith("-301") and "300,item 300" in last.text
    for chunk in chunks:
        first, end = (int(n) for n in chunk.location.removeprefix("lines ").split("-"))
        assert f"{first - 1},item" in chunk.text or first == 1
        assert f"{end - 1},item" in chunk.text


def test_html_drops_scripts_and_keeps_heading_path() -> None:
    doc = read_html(
        "<title>Help &amp; FAQ</title><h1>FAQ</h1><p>Intro</p><script>alert('x')</script>"
        "<h2>Billing</h2><ul><li>Pay by card</li><li>Pay by transfer</li></ul>",
        Path("faq.html"),
    )
    assert doc.title == "Help & FAQ"
    assert [(b.heading, b.text) for b in doc.blocks] == [
        ("FAQ", "Intro"),
        ("FAQ > Billing", "Pay by card"),
        ("FAQ > Billing", "Pay by transfer"),
    ]


def test_embedding_text_names_title_and_heading() -> None:
    chunk = chunk_blocks([Block("Hold the button.", heading="Reset")])[0]
    assert embedding_text("Zorblax guide", chunk) == "Zorblax guide > Reset\n\nHold the button."
