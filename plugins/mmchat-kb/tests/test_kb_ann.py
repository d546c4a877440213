"""The ANN index on real embeddings: close to exact search, rebuilt or brought into step when its
file is missing, corrupt, foreign, of the older usearch kind or behind SQLite, and removals leave
it at once.

The threshold is lowered (MMCHAT_KB_ANN_MIN_CHUNKS) so a small store goes the ANN way, and the
shortlist is cut to half the store so the sign-code scan really chooses what is rescored.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mmchat_kb import ann
from mmchat_kb.chunking import Chunk
from mmchat_kb.embed import get_embedder
from mmchat_kb.ingest import add_paths
from mmchat_kb.search import search, vector_ranks
from mmchat_kb.store import KnowledgeBase

TOPICS = (
    "bread baking with sourdough starter", "replacing a bicycle chain", "tuning a guitar",
    "pruning apple trees in winter", "filing a tax return", "brewing green tea",
    "changing a car tyre", "training a puppy to sit", "knitting a wool scarf",
    "repotting a cactus", "cleaning a cast iron pan", "setting up a home router",
    "writing a cover letter", "storing fresh basil", "painting a wooden fence",
    "fixing a leaking tap", "planning a hiking trip", "learning to juggle three balls",
    "descaling a kettle", "making a paper airplane", "sharpening a kitchen knife",
    "building a bird house", "reading a train timetable", "removing a red wine stain",
)  # fmt: skip
QUESTIONS = [
    "how do I fix a dripping faucet",
    "my bike chain is worn out",
    "what tea should I brew",
    "teach my dog a command",
    "wine spilled on the carpet",
]


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    for n, topic in enumerate(TOPICS):
        (folder / f"note{n:02}.md").write_text(
            f"# {topic.capitalize()}\n\n## Steps\n\nA short guide to {topic}, step by step.\n\n"
            f"## Mistakes\n\nCommon mistakes people make when {topic}.\n",
            encoding="utf-8",
        )
    return folder


@pytest.fixture(autouse=True)
def small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMCHAT_KB_ANN_MIN_CHUNKS", "10")
    monkeypatch.setattr(ann, "SHORTLIST_MIN", 24)  # of the 48 chunks


def ingested(folder: Path) -> KnowledgeBase:
    kb = KnowledgeBase.create("notes", "all-MiniLM-L6-v2")
    add_paths(kb, get_embedder(), [folder])
    return kb


def top(kb: KnowledgeBase, k: int = 5) -> list[list[int]]:
    embedder = get_embedder()
    return [vector_ranks(kb, embedder.encode_query(q), limit=k)[0] for q in QUESTIONS]


def assert_close_to_exact(kb: KnowledgeBase) -> None:
    """The index is approximate (a neighbour can miss the shortlist), so ask for what it
    promises (recall@5 against exact search), and that it names only live chunks."""
    found, truth = top(kb), exact_top(kb)
    live = {row[0] for row in kb.conn.execute("SELECT id FROM chunks")}
    assert {c for ranks in found for c in ranks} <= live
    hits = sum(len(set(a) & set(b)) for a, b in zip(found, truth, strict=True))
    assert hits / sum(len(b) for b in truth) >= 0.9, (found, truth)


def exact_top(kb: KnowledgeBase, k: int = 5) -> list[list[int]]:
    kb.ann_min_chunks, kb._exact_at, kb._ann = 10**9, None, None
    try:
        return top(kb, k)
    finally:
        kb.ann_min_chunks, kb._exact_at = ann.min_chunks(), None


def files(kb: KnowledgeBase) -> list[str]:
    return [p.name for p in ann.index_files(kb.path.parent)]


def test_ann_gives_the_exact_top_results(notes: Path) -> None:
    with ingested(notes) as kb:
        generation, chunks = kb.generation(), kb.counts()[1]
        assert files(kb) == [f"ann-g{generation}-n{chunks}.npz"]  # saved by the ingest
        assert ann.index_files(kb.path.parent)[0].stat().st_mode & 0o777 == 0o600
        assert kb.ann_index() is not None
        assert_close_to_exact(kb)
        hit = search(kb, get_embedder(), "how do I fix a dripping faucet", k=1)[0]
        assert Path(hit.path).name == "note15.md"
        assert hit.similarity == pytest.approx(
            float(
                kb.chunk_vectors([hit.chunk_id])[hit.chunk_id]
                @ get_embedder().encode_query("how do I fix a dripping faucet")
            ),
            abs=1e-5,
        )  # exact, not the index's float16 distance


def test_below_the_threshold_search_is_exact_and_no_file_is_kept(
    notes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMCHAT_KB_ANN_MIN_CHUNKS", "1000")
    with ingested(notes) as kb:
        assert kb.ann_index() is None and files(kb) == []
        assert top(kb)[0]


@pytest.mark.parametrize("damage", ["missing", "corrupt", "truncated", "foreign", "usearch"])
def test_a_damaged_index_file_is_rebuilt(notes: Path, tmp_path: Path, damage: str) -> None:
    with ingested(notes) as kb:
        (path,) = ann.index_files(kb.path.parent)
    if damage == "missing":
        path.unlink()
    elif damage == "corrupt":
        path.write_bytes(b"\x00not an index" * 100)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "foreign":  # the right name and shape, another knowledge base's vectors
        import numpy as np

        with path.open("wb") as out:
            np.savez(
                out,
                mean=np.zeros(384, np.float32),
                ids=np.arange(1, 49, dtype=np.uint64),
                vectors=np.eye(48, 384, dtype=np.float16),
            )
    else:  # the HNSW file an older mmchat-kb kept, newer than the one it replaced
        path.unlink()
        path = path.with_name(f"ann-g{ann.file_generation(path) + 1}-n48.usearch")
        path.write_bytes(b"usearch" * 100)
    with KnowledgeBase.open("notes") as kb:
        assert top(kb)[0]  # the first search rebuilds the index
        (rebuilt,) = ann.index_files(kb.path.parent)
        assert rebuilt.suffix == ".npz"
        assert ann.AnnIndex.load(rebuilt, 384) is not None
        assert_close_to_exact(kb)


def test_a_file_behind_sqlite_is_brought_into_step(notes: Path) -> None:
    with ingested(notes) as kb:
        saved = files(kb)
    text = "How to roll a kayak back upright after capsizing."
    # Another process commits, then is killed before it saves the index it kept in step.
    writer = KnowledgeBase.open("notes")
    assert writer.ann_index() is not None
    writer.write_document(
        "/elsewhere/kayak.md", "hash", 1, "Kayaking", [Chunk(text, "", "")],
        get_embedder().encode([text]),
    )  # fmt: skip
    writer.remove_paths(str((notes / "note15.md").resolve()))
    writer._ann = None
    writer.close()
    with KnowledgeBase.open("notes") as kb:
        assert files(kb) == saved  # behind: its generation is older than SQLite's
        hits = search(kb, get_embedder(), "my kayak capsized", k=1)
        assert hits[0].path == "/elsewhere/kayak.md"
        assert all(Path(h.path).name != "note15.md" for h in search(kb, get_embedder(), "tap"))
        assert_close_to_exact(kb)


def test_removed_documents_leave_the_ann_results(notes: Path) -> None:
    with ingested(notes) as kb:
        gone = (notes / "note15.md").resolve()
        ids = [r[0] for r in kb.conn.execute(
            "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.path = ?",
            (str(gone),),
        )]  # fmt: skip
        assert set(ids) & set(top(kb, 50)[0])
        assert kb.ann_index() is not None
        assert kb.remove_paths(str(gone)) == 1
        assert not set(ids) & {c for ranks in top(kb, 50) for c in ranks}
        assert_close_to_exact(kb)
    with KnowledgeBase.open("notes") as kb:  # and from the saved file, in a new process
        assert not set(ids) & {c for ranks in top(kb, 50) for c in ranks}


def test_chunk_ids_are_never_reused(notes: Path) -> None:
    with ingested(notes) as kb:
        (newest,) = kb.conn.execute("SELECT max(id) FROM chunks").fetchone()
        (path,) = kb.conn.execute(
            "SELECT d.path FROM documents d JOIN chunks c ON c.document_id = d.id WHERE c.id = ?",
            (newest,),
        ).fetchone()
        kb.remove_paths(path)
        add_paths(kb, get_embedder(), [Path(path)])
        (lowest_new,) = kb.conn.execute(
            "SELECT min(c.id) FROM chunks c JOIN documents d ON d.id = c.document_id"
            " WHERE d.path = ?",
            (path,),
        ).fetchone()
        assert lowest_new > newest
        assert_close_to_exact(kb)
