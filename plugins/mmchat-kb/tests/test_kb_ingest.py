"""Ingest and search on real embeddings: replace on change, skip unchanged, bad files reported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from kbtest_files import make_pdf
from mmchat_kb.chunking import Chunk
from mmchat_kb.embed import get_embedder
from mmchat_kb.ingest import Report, add_paths
from mmchat_kb.limits import Limits
from mmchat_kb.paths import KBError
from mmchat_kb.search import search, text_ranks
from mmchat_kb.store import KnowledgeBase
from mmchat_kb.walk import Outcome


def new_kb(name: str = "manuals") -> KnowledgeBase:
    return KnowledgeBase.create(name, "all-MiniLM-L6-v2")


def add(kb: KnowledgeBase, *paths: Path, limits: Limits | None = None) -> Report:
    return add_paths(kb, get_embedder(kb.model), list(paths), limits=limits)


def by_status(report: Report) -> dict[str, str]:
    return {Path(o.path).name: f"{o.status}: {o.message}".rstrip(": ") for o in report.outcomes}


def test_added_documents_are_found_with_their_section(docs: Path) -> None:
    with new_kb() as kb:
        report = add(kb, docs)
        assert report.count("added") == 3 and not report.stopped
        hits = search(kb, get_embedder(), "How long does the Zorblax warranty last?", k=3)
        assert Path(hits[0].path) == docs / "zorblax.md"
        assert hits[0].location == "Warranty" and hits[0].title == "Zorblax 3000 Guide"
        refund = search(kb, get_embedder(), "when do I get my money back", k=1)[0]
        assert (Path(refund.path).name, refund.location) == ("returns.html", "Returns > Refunds")
        assert not text_ranks(kb, "hidden")  # script text is never indexed


def test_unchanged_files_are_skipped_and_changed_ones_replaced(docs: Path) -> None:
    with new_kb() as kb:
        add(kb, docs)
        again = add(kb, docs)
        assert again.count("unchanged") == 3 and again.chunks == 0
        (docs / "office.txt").write_text("The cafeteria now closes at noon.\n", encoding="utf-8")
        changed = add(kb, docs)
        assert by_status(changed)["office.txt"] == "updated"
        assert changed.count("unchanged") == 2
        assert not text_ranks(kb, "soup")  # the old version's chunks are gone, FTS included
        assert text_ranks(kb, "noon")
        docs_, chunks = kb.counts()
        ids, matrix = kb.vectors()
        assert docs_ == 3 and len(ids) == chunks == matrix.shape[0]


def test_remove_a_file_and_a_folder(docs: Path) -> None:
    with new_kb() as kb:
        add(kb, docs)
        assert kb.remove_paths(str(docs / "office.txt")) == 1
        assert not text_ranks(kb, "cafeteria")
        assert kb.remove_paths(str(docs)) == 2
        assert kb.counts() == (0, 0)


def test_a_failed_write_leaves_the_previous_version_whole(docs: Path) -> None:
    with new_kb() as kb:
        add(kb, docs / "office.txt")
        before = kb.counts()
        vectors = get_embedder().encode(["a", "b", "c"])
        # The third chunk fails after the old chunks were deleted and the new row inserted.
        broken = [Chunk("a", "", ""), Chunk("b", "", ""), Chunk(None, "", "")]  # type: ignore[arg-type]
        path = str((docs / "office.txt").resolve())
        with pytest.raises(TypeError):
            kb.write_document(path, "new-hash", 1, "x", broken, vectors)
        assert kb.counts() == before
        assert kb.document_hash(path) != "new-hash"
        assert text_ranks(kb, "cafeteria")


def test_bad_files_are_named_and_the_rest_is_added(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.md").write_text("# Hours\n\nThe shop opens at nine.\n", encoding="utf-8")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 20)
    (folder / "empty.md").write_bytes(b"")
    (folder / "huge.txt").write_bytes(b"word " * 300_000)  # 1.5 MB, over the 1 MB cap below
    make_pdf(folder / "scanned.pdf", ["", ""])
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj trailer <<>>")
    (folder / "dangling.txt").symlink_to(folder / "missing.txt")
    os.mkfifo(folder / "pipe.txt")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    limits = Limits.from_env()
    limits = Limits(**{**limits.__dict__, "max_file_bytes": 1024 * 1024})
    with new_kb() as kb:
        report = add(kb, folder, tmp_path / "nowhere.md", limits=limits)
        seen = by_status(report)
    assert seen["good.md"] == "added"
    assert seen["binary.txt"] == "failed: looks like a binary file, not text"
    assert seen["empty.md"] == "skipped: is empty"
    assert seen["huge.txt"] == "skipped: is 1.4 MB, over the 1.0 MB limit"
    assert "no extractable text" in seen["scanned.pdf"]
    assert seen["broken.pdf"].startswith("failed: ")
    assert seen["dangling.txt"].startswith("skipped: is not a regular file")
    assert seen["pipe.txt"].startswith("skipped: is not a regular file")
    assert seen["nowhere.md"] == "failed: does not exist"
    assert report.ignored == 1  # photo.jpg
    with KnowledgeBase.open("manuals") as kb:
        assert [Path(d.path).name for d in kb.documents()] == ["good.md"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_named(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("hidden", encoding="utf-8")
    secret.chmod(0)
    with new_kb() as kb:
        report = add(kb, secret)
    assert by_status(report)["secret.txt"] == "failed: cannot be read (Permission denied)"


def test_a_folder_with_thousands_of_files(tmp_path: Path) -> None:
    root = tmp_path / "big"
    for d in range(20):
        sub = root / f"part{d:02}" / "deeper"
        sub.mkdir(parents=True)
        for i in range(150):
            (sub / f"data{i}.bin").write_bytes(b"\x00")  # other types: ignored, counted
        for i in range(3):
            (sub / f"note{i}.txt").write_text(f"Note {d}-{i}: shelf {d * 10 + i}.", "utf-8")
        (sub / "blank.md").write_text("", "utf-8")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD.txt").write_text("hidden folders are left out", "utf-8")
    with new_kb() as kb:
        report = add(kb, root)
        assert report.count("added") == 60 and report.count("skipped") == 20
        assert report.ignored == 3000
        assert kb.counts() == (60, 60)
        assert not text_ranks(kb, "hidden")


def test_knowledge_base_removed_during_ingest_stops_cleanly(docs: Path) -> None:
    with new_kb() as kb:

        class RemoveAfterFirst:
            def files(self, total: int) -> None: ...
            def chunks(self, total: int) -> None: ...
            def chunks_done(self, n: int) -> None: ...

            def file_done(self, outcome: Outcome) -> None:
                if outcome.status == "added" and KnowledgeBase.names():
                    KnowledgeBase.open("manuals").delete()  # as `mmchat kb remove` would

        report = add_paths(kb, get_embedder(), [docs], RemoveAfterFirst())
        assert report.stopped == "knowledge base 'manuals' was removed while in use"
        assert report.count("added") == 1
        assert KnowledgeBase.names() == []
        with pytest.raises(KBError, match="removed while in use"):
            search(kb, get_embedder(), "warranty")


def test_odd_file_names_are_stored_and_shown_safely(tmp_path: Path) -> None:
    folder = tmp_path / "names"
    folder.mkdir()
    latin1 = os.path.join(os.fsencode(folder), b"caf\xe9.txt")  # not valid UTF-8
    with open(latin1, "wb") as handle:
        handle.write(b"The cafe menu has soup.")
    (folder / "evil\x1b]52;c;aGk=\x07.md").write_text("# Evil\n\nEscapes in a name.", "utf-8")
    with new_kb() as kb:
        report = add(kb, folder)
        assert report.count("added") == 2
        paths = [d.path for d in kb.documents()]
        assert paths[0] == f"{folder}/caf\\xe9.txt"  # shown as an escape, stored as valid text
        hit = search(kb, get_embedder(), "cafe menu", k=1)[0]
        assert hit.path == paths[0] and hit.title == "caf\ufffd.txt"
        assert kb.remove_paths(paths[0]) == 1
