"""A conversation as Markdown (images in a folder beside it), JSON, or one self-contained HTML file.

Rendering reads the store and returns text plus the files that go beside it; `write_export`
puts them on disk with `safe_write`'s rules (new 0600 files, never through a symbolic link).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from mmchat.branch_tree import Branches, other_versions
from mmchat.safe_write import WriteRefused, write_private
from mmchat.store import Attachment, Message, Store
from mmchat.text import json_for_terminal, one_line, strip_control
from mmchat.tools.output import transcript_lines

Format = Literal["md", "json", "html"]
FORMATS: tuple[Format, ...] = ("md", "json", "html")
_SUFFIXES: dict[str, Format] = {
    ".md": "md",
    ".markdown": "md",
    ".json": "json",
    ".html": "html",
    ".htm": "html",
}
# Only these become data: URIs in HTML; anything else is named, not inlined.
_INLINE_MIME = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"}
_EXTENSION = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
    "image/tiff": ".tif",
}
_MARKER = re.compile(r"\[(\d{1,3})\]")
_FENCE = re.compile(r"^\s*(```|~~~)")


class ExportError(Exception):
    """Nothing was written; the message is one line for a person."""


@dataclass
class Exported:
    text: str
    files: dict[str, bytes] = field(default_factory=dict)  # path relative to the main file


def citations(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """A message's citations that have a number and a source; a plugin's reply sets its own
    meta, so anything else there is skipped rather than trusted."""
    found = meta.get("citations")
    if not isinstance(found, list):
        return []
    return [
        c
        for c in found
        if isinstance(c, dict)
        and isinstance(c.get("n"), int)
        and not isinstance(c.get("n"), bool)
        and isinstance(c.get("source"), str)
    ]


def suffix_format(path: Path) -> Format | None:
    """The format a file name's extension names, if any."""
    return _SUFFIXES.get(path.suffix.lower())


def format_for(path: Path) -> Format:
    """The format a file name asks for, from its extension."""
    fmt = suffix_format(path)
    if fmt is None:
        raise ExportError(f"{path.name}: end the name with .md, .json or .html")
    return fmt


def assets_folder(path: Path) -> Path:
    """Where a Markdown export's images go: `chat.md` -> `chat_files/` beside it."""
    return path.with_name(f"{path.stem}_files")


def in_the_way(path: Path) -> list[Path]:
    """What an export to `path` would replace: the file, and Markdown's images folder."""
    found = [path] if path.exists() or path.is_symlink() else []
    folder = assets_folder(path)
    if suffix_format(path) == "md" and (folder.exists() or folder.is_symlink()):
        found.append(folder)
    return found


def render(store: Store, conversation: int, fmt: Format, assets: str | None = None) -> Exported:
    """`assets`: the folder name (relative) for Markdown's images; None links them by sha256."""
    if fmt == "json":
        return Exported(to_json(store, conversation))
    if fmt == "html":
        return Exported(to_html(store, conversation))
    return to_markdown(store, conversation, assets)


# -- Markdown -------------------------------------------------------------------------------------


def to_markdown(store: Store, conversation: int, assets: str | None = None) -> Exported:
    conv = store.conversation(conversation)
    out = Exported("")
    lines = [f"# {strip_control(conv.title or 'Conversation')} ({conv.id})", ""]
    lines.append(
        f"*model: {one_line(conv.model or '?')} · persona: {one_line(conv.persona or '?')}*"
    )
    tree = Branches.of(store, conversation)
    for position, message in enumerate(tree.shown, 1):
        note = ""
        if others := tree.others_of(message):
            note = f"Message {position}: {other_versions(message, others)}, under Other versions"
        lines += _md_message(store, message, assets, out.files, "##", note)
    if tree.threads:
        lines += ["", "## Other versions"]
    for thread in tree.threads:
        lines += ["", f"### {tree.heading(thread)}"]
        for message in thread:
            lines += _md_message(store, message, assets, out.files, "####")
    out.text = "\n".join(lines) + "\n"
    return out


def _md_message(
    store: Store,
    message: Message,
    assets: str | None,
    files: dict[str, bytes],
    level: str,
    note: str = "",
) -> list[str]:
    status = "" if message.status == "complete" else f" ({message.status})"
    lines = ["", f"{level} {message.role}{status}", ""]
    if note:
        lines += [f"*{note}*", ""]
    for attachment in message.attachments:
        lines.append(_md_image(store, attachment, assets, files))
    if message.attachments:
        lines.append("")  # the text is a paragraph of its own, not the images' caption
    if tools := transcript_lines(message.meta):
        # The answer's tool calls and results, before the answer made from them, in a
        # fence longer than any backtick run in them (CommonMark), so none closes it early.
        fence = "`" * max(3, 1 + max(len(r) for r in re.findall("`+", "\n".join(tools) + "`")))
        lines += [f"{fence}text", *tools, fence, ""]
    cites = citations(message.meta)
    label = f"m{message.id}-"
    lines.append(_with_markers(strip_control(message.content), cites, _footnote(label)))
    if message.error:
        lines.append(f"\n> error: {one_line(message.error)}")
    if cites:
        lines.append("")
    for cite in cites:
        lines.append(f"[^{label}{cite['n']}]: {_cite_text(cite)}")
    return lines


def _footnote(label: str) -> Callable[[int], str]:
    return lambda n: f"[^{label}{n}]"


def _md_image(
    store: Store, attachment: Attachment, assets: str | None, files: dict[str, bytes]
) -> str:
    alt = _md_alt(attachment.name)
    if assets is None:
        return f"![{alt}](sha256:{attachment.sha256})"
    name = _file_name(attachment, len(files) + 1)
    files[f"{assets}/{name}"] = store.blob(attachment.sha256)
    return f"![{alt}]({quote(assets)}/{quote(name)})"


def _md_alt(name: str) -> str:
    return re.sub(r"([\[\]\\])", r"\\\1", one_line(strip_control(name), 100))


def _file_name(attachment: Attachment, index: int) -> str:
    """A safe, unique name in the assets folder: a number, then the attachment's own name."""
    stem = re.sub(r"[^A-Za-z0-9._ -]+", "_", Path(attachment.name).stem).strip(" ._")[:60]
    suffix = _EXTENSION.get(attachment.mime, ".bin")
    return f"{index:02d}-{stem or 'image'}{suffix}"


def _with_markers(text: str, cites: list[dict[str, Any]], mark: Callable[[int], str]) -> str:
    """`[n]` markers of cited passages rewritten by `mark`, outside fenced code blocks."""
    known = {int(c["n"]) for c in cites}
    if not known:
        return text
    lines, fenced = [], False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            line = _MARKER.sub(lambda m: mark(int(m[1])) if int(m[1]) in known else m[0], line)
        lines.append(line)
    return "\n".join(lines)


def _cite_text(cite: dict[str, Any]) -> str:
    title = strip_control(str(cite.get("title") or Path(str(cite["source"])).name))
    where = f", {strip_control(str(cite['location']))}" if cite.get("location") else ""
    return one_line(f"{title}{where} ({strip_control(str(cite['source']))})", 500)


# -- JSON -----------------------------------------------------------------------------------------


def to_json(store: Store, conversation: int) -> str:
    """The branch shown in "messages", every other stored message in "other_messages"; each
    names its parent, so the tree can be rebuilt from the file."""
    conv = store.conversation(conversation)
    tree = Branches.of(store, conversation)
    data = {
        "id": conv.id,
        "title": conv.title,
        "model": conv.model,
        "persona": conv.persona,
        "system": conv.system,
        "created_at": conv.created_at,
        "created": _iso(conv.created_at),
        "shown_leaf": tree.shown[-1].id if tree.shown else None,
        "messages": [_json_message(m) for m in tree.shown],
        "other_messages": [_json_message(m) for thread in tree.threads for m in thread],
    }
    return json_for_terminal(data, indent=2) + "\n"


def _json_message(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "parent_id": m.parent_id,
        "branch": m.branch,
        "branches": m.branches,
        "role": m.role,
        "content": m.content,
        "status": m.status,
        "model": m.model,
        "persona": m.persona,
        "error": m.error,
        "prompt_tokens": m.prompt_tokens,
        "completion_tokens": m.completion_tokens,
        "created_at": m.created_at,
        "created": _iso(m.created_at),
        "attachments": [
            {
                "name": a.name,
                "sha256": a.sha256,
                "mime": a.mime,
                "width": a.width,
                "height": a.height,
            }
            for a in m.attachments
        ],
        "citations": citations(m.meta),
        "meta": m.meta,
    }


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")


# -- HTML -----------------------------------------------------------------------------------------

# No script anywhere, and the policy forbids any that a viewer might add: only inline style and
# data: images load, so nothing in the file reaches the network.
_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}}
body{{line-height:1.5}}
.message{{border-left:4px solid #888;padding:.25rem 1rem;margin:1.5rem 0}}
.user{{border-color:#3a7bd5}} .assistant{{border-color:#2a9d5c}} .system{{border-color:#999}}
.role{{font-weight:bold;text-transform:capitalize}} .when{{color:#777;font-size:.85em}}
.content{{white-space:pre-wrap;overflow-wrap:anywhere}}
img{{max-width:100%;display:block;margin:.5rem 0}}
.error{{color:#b00020}} .sources{{font-size:.9em;color:#444}}
.versions{{font-size:.85em;color:#555;font-style:italic;margin:.25rem 0}}
.branch{{border-top:1px dashed #aaa;margin-top:2rem}}
</style></head><body>
"""


def to_html(store: Store, conversation: int) -> str:
    conv = store.conversation(conversation)
    title = html.escape(strip_control(conv.title or "Conversation"))
    parts = [_HEAD.format(title=title), f"<h1>{title}</h1>"]
    model, persona = (
        html.escape(one_line(conv.model or "?")),
        html.escape(one_line(conv.persona or "?")),
    )
    parts.append(f'<p class="when">model: {model} · persona: {persona}</p>')
    tree = Branches.of(store, conversation)
    for position, message in enumerate(tree.shown, 1):
        note = ""
        if others := tree.others_of(message):
            links = ", ".join(f'<a href="#v{m.id}">version {m.branch}</a>' for m in others)
            note = f"Message {position}: {other_versions(message, others)} ({links})"
        parts.append(_html_message(store, message, note))
    if tree.threads:
        parts.append('<h2 id="other-versions">Other versions</h2>')
    for thread in tree.threads:
        heading = html.escape(tree.heading(thread))
        parts.append(f'<section class="branch" id="v{thread[0].id}"><h3>{heading}</h3>')
        parts += [_html_message(store, message) for message in thread]
        parts.append("</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _html_message(store: Store, message: Message, note: str = "") -> str:
    """`note`: HTML said under the header (the message's other versions)."""
    role = html.escape(message.role)
    status = "" if message.status == "complete" else f" ({html.escape(message.status)})"
    when = html.escape(_iso(message.created_at))
    out = [f'<section class="message {role}" id="m{message.id}">']
    out.append(
        f'<div><span class="role">{role}{status}</span> <span class="when">{when}</span></div>'
    )
    if note:
        out.append(f'<p class="versions">{note}</p>')
    for attachment in message.attachments:
        out.append(_html_image(store, attachment))
    if tools := transcript_lines(message.meta):
        out.append(f'<pre class="tools">{html.escape(chr(10).join(tools))}</pre>')
    cites = citations(message.meta)
    text = html.escape(strip_control(message.content))
    anchor = f"m{message.id}-c"
    text = _with_markers(text, cites, lambda n: f'<sup><a href="#{anchor}{n}">[{n}]</a></sup>')
    out.append(f'<div class="content">{text}</div>')
    if message.error:
        out.append(f'<p class="error">error: {html.escape(one_line(message.error))}</p>')
    if cites:
        out.append('<ol class="sources">')
        for cite in cites:
            n = int(cite["n"])
            out.append(f'<li id="{anchor}{n}" value="{n}">{html.escape(_cite_text(cite))}</li>')
        out.append("</ol>")
    out.append("</section>")
    return "\n".join(out)


def _html_image(store: Store, attachment: Attachment) -> str:
    alt = html.escape(one_line(strip_control(attachment.name), 100))
    if attachment.mime not in _INLINE_MIME:
        return f"<p>[image: {alt}]</p>"
    data = base64.b64encode(store.blob(attachment.sha256)).decode("ascii")
    return f'<img alt="{alt}" src="data:{attachment.mime};base64,{data}">'


# -- writing --------------------------------------------------------------------------------------


def write_export(
    store: Store, conversation: int, path: Path, *, fmt: Format | None = None, force: bool = False
) -> Exported:
    """Render and write `path` in `fmt` (default: the one its extension names); Markdown's
    images go in a folder beside it. Everything is checked before anything is written."""
    fmt = fmt or format_for(path)
    folder = assets_folder(path)
    exported = render(store, conversation, fmt, folder.name if fmt == "md" else None)
    _check_target(path, force)
    if exported.files:
        _check_folder(folder, force)
    try:
        if exported.files:
            folder.mkdir(mode=0o700, exist_ok=True)
        for relative, data in exported.files.items():
            write_private(path.parent / relative, data, force=force)
        write_private(path, exported.text, force=force)
    except WriteRefused as exc:
        raise ExportError(str(exc)) from None
    except OSError as exc:
        raise ExportError(f"cannot write {folder}: {exc.strerror or exc}") from None
    return exported


def _check_target(path: Path, force: bool) -> None:
    if path.is_symlink():
        raise ExportError(f"{path} is a symbolic link; not followed (name a new file)")
    if path.is_dir():
        raise ExportError(f"{path} is a folder; name a file in it")
    if path.exists() and not force:
        raise ExportError(f"{path} exists; pass --force to replace it")
    if not path.parent.is_dir():
        raise ExportError(f"cannot write {path}: no folder {path.parent}")


def _check_folder(folder: Path, force: bool) -> None:
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise ExportError(
            f"{folder} is in the way of the images' folder; move it or pick another name"
        )
    if folder.exists() and not force:
        raise ExportError(f"{folder} exists; pass --force to replace its images")
