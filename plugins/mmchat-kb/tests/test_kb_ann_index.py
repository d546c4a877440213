"""The sign-code index's arithmetic: Hamming distances against a bit-by-bit count (across scan
blocks and threads), the shortlist, removal and growth, and the file round trip.

Random vectors test the arithmetic here; test_kb_ann tests search quality on real embeddings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mmchat_kb import ann


def unit(rows: int, dim: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def built(rows: int = 5000, dim: int = 384) -> tuple[ann.AnnIndex, np.ndarray]:
    vectors = unit(rows, dim)
    ids = np.arange(1000, 1000 + rows, dtype=np.uint64)
    return ann.AnnIndex.build(dim, ids, vectors, generation=3), vectors


def bit_by_bit(index: ann.AnnIndex, vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    mean = index.mean
    return ((vectors > mean) != (query > mean)).sum(1)


@pytest.mark.parametrize("dim", [384, 100])  # 100: the last 64-bit word is padded
def test_hamming_distances_equal_a_bit_by_bit_count(
    monkeypatch: pytest.MonkeyPatch, dim: int
) -> None:
    monkeypatch.setattr(ann, "BLOCK", 1000)  # several blocks per scan...
    monkeypatch.setattr(ann, "ROWS_PER_THREAD", 1500)  # ...and several threads
    monkeypatch.setattr(ann.os, "cpu_count", lambda: 4)
    index, vectors = built(5000, dim)
    stored = index.vectors.astype(np.float32)  # the codes are taken from the float16 values
    for query in unit(5, dim, seed=1):
        code = ann.sign_codes(query[None, :], index.mean)[:, 0]
        assert np.array_equal(index.hamming(code), bit_by_bit(index, stored, query))


@pytest.mark.parametrize("threads", [1, 2])
def test_search_ranks_the_closest_codes_by_cosine(
    monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    """What search returns is, worked out bit by bit: the rows whose Hamming distance is
    among the `wanted` smallest (ties at the boundary kept), best float16 cosine first."""
    monkeypatch.setattr(ann, "ROWS_PER_THREAD", 10_000 if threads == 1 else 2000)
    monkeypatch.setattr(ann.os, "cpu_count", lambda: 2)  # two spans on any machine
    index, _ = built(5000)
    assert len(index._spans()) == threads
    stored = index.vectors.astype(np.float32)
    for query in unit(5, 384, seed=2):
        distances = bit_by_bit(index, stored, query)
        bound = int(np.searchsorted(np.cumsum(np.bincount(distances)), 300))
        rows = np.flatnonzero(distances <= bound)
        assert len(rows) >= 300
        expected = rows[np.argsort(-(stored[rows] @ query))[:10]]
        keys, _ = index.search(query, 10, wanted=300)
        assert keys == (1000 + expected).tolist()


def test_search_rescored_from_the_shortlist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ann, "SHORTLIST_MIN", 500)
    index, vectors = built(5000)
    # A stored vector finds itself first, with its own cosine (float16-rounded: ~1).
    keys, scores = index.search(vectors[1234], 10)
    assert keys[0] == 1000 + 1234 and scores[0] == pytest.approx(1.0, abs=2e-3)
    assert scores == sorted(scores, reverse=True)
    # Every result is scored exactly as its stored vector says.
    stored = {int(i): v for i, v in zip(index.keys(), index.vectors, strict=True)}
    query = unit(1, 384, seed=5)[0]
    keys, scores = index.search(query, 10)
    for key, score in zip(keys, scores, strict=True):
        assert score == pytest.approx(float(stored[key].astype(np.float32) @ query), abs=1e-5)


# A search in a fresh process, as `mmchat kb search` makes one: which rows it found, and
# whether it imported torch. argv: the index's rows, then NUMPY_ROWS.
FRESH_SEARCH = """
import json, sys
import numpy as np
from mmchat_kb import ann
ann.NUMPY_ROWS = int(sys.argv[2])
rng = np.random.default_rng(0)
vectors = rng.standard_normal((int(sys.argv[1]), 384)).astype(np.float32)
vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
index = ann.AnnIndex.build(384, np.arange(len(vectors), dtype=np.uint64), vectors, generation=1)
keys, _ = index.search(vectors[7], 10)
print(json.dumps({"keys": keys, "torch": "torch" in sys.modules}))
"""


def fresh_search(rows: int, numpy_rows: int) -> dict[str, object]:
    run = subprocess.run(
        [sys.executable, "-c", FRESH_SEARCH, str(rows), str(numpy_rows)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(run.stdout)


def test_a_short_shortlist_is_rescored_without_importing_torch() -> None:
    """A 100k-chunk base's shortlist (4,000 rows) is rescored by numpy: a one-shot search
    does not pay torch's import. A longer one goes through torch, with the same results."""
    by_numpy = fresh_search(20_000, ann.NUMPY_ROWS)  # shortlist(20k) = SHORTLIST_MIN rows
    by_torch = fresh_search(20_000, 1000)
    assert by_numpy["torch"] is False and by_torch["torch"] is True
    assert by_numpy["keys"] == by_torch["keys"]
    assert by_numpy["keys"][0] == 7  # a stored vector finds itself first


def test_removal_and_growth_keep_ids_vectors_and_codes_together() -> None:
    index, vectors = built(1000)
    original = {1000 + r: vectors[r] for r in range(1000)}
    gone = np.array([1000, 1500, 1999, 1998, 7, 424242], dtype=np.uint64)  # 2 unknown
    assert index.remove(gone) == 4
    more = unit(3000, 384, seed=9)  # past the capacity: the arrays grow
    index.add(np.arange(5000, 8000, dtype=np.uint64), more)
    original.update({5000 + r: more[r] for r in range(3000)})
    for key in (1000, 1500, 1999, 1998):
        del original[key]
        assert index.vector(key) is None
    assert len(index) == len(original) == 3996
    assert sorted(index.keys().tolist()) == sorted(original)
    live = index.vectors[: index.size]
    assert np.array_equal(index.codes[:, : index.size], ann.sign_codes(live, index.mean))
    for key, vector in original.items():
        assert np.array_equal(index.vector(key), vector.astype(np.float16))
    assert index.search(original[5001], 1)[0] == [5001]


def test_save_and_load_give_the_same_index(tmp_path: Path) -> None:
    index, vectors = built(2000)
    index.remove(np.array([1003], dtype=np.uint64))
    path = index.save(tmp_path)
    assert path.name == "ann-g3-n1999.npz" and not index.dirty
    loaded = ann.AnnIndex.load(path, 384)
    assert loaded is not None and loaded.generation == 3
    assert np.array_equal(loaded.keys(), index.keys())
    for query in unit(5, 384, seed=4):
        assert loaded.search(query, 10) == index.search(query, 10)
    assert ann.AnnIndex.load(path, 256) is None  # another model's dimension
    renamed = path.rename(tmp_path / "ann-g3-n2000.npz")  # a name that lies about its content
    assert ann.AnnIndex.load(renamed, 384) is None
