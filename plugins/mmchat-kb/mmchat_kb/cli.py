"""`mmchat kb ...`: create, add, list, search and remove knowledge bases."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from mmchat.hooks import one_line
from mmchat_kb.paths import KBError, path_key
from mmchat_kb.store import KnowledgeBase

app = typer.Typer(
    help="Knowledge bases: documents that personas answer from, with citations.",
    no_args_is_help=True,
    add_completion=False,
)

NameArg = Annotated[str, typer.Argument(help="Knowledge base name.")]


def _fail(message: str, code: int = 1) -> NoReturn:
    print(f"mmchat: error: {one_line(message)}", file=sys.stderr)
    raise typer.Exit(code)


def _open(name: str) -> KnowledgeBase:
    try:
        return KnowledgeBase.open(name)
    except KBError as exc:
        _fail(str(exc), 2)


@app.command("create")
def create(
    name: NameArg,
    model: Annotated[
        str, typer.Option(help="Embedding model: the packaged default, or any id (needs internet).")
    ] = "all-MiniLM-L6-v2",
) -> None:
    """Create an empty knowledge base."""
    try:
        KnowledgeBase.create(name, model).close()
    except KBError as exc:
        _fail(str(exc), 2)
    print(one_line(f"created knowledge base '{name}' (embeddings: {model})"))


@app.command("add")
def add(
    name: NameArg,
    paths: Annotated[list[Path], typer.Argument(help="Files and folders to add.")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every file.")] = False,
) -> None:
    """Add files and folders; changed files are replaced, unchanged ones skipped.

    Exits 1 when any file could not be added, each named on stderr with the reason; the
    others are added all the same. Folders are walked for supported types (.txt .md .html .pdf
    .docx .csv .json); hidden files and folders are left out.
    """
    from mmchat_kb.embed import EmbedderError, get_embedder
    from mmchat_kb.ingest import add_paths
    from mmchat_kb.progress import BarProgress

    started = time.monotonic()
    with _open(name) as kb:
        try:
            with BarProgress(verbose=verbose) as bars:
                report = add_paths(kb, get_embedder(kb.model), paths, bars)
        except (EmbedderError, KBError) as exc:
            _fail(str(exc))
        except sqlite3.Error as exc:
            _fail(f"knowledge base '{name}' cannot be written ({exc}); files added so far are kept")
    seconds = time.monotonic() - started
    parts = [
        f"{report.count(s)} {s}"
        for s in ("added", "updated", "unchanged", "skipped", "failed")
        if report.count(s)
    ]
    if report.ignored:
        parts.append(f"{report.ignored} of other types ignored")
    summary = ", ".join(parts) or "no files"
    print(one_line(f"{name}: {summary}; {report.chunks} chunks in {seconds:.1f} s"))
    if report.stopped:
        _fail(f"{report.stopped}; stopped")
    if report.count("failed") or report.count("skipped"):
        raise typer.Exit(1)


@app.command("list")
def list_(
    name: Annotated[str | None, typer.Argument(help="List this knowledge base's files.")] = None,
) -> None:
    """List knowledge bases, or the files in one."""
    from mmchat_kb.limits import human_size

    if name is not None:
        with _open(name) as kb:
            for doc in kb.documents():
                print(f"{one_line(doc.path, 1000)}\t{doc.chunks} chunks\t{one_line(doc.title)}")
        return
    names = KnowledgeBase.names()
    if not names:
        print("no knowledge bases; create one with: mmchat kb create NAME")
    for kb_name in names:
        try:
            with KnowledgeBase.open(kb_name) as kb:
                docs, chunks = kb.counts()
                size = human_size(kb.disk_bytes())
                print(f"{kb_name}\t{docs} files\t{chunks} chunks\t{size}\t{one_line(kb.model)}")
        except KBError as exc:
            print(one_line(f"{kb_name}\tunreadable: {exc}"), file=sys.stderr)


@app.command("search")
def search(
    name: NameArg,
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", help="How many passages.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Search a knowledge base the way a persona's turn does."""
    from mmchat_kb.embed import EmbedderError, get_embedder
    from mmchat_kb.search import search as hybrid_search

    with _open(name) as kb:
        try:
            hits = hybrid_search(kb, get_embedder(kb.model), query, k=k)
        except (EmbedderError, KBError) as exc:
            _fail(str(exc))
        except sqlite3.Error as exc:
            _fail(f"knowledge base '{name}' cannot be searched ({exc})")
    if not hits:
        print("no passages found", file=sys.stderr)
    for number, hit in enumerate(hits, 1):
        if as_json:
            fields = ("path", "title", "location", "score", "similarity", "text")
            print(json.dumps({"n": number, **{f: getattr(hit, f) for f in fields}}))
            continue
        where = f", {hit.location}" if hit.location else ""
        print(
            one_line(
                f"[{number}] {hit.title}{where} ({hit.path})  similarity {hit.similarity:.2f}", 1000
            )
        )
        print("    " + one_line(hit.text, 300))


@app.command("remove")
def remove(
    name: NameArg,
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders to take out (default: all).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before deleting.")] = False,
) -> None:
    """Remove files from a knowledge base, or the whole knowledge base."""
    kb = _open(name)
    try:
        if paths:
            with kb:
                # Files were stored under their resolved path; a link to them names it too.
                given = {path_key(Path(p).expanduser().absolute()) for p in paths}
                given |= {path_key(Path(p).expanduser().resolve()) for p in paths}
                removed = sum(kb.remove_paths(p) for p in sorted(given))
                kb.sync_ann()  # drop their vectors from the ANN index file now, not at a search
            print(f"{name}: removed {removed} files")
            if not removed:
                raise typer.Exit(1)
            return
        if not yes and not typer.confirm(f"Delete knowledge base '{name}' and its index?"):
            kb.close()
            raise typer.Exit(1)
        kb.delete()
    except sqlite3.OperationalError as exc:
        _fail(f"knowledge base '{name}' is busy or damaged ({exc}); try again")
    print(f"deleted knowledge base '{name}'")
