"""Export round trips: Markdown with its images beside it, JSON, self-contained HTML, the CLI."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image
from typer.testing import CliRunner

from mmchat.cli import app
from mmchat.config import default_db_path
from mmchat.export import ExportError, render, write_export
from mmchat.images import read_image_file
from mmchat.store import Store

CITES = [
    {"n": 1, "source": "/docs/manual.pdf", "title": "Manual", "location": "page 4"},
    {"n": 2, "source": "/docs/notes.md", "title": "", "location": "Setup"},
]


def _png(path: Path, colour: tuple[int, int, int]) -> Path:
    Image.new("RGB", (20, 12), colour).save(path)
    return path


@pytest.fixture
def store(isolated_home: Path) -> Store:
    return Store(default_db_path())


@pytest.fixture
def conv(store: Store, tmp_path: Path) -> int:
    red = read_image_file(_png(tmp_path / "red square.png", (200, 20, 20)))
    blue = read_image_file(_png(tmp_path / "blue.png", (20, 20, 200)))
    c = store.create_conversation(title="Colours <b>& docs</b>", model="scripted")
    store.add_message(c.id, "user", "What are these? <b>bold</b>", images=[red, blue])
    store.add_message(
        c.id,
        "assistant",
        "Red and blue [1], see also [2].\n```\nx[1]\n```",
        meta={"citations": CITES},
    )
    return c.id


def _blob_hashes(store: Store, conv: int) -> list[str]:
    return [a.sha256 for m in store.messages(conv) for a in m.attachments]


def test_markdown_saves_images_beside_it_with_links_that_resolve(store, conv, tmp_path) -> None:
    out = tmp_path / "out" / "chat.md"
    out.parent.mkdir()
    write_export(store, conv, out)
    text = out.read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) == 2
    saved = [out.parent / unquote(link) for link in links]
    assert all(p.is_file() and p.parent == out.parent / "chat_files" for p in saved)
    hashes = [hashlib.sha256(p.read_bytes()).hexdigest() for p in saved]
    assert hashes == _blob_hashes(store, conv)  # the stored bytes, in message order
    assert Image.open(saved[0]).getpixel((0, 0)) == (200, 20, 20)
    assert out.stat().st_mode & 0o777 == 0o600 and saved[0].stat().st_mode & 0o777 == 0o600
    # citations become footnotes; the [1] inside the code block is left alone
    assert re.search(r"Red and blue \[\^m\d+-1\], see also \[\^m\d+-2\]\.", text)
    assert "x[1]" in text
    assert re.search(r"^\[\^m\d+-1\]: Manual, page 4 \(/docs/manual.pdf\)$", text, re.M)
    assert re.search(r"^\[\^m\d+-2\]: notes.md, Setup \(/docs/notes.md\)$", text, re.M)


def test_html_is_one_file_with_images_inlined_and_text_escaped(store, conv, tmp_path) -> None:
    out = tmp_path / "chat.html"
    write_export(store, conv, out)
    text = out.read_text()
    assert "<script" not in text.lower()
    assert "<b>" not in text and "&lt;b&gt;bold&lt;/b&gt;" in text
    assert "Colours &lt;b&gt;&amp; docs&lt;/b&gt;" in text
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert [hashlib.sha256(base64.b64decode(u)).hexdigest() for u in uris] == _blob_hashes(
        store, conv
    )
    Image.open(io.BytesIO(base64.b64decode(uris[1]))).verify()
    assert re.search(r'href="#m\d+-c1">\[1\]</a>', text) and "Manual, page 4" in text
    assert not (tmp_path / "chat_files").exists()  # nothing beside it


def test_json_lists_messages_attachments_and_citations(store, conv, tmp_path) -> None:
    out = tmp_path / "chat.json"
    write_export(store, conv, out)
    data = json.loads(out.read_text())
    assert data["title"] == "Colours <b>& docs</b>"
    user, answer = data["messages"]
    assert (user["role"], answer["role"]) == ("user", "assistant")
    assert [a["name"] for a in user["attachments"]] == ["red square.png", "blue.png"]
    assert [a["sha256"] for a in user["attachments"]] == _blob_hashes(store, conv)
    assert answer["citations"] == CITES
    assert user["created"].startswith(data["created"][:4]) and user["created_at"] > 0


def test_existing_files_folders_and_unknown_names_are_refused(store, conv, tmp_path) -> None:
    existing = tmp_path / "chat.md"
    existing.write_text("keep me")
    with pytest.raises(ExportError, match="exists"):
        write_export(store, conv, existing)
    assert existing.read_text() == "keep me" and not (tmp_path / "chat_files").exists()
    write_export(store, conv, existing, force=True)
    assert existing.read_text().startswith("# Colours")
    folder = tmp_path / "dir.json"
    folder.mkdir()
    with pytest.raises(ExportError, match="is a folder"):
        write_export(store, conv, folder)
    with pytest.raises(ExportError, match=r"\.md, \.json or \.html"):
        write_export(store, conv, tmp_path / "chat.txt")
    with pytest.raises(ExportError, match="no folder"):
        write_export(store, conv, tmp_path / "missing" / "chat.md")
    (tmp_path / "target.html").write_text("victim")
    (tmp_path / "link.html").symlink_to(tmp_path / "target.html")
    with pytest.raises(ExportError, match="symbolic link"):
        write_export(store, conv, tmp_path / "link.html", force=True)
    assert (tmp_path / "target.html").read_text() == "victim"


def test_unwritable_folder_is_a_one_line_error(store, conv, tmp_path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    # root writes anywhere it has a mode for; /proc takes no new files from anyone
    target = Path("/proc/chat.md") if os.geteuid() == 0 else locked / "chat.md"
    try:
        with pytest.raises(ExportError, match="cannot write") as caught:
            write_export(store, conv, target)
        assert "\n" not in str(caught.value)
    finally:
        locked.chmod(0o700)


def test_cli_export_formats(store, conv, tmp_path) -> None:
    store.close()
    runner = CliRunner()
    html = runner.invoke(app, ["history", "export", str(conv), "--format", "html"])
    assert html.exit_code == 0 and html.stdout.startswith("<!DOCTYPE html>")
    md_out = tmp_path / "c.md"
    done = runner.invoke(app, ["history", "export", str(conv), "-o", str(md_out)])
    assert done.exit_code == 0, done.output
    assert len(list((tmp_path / "c_files").iterdir())) == 2
    again = runner.invoke(app, ["history", "export", str(conv), "-o", str(md_out)])
    assert again.exit_code == 2 and "exists; pass --force" in again.output
    json_out = tmp_path / "c.json"
    assert runner.invoke(app, ["export", str(conv), "-o", str(json_out)]).exit_code == 0
    assert len(json.loads(json_out.read_text())["messages"]) == 2
    bad = runner.invoke(app, ["history", "export", str(conv), "--format", "pdf"])
    assert bad.exit_code == 2 and "use md, json or html" in bad.output


def test_malformed_citations_from_a_plugin_are_skipped(store, tmp_path) -> None:
    c = store.create_conversation(title="plugin")
    junk = [{"n": "1", "source": 3}, "text", {"n": 2, "source": "/kb/a.md", "title": "A"}]
    store.add_message(c.id, "assistant", "See [1] and [2].", meta={"citations": junk})
    text = render(store, c.id, "md").text
    assert "See [1] and [^" in text and "]: A (/kb/a.md)" in text
    html = render(store, c.id, "html").text
    assert html.count("<li ") == 1
    assert json.loads(render(store, c.id, "json").text)["messages"][0]["citations"] == [junk[2]]


def test_terminal_markdown_links_images_by_hash(store, conv) -> None:
    text = render(store, conv, "md").text
    assert all(f"(sha256:{h})" in text for h in _blob_hashes(store, conv))


def test_tool_calls_are_exported_before_the_answer_they_fed(store, tmp_path) -> None:
    c = store.create_conversation(title="tools")
    store.add_message(c.id, "user", "What is 2 + 3? And read notes.md.")
    calls = [
        {"name": "calc.add", "arguments": {"a": 2, "b": 3}, "result": "5", "status": "ok"},
        # A result that tries to end the Markdown fence and to inject HTML.
        {
            "name": "files.read",
            "arguments": {},
            "result": "```\n<script>x</script>",
            "status": "ok",
        },
    ]
    store.add_message(c.id, "assistant", "It is 5.", meta={"tool_calls": calls})
    md = render(store, c.id, "md").text
    fence = re.search(r"^(`{3,})text$", md, re.M)
    assert fence is not None and len(fence.group(1)) > 3  # longer than the result's ```
    block = md[fence.end() : md.index("\n" + fence.group(1) + "\n", fence.end())]
    assert 'tool calc.add {"a": 2, "b": 3}' in block and "→ 5" in block
    assert "<script>" in block  # kept as written, inside the code block
    assert md.index(block) < md.index("It is 5.")
    html = render(store, c.id, "html").text
    assert "tool calc.add" in html and "<script>x" not in html and "&lt;script&gt;" in html
    assert html.index("calc.add") < html.index("It is 5.")
