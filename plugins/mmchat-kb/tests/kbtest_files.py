"""Real PDF and .docx files for the tests, made with pypdf and python-docx."""

from __future__ import annotations

from pathlib import Path


def make_pdf(path: Path, pages: list[str], title: str = "", lines: int = 1) -> Path:
    """A real PDF with a line of Helvetica text per page ('' makes a page with no text), drawn
    `lines` times down the page."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    for text in pages:
        page = writer.add_blank_page(612, 792)
        if not text:
            continue
        stream = DecodedStreamObject()
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        shown = " ".join(f"0 -14 Td ({escaped}) Tj" for _ in range(lines))
        stream.set_data(f"BT /F1 12 Tf 72 734 Td {shown} ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
    if title:
        writer.add_metadata({"/Title": title})
    writer.write(str(path))
    return path


def make_docx(path: Path, title: str, sections: dict[str, list[str]]) -> Path:
    import docx

    document = docx.Document()
    document.add_heading(title, level=0)
    for heading, paragraphs in sections.items():
        document.add_heading(heading, level=1)
        for text in paragraphs:
            document.add_paragraph(text)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Model", "Price"
    table.cell(1, 0).text, table.cell(1, 1).text = "Zorblax 3000", "499 euros"
    document.save(str(path))
    return path
