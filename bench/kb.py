"""Knowledge-base retrieval: ingest throughput, index size, query latency, recall@5.

Prints figures (not a test). The corpus is real text: the docstrings of Python's own standard
library, one Markdown file per module, one `##` section per public function or class, ingested
through the plugin's real path (parsing process, chunking, all-MiniLM-L6-v2, SQLite + FTS5).

    MMCHAT_HOME=/tmp/bench-kb .venv/bin/python bench/kb.py              # ~9 min, busy 2 cores
    MMCHAT_HOME=/tmp/bench-kb .venv/bin/python bench/kb.py --reuse      # latency only, ~1 min
    MMCHAT_HOME=/tmp/bench-kb .venv/bin/python bench/kb.py --full       # every stdlib module
    MMCHAT_HOME=/tmp/bench-kb .venv/bin/python bench/kb.py --sizes 10000,100000,1000000
    MMCHAT_HOME=/tmp/bench-kb .venv/bin/python bench/kb.py --cold 5   # cold start, ~1 min

Figures (targets in docs/PERFORMANCE.md):
- ingest chunks/s through `add_paths`, and the same texts through the bare embedder: ingest
  should reach >= 90% of raw encode throughput;
- recall@5 on QUESTIONS (each names the module and function whose section answers it) for
  hybrid, vector-only and FTS-only ranking: target >= 0.8 for hybrid;
- query latency p50/p95 (query embedding + hybrid search, what a chat turn pays) at 10k and
  100k chunks: target p95 <= 50 ms at 100k. Embedding 100k real chunks would take ~2 h here, so
  those stores hold the corpus's real chunk texts cycled (realistic FTS work) with synthetic
  vectors made from real embeddings (VectorSource): by default drawn from a normal distribution
  with the real vectors' mean and covariance; `--vectors copies` uses real vectors plus noise as
  large as the vector instead (~1,000 near-tied copies per chunk at 1M: near-ties for search).
  real_recall compares how hard each kind is for the index against real embeddings.
- vector search alone, exact (float16 product) against the approximate index (ann.py: sign
  codes, then float16 rescoring of a shortlist) at several shortlist sizes, at every size:
  p50/p95 and recall@10 against exact float32 search, the index's build time and file size. At
  1M chunks (--sizes 1000000: ~6 GB of SQLite, ~12 min here) the approximate index is the
  target: query p95 <= 50 ms at recall@10 >= 0.95. Recall is also measured on `--real` real
  embeddings (the corpus topped up with docstring paragraphs of the standard library and of
  installed packages, --real of them in all).
- --cold: a fresh `mmchat kb search` (target <= 2 s), with its import times, once through the
  ONNX export's sidecar and once through sentence-transformers; and how late a 5 ms event
  loop tick comes while turns search, in the search process and in a thread of the loop's
  own process (target: no stall > 50 ms).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import pkgutil
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from mmchat_kb import ann
from mmchat_kb.chunking import chunk_blocks, embedding_text
from mmchat_kb.embed import get_embedder
from mmchat_kb.ingest import add_paths
from mmchat_kb.search import CANDIDATES, exact_ranks, fuse, search, text_ranks, vector_ranks
from mmchat_kb.store import KnowledgeBase
from mmchat_kb.textreaders import read_markdown

from mmchat.hooks import plugin_cache_dir

MODULES = (
    "json shutil os.path subprocess collections functools itertools heapq bisect copy tempfile "
    "fnmatch glob uuid statistics random textwrap shlex hashlib base64 difflib html pprint time "
    "math urllib.parse contextlib inspect secrets csv struct calendar fractions enum dataclasses "
    "string re datetime pathlib zipfile logging argparse threading queue sqlite3 decimal typing"
).split()

# (question, module, accepted section names): the answer is in that module's section.
QUESTIONS = [
    ("How do I convert a Python object into a JSON formatted string?", "json", {"dumps"}),
    ("Parse a JSON document held in a string", "json", {"loads"}),
    ("Copy a file together with its permission bits", "shutil", {"copy", "copymode", "copy2"}),
    ("Delete a whole directory tree recursively", "shutil", {"rmtree"}),
    ("Longest common sub-path of several paths", "os.path", {"commonpath"}),
    ("Split a pathname into directory and final component", "os.path", {"split"}),
    ("Run a command and return its output as a byte string", "subprocess", {"check_output"}),
    ("Count hashable items, like a bag or multiset", "collections", {"Counter"}),
    ("A dict subclass that calls a factory for missing values", "collections", {"defaultdict"}),
    ("Cache the results of a function with a least-recently-used policy", "functools",
     {"lru_cache", "cache"}),
    ("Apply a two-argument function cumulatively to reduce a sequence to one value",
     "functools", {"reduce"}),
    ("Cartesian product of input iterables", "itertools", {"product"}),
    ("Group consecutive items that share a key", "itertools", {"groupby"}),
    ("Find the n largest elements in a dataset", "heapq", {"nlargest"}),
    ("Insert an item into a sorted list and keep it sorted", "bisect",
     {"insort", "insort_right", "insort_left"}),
    ("Make a deep copy of an object", "copy", {"deepcopy"}),
    ("Create a temporary directory that is removed afterwards", "tempfile",
     {"TemporaryDirectory", "mkdtemp"}),
    ("Test whether a file name matches a shell-style wildcard pattern", "fnmatch",
     {"fnmatch", "fnmatchcase"}),
    ("Generate a random UUID", "uuid", {"uuid4"}),
    ("Median, the middle value of numeric data", "statistics", {"median"}),
    ("Sample standard deviation of data", "statistics", {"stdev"}),
    ("Choose a random element from a non-empty sequence", "random", {"choice"}),
    ("Shuffle a list in place", "random", {"shuffle"}),
    ("Wrap a paragraph so every line is at most a given width", "textwrap", {"wrap", "fill"}),
    ("Remove any common leading whitespace from every line", "textwrap", {"dedent"}),
    ("Split a string using shell-like syntax", "shlex", {"split"}),
    ("Encode bytes with Base64", "base64", {"b64encode", "standard_b64encode"}),
    ("Compare two lists of lines and show the differences in unified diff format", "difflib",
     {"unified_diff"}),
    ("Get a list of the best close matches to a word", "difflib", {"get_close_matches"}),
    ("Escape the characters &, < and > for safe use in HTML", "html", {"escape"}),
    ("Pretty-print a data structure", "pprint", {"pprint", "pp"}),
    ("A clock with the highest resolution for measuring short durations", "time",
     {"perf_counter", "perf_counter_ns"}),
    ("Delay execution for a given number of seconds", "time", {"sleep"}),
    ("Greatest common divisor of integers", "math", {"gcd"}),
    ("Determine whether two floating point values are close to each other", "math",
     {"isclose"}),
    ("Split a URL into scheme, netloc, path, query and fragment", "urllib.parse",
     {"urlsplit", "urlparse"}),
    ("Percent-encode special characters in a URL path", "urllib.parse", {"quote"}),
    ("Context manager that suppresses the specified exceptions", "contextlib", {"suppress"}),
    ("Decorator that turns a generator function into a context manager", "contextlib",
     {"contextmanager"}),
    ("Return the source code text of a function", "inspect", {"getsource"}),
    ("Generate a secure random text token in hexadecimal", "secrets", {"token_hex"}),
    ("Iterate over the rows of a CSV file", "csv", {"reader"}),
    ("Pack values into bytes according to a format string", "struct", {"pack"}),
    ("Is a year a leap year?", "calendar", {"isleap"}),
    ("Rational numbers with exact arithmetic", "fractions", {"Fraction"}),
    ("Generate special methods like __init__ for a class with fields", "dataclasses",
     {"dataclass"}),
    ("Match a regular expression only at the start of a string", "re", {"match"}),
    ("Compile a regular expression pattern into an object", "re", {"compile"}),
    ("Create a ZIP archive file", "zipfile", {"ZipFile"}),
    ("A thread-safe first-in first-out queue", "queue", {"Queue", "SimpleQueue"}),
]  # fmt: skip


# -- corpus ------------------------------------------------------------------------------------


def _members(mod: object, name: str) -> list[tuple[str, object]]:
    public = getattr(mod, "__all__", None)
    names = list(public) if public else [n for n in vars(mod) if not n.startswith("_")]
    root = name.split(".")[0]
    out = []
    for member in sorted(set(names)):
        obj = getattr(mod, member, None)
        if obj is None or inspect.ismodule(obj) or not callable(obj):
            continue
        origin = str(getattr(obj, "__module__", "") or "")
        if not public and root not in origin and name not in ("os.path",):
            continue  # imported from elsewhere
        if inspect.getdoc(obj):
            out.append((member, obj))
    return out


def _escaped(doc: str) -> str:
    """Docstrings are not Markdown: a "# comment" line in an example must not be a heading."""
    return "\n".join(
        "\\" + line if line.lstrip().startswith("#") else line for line in doc.split("\n")
    )


def module_markdown(name: str) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            mod = importlib.import_module(name)
        except Exception:
            return None
        parts = [f"# {name}", "", _escaped(inspect.getdoc(mod) or "")]
        for member, obj in _members(mod, name):
            parts += ["", f"## {member}", "", _escaped(inspect.getdoc(obj) or "")]
    return "\n".join(parts) if len(parts) > 3 else None


def build_corpus(folder: Path, full: bool) -> int:
    names = list(MODULES)
    if full:
        skip = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "pydoc_data"}
        names += sorted(n for n in sys.stdlib_module_names if n not in skip and n not in names)
    written = 0
    for name in names:
        if name.startswith("_"):
            continue
        text = module_markdown(name)
        if text:
            (folder / f"{name}.md").write_text(text, encoding="utf-8")
            written += 1
    return written


# -- measurements ------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def ingest(folder: Path) -> KnowledgeBase:
    kb = KnowledgeBase.create("bench", "all-MiniLM-L6-v2")
    embedder = get_embedder()
    embedder.encode(["warm up the model"])
    texts = []
    for path in sorted(folder.glob("*.md")):
        doc = read_markdown(path.read_text(encoding="utf-8"), path)
        texts += [embedding_text(doc.title, c) for c in chunk_blocks(doc.blocks)]
    started = time.perf_counter()
    embedder.encode(texts)
    raw = time.perf_counter() - started
    started = time.perf_counter()
    report = add_paths(kb, embedder, [folder])
    took = time.perf_counter() - started
    print(f"corpus: {len(report.outcomes)} files, {report.chunks} chunks")
    print(f"raw encode:  {len(texts) / raw:6.1f} chunks/s ({raw:.1f} s)")
    print(
        f"ingest:      {report.chunks / took:6.1f} chunks/s ({took:.1f} s) = "
        f"{(report.chunks / took) / (len(texts) / raw):.0%} of raw encode"
    )
    print(f"index size:  {kb.disk_bytes() / 1e6:.1f} MB for {report.chunks} chunks")
    return kb


def recall(kb: KnowledgeBase, k: int = 5) -> None:
    embedder = get_embedder()
    hits = {"hybrid": 0, "vector": 0, "fts": 0}
    misses = []
    for question, module, names in QUESTIONS:
        qv = embedder.encode_query(question)
        by_vector, _ = vector_ranks(kb, qv)
        by_text = text_ranks(kb, question)
        fused = fuse(by_vector, by_text)
        rankings = {
            "hybrid": sorted(fused, key=lambda c: -fused[c])[:k],
            "vector": by_vector[:k],
            "fts": by_text[:k],
        }
        for label, ids in rankings.items():
            rows = kb.chunks(ids)
            ok = any(
                Path(rows[c].path).stem == module and rows[c].heading in names
                for c in ids
                if c in rows
            )
            hits[label] += ok
            if label == "hybrid" and not ok:
                misses.append(question)
    n = len(QUESTIONS)
    sections = {
        (Path(p).stem, h)
        for p, h in kb.conn.execute(
            "SELECT d.path, c.heading FROM chunks c JOIN documents d ON d.id = c.document_id"
        )
    }
    for question, module, names in QUESTIONS:
        if not any((module, name) in sections for name in names):
            print(f"  warning: no section answers {question!r} in this corpus")
    print(
        f"recall@{k} over {n} questions: hybrid {hits['hybrid'] / n:.2f}, "
        f"vector only {hits['vector'] / n:.2f}, FTS only {hits['fts'] / n:.2f}"
    )
    for question in misses:
        print(f"  missed: {question}")


def real_vectors(kb: KnowledgeBase, total: int) -> np.ndarray:
    """Real embeddings: the corpus's chunks topped up to `total` with docstring paragraphs of
    the standard library and some installed packages (embedded once, then kept in MMCHAT_HOME
    for --reuse)."""
    _, matrix = kb.all_vectors()
    extra = max(0, total - len(matrix))
    if not extra:
        return matrix
    saved = Path(os.environ["MMCHAT_HOME"]) / f"bench-real-{len(matrix)}-{total}.npy"
    if saved.is_file():
        more = np.load(saved)
    else:
        started = time.perf_counter()
        more = get_embedder().encode(doc_paragraphs(extra))
        np.save(saved, more)
        print(
            f"  embedded {len(more)} more real paragraphs in {time.perf_counter() - started:.0f} s"
        )
    return np.concatenate([matrix, more])


def normalised(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


class VectorSource:
    """Vectors for synthetic stores, made from real embeddings in one of two ways.

    "gaussian": draws from a normal distribution with the real vectors' mean and covariance,
    so the spread over directions (a few dominant ones, a long tail) is that of real text
    embeddings, with no duplicates; "copies": real vectors plus N(0, 0.05) per value (noise
    as large as the vector), ~1,000 near-equidistant copies per real chunk at 1M: near-ties
    for exact search. real_recall compares both to real data.
    """

    def __init__(self, real: np.ndarray, kind: str, seed: int = 0) -> None:
        self.real, self.kind = real, kind
        self.rng = np.random.default_rng(seed)
        self.mean = real.mean(0)
        # A sampling factor of the covariance (eigh: safe when it is only semi-definite).
        values, vectors = np.linalg.eigh(np.cov(real, rowvar=False))
        self.factor = vectors * np.sqrt(values.clip(min=0))

    def draw(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, the real row each one's text comes from)."""
        picks = self.rng.integers(0, len(self.real), count)
        if self.kind == "copies":
            noise = self.rng.normal(0, 0.05, (count, self.real.shape[1]))
            return normalised(self.real[picks] + noise), picks
        normal = self.rng.standard_normal((count, self.real.shape[1]))
        return normalised(self.mean + normal @ self.factor.T), picks


def synthetic_store(kb: KnowledgeBase, size: int, source: VectorSource) -> KnowledgeBase:
    """A store of `size` chunks: the real chunks' texts cycled, vectors from `source`."""
    rows = kb.conn.execute("SELECT heading, location, text FROM chunks").fetchall()
    store = KnowledgeBase.create(f"synthetic-{size}", "all-MiniLM-L6-v2")
    conn = store.conn
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO meta(key, value) VALUES ('dim', ?)", (str(source.real.shape[1]),))
    per_doc = 100
    for start in range(0, size, per_doc):
        doc = conn.execute(
            "INSERT INTO documents(path, sha256, size, title, added_at) VALUES (?,?,?,?,?)",
            (f"/synthetic/{start // per_doc}.md", str(start), 0, "synthetic", time.time()),
        ).lastrowid
        vectors, picks = source.draw(min(per_doc, size - start))
        conn.executemany(
            "INSERT INTO chunks(document_id, ord, heading, location, text, vector)"
            " VALUES (?,?,?,?,?,?)",
            [
                (doc, i, *rows[p % len(rows)], vectors[i].tobytes())
                for i, p in enumerate(picks.tolist())
            ],
        )
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'generation'")
    conn.execute("COMMIT")
    return store


def exact_top(matrix: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row numbers of the k best rows per query, float32 (the reference for recall)."""
    top = []
    for start in range(0, len(queries), 64):
        scores = queries[start : start + 64] @ matrix.T
        part = np.argpartition(-scores, k, axis=1)[:, :k]
        order = np.take_along_axis(scores, part, 1).argsort(axis=1)[:, ::-1]
        top.append(np.take_along_axis(part, order, 1))
    return np.concatenate(top)


def ann_recall(
    index: ann.AnnIndex,
    ids: np.ndarray,
    truth: np.ndarray,
    queries: np.ndarray,
    wanted: int | None = None,
    k: int = 10,
) -> float:
    """Mean share of the exact top k that the index's top k finds, rescoring a shortlist of
    `wanted` rows (default: the shipped ann.shortlist)."""
    found = 0
    for query, rows in zip(queries, truth, strict=True):
        keys, _ = index.search(query, k, wanted)
        found += len(set(keys) & set(ids[rows].tolist()))
    return found / (k * len(queries))


DOC_PACKAGES = "numpy torch transformers sentence_transformers textual rich PIL typer".split()


def module_names() -> list[str]:
    """The standard library's modules and their submodules, then some installed packages'."""
    skip = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "test"}
    tops = sorted(n for n in sys.stdlib_module_names if not n.startswith("_") and n not in skip)
    names = []
    with warnings.catch_warnings():  # walking imports packages: deprecation notices galore
        warnings.simplefilter("ignore")
        for top in tops + DOC_PACKAGES:
            names.append(top)
            try:
                path = getattr(importlib.import_module(top), "__path__", None)
            except Exception:
                continue
            for info in pkgutil.walk_packages(path or [], top + ".", onerror=lambda _: None):
                parts = info.name.split(".")[1:]
                if not any(p.startswith("_") or p in skip or p == "tests" for p in parts):
                    names.append(info.name)
    return names


def doc_paragraphs(limit: int) -> list[str]:
    """Docstring paragraphs (first 300 characters), distinct: more real text to embed."""
    found: dict[str, None] = {}
    for name in module_names():
        try:
            text = module_markdown(name) or ""
        except Exception:  # a module that fails on import or on inspection
            continue
        found.update((p.strip()[:300], None) for p in text.split("\n\n") if len(p.strip()) > 80)
        if len(found) >= limit:
            break
    return list(found)[:limit]


def held_out_recall(vectors: np.ndarray, questions: np.ndarray, wanted: int) -> tuple[float, float]:
    """Build an index on all but 200 of `vectors`; recall@10 rescoring a shortlist of `wanted`
    rows, for the 200 held-out vectors and for the questions."""
    ids = np.arange(1, len(vectors) + 1, dtype=np.uint64)
    held = np.zeros(len(ids), dtype=bool)
    held[np.random.default_rng(1).choice(len(ids), min(200, len(ids) // 10), replace=False)] = True
    index = ann.AnnIndex.build(vectors.shape[1], ids[~held], vectors[~held], 0)
    return tuple(  # type: ignore[return-value]
        ann_recall(index, ids[~held], exact_top(vectors[~held], queries, 10), queries, wanted)
        for queries in (vectors[held], questions)
    )


def real_recall(real: np.ndarray) -> None:
    """Recall@10 of the approximate index on real embeddings, and which synthetic data is like
    them: each kind is indexed at the real data's size and searched with a shortlist of 1/100
    of it, the share the index rescores at 1M chunks. Data that loses more recall there is
    harder for the index than real embeddings are."""
    questions = get_embedder().encode([q for q, _, _ in QUESTIONS])
    wanted = max(10, len(real) // ann.SHORTLIST_SHARE)
    for kind in ("real", "gaussian", "copies"):
        vectors = real if kind == "real" else VectorSource(real, kind).draw(len(real))[0]
        held, asked = held_out_recall(vectors, questions, wanted)
        print(
            f"  shortlist {wanted} of {len(vectors) - 200} {kind:8s} vectors: recall@10 "
            f"{held:.3f} (200 held out), {asked:.3f} (questions)"
        )


def vector_only(store: KnowledgeBase, source: VectorSource, label: str, repeats: int) -> None:
    """Exact against approximate vector search at several shortlist sizes, with recall@10
    against exact float32 for the questions and for 200 new vectors from the store's source."""
    ids, matrix = store.all_vectors()
    questions = get_embedder().encode([q for q, _, _ in QUESTIONS])
    queries = np.concatenate([questions, source.draw(200)[0]])
    truth = exact_top(matrix, queries, 10)
    del matrix
    started = time.perf_counter()
    ann.remove_files(store.path.parent)
    store.ann_min_chunks = 0
    index = store.ann_index()
    assert index is not None
    build = time.perf_counter() - started
    size = sum(p.stat().st_size for p in ann.index_files(store.path.parent)) / 1e6
    store.vectors()
    exact_ms = []
    for _ in range(repeats):
        for query in queries[: len(QUESTIONS)]:
            t0 = time.perf_counter()
            exact_ranks(store, query)
            exact_ms.append((time.perf_counter() - t0) * 1000)
    print(
        f"{label}: exact vector search p50/p95 {statistics.median(exact_ms):.1f}/"
        f"{pct(exact_ms, 95):.1f} ms; ANN build {build:.1f} s, file {size:.0f} MB"
    )
    n, shipped = len(QUESTIONS), ann.shortlist(len(index))
    for wanted in sorted({len(index) // 400, len(index) // 200, shipped, len(index) // 50}):
        if not CANDIDATES <= wanted < len(index):
            continue
        ann_ms = []
        for _ in range(repeats):
            for query in queries:
                t0 = time.perf_counter()
                index.search(query, CANDIDATES, wanted)
                ann_ms.append((time.perf_counter() - t0) * 1000)
        label = " (shipped)" if wanted == shipped else ""
        print(
            f"  ANN shortlist {wanted}{label}: p50/p95 {statistics.median(ann_ms):.2f}/"
            f"{pct(ann_ms, 95):.2f} ms; recall@10 vs exact "
            f"{ann_recall(index, ids, truth[:n], queries[:n], wanted):.3f} (questions), "
            f"{ann_recall(index, ids, truth[n:], queries[n:], wanted):.3f} "
            f"(200 {source.kind} draws)"
        )
    # Back to what a fresh process does: choose exact or ANN by size, load the index file.
    store.ann_min_chunks, store._vectors, store._ann, store._exact_at = (
        ann.min_chunks(),
        None,
        None,
        None,
    )


def latency(store: KnowledgeBase, label: str, repeats: int) -> None:
    embedder = get_embedder()
    started = time.perf_counter()
    if store.ann_index() is None:
        store.vectors()  # the first query of a process loads the vectors (or the ANN index)
    load = time.perf_counter() - started
    mode = "exact" if store.ann_index() is None else "ANN"
    embed_ms, vector_ms, fts_ms, total_ms = [], [], [], []
    questions = [q for q, _, _ in QUESTIONS] * repeats
    for question in questions:
        # The whole path a chat turn takes, first: the parts below would warm its caches.
        t0 = time.perf_counter()
        search(store, embedder, question, k=5)
        total_ms.append((time.perf_counter() - t0) * 1000)
        t1 = time.perf_counter()
        qv = embedder.encode_query(question)
        t2 = time.perf_counter()
        vector_ranks(store, qv)
        t3 = time.perf_counter()
        text_ranks(store, question)
        embed_ms.append((t2 - t1) * 1000)
        vector_ms.append((t3 - t2) * 1000)
        fts_ms.append((time.perf_counter() - t3) * 1000)
    size = store.disk_bytes() / 1e6
    print(
        f"{label} ({mode}): query embed+hybrid search p50 {statistics.median(total_ms):.1f} ms, "
        f"p95 {pct(total_ms, 95):.1f} ms  (embed p50 {statistics.median(embed_ms):.1f}, "
        f"vector p50/p95 {statistics.median(vector_ms):.1f}/{pct(vector_ms, 95):.1f}, "
        f"FTS p50/p95 {statistics.median(fts_ms):.1f}/{pct(fts_ms, 95):.1f}); "
        f"vectors loaded in {load:.2f} s; KB on disk {size:.0f} MB; {len(total_ms)} searches, "
        f"load average {os.getloadavg()[0]:.1f}"
    )


# -- cold start: `mmchat kb search` in a fresh process, and the UI's lag while turns search ----

COLD_DOCS = {
    "zorblax.md": "# Zorblax 3000 Guide\n\n## Warranty\n\nThe warranty lasts seven years.\n\n"
    "## Resetting\n\nTo reset it, hold the blue button for ten seconds.\n",
    "office.txt": "The cafeteria opens at 8 am.\n\nVisitors park for free on level B2.\n",
}
# A stand-in for the TUI's process: an event loop ticking every 5 ms (as key and timer events
# are handled) while a thread runs turns' searches through the plugin hook, as the app's turn
# worker does. Prints the first search's seconds and how late the ticks came.
LAG_PROBE = """
import asyncio, json, sys, threading, time
from mmchat.hooks import Persona
from mmchat.plugin_manager import load_plugins
manager = load_plugins(allow=["kb"])
persona = Persona(name="p", system_prompt="", knowledge_bases=(sys.argv[1],))
times = []
def turns():
    for q in sys.argv[2:]:
        t0 = time.perf_counter()
        manager.call_each("mmchat_retrieve", query=q, persona=persona)
        times.append(time.perf_counter() - t0)
async def main():
    worker = threading.Thread(target=turns); worker.start(); late = []
    while worker.is_alive():
        t0 = time.perf_counter(); await asyncio.sleep(0.005)
        late.append((time.perf_counter() - t0 - 0.005) * 1000)
    late.sort()
    rest = 1000 * sum(times[1:]) / max(1, len(times) - 1)
    p99 = late[int(0.99 * (len(late) - 1))]
    print(json.dumps({"first": times[0], "rest_ms": rest, "p99": p99, "max": late[-1]}))
asyncio.run(main())
"""
HEAVY = ("torch", "sentence_transformers", "transformers", "onnxruntime", "tokenizers", "numpy")


def cold_kb(folder: Path) -> str:
    """A small knowledge base, and a question through the model so the export and its
    sidecar exist (what any first search leaves behind)."""
    name = "cold"
    if name not in KnowledgeBase.names():
        for file, text in COLD_DOCS.items():
            (folder / file).write_text(text, encoding="utf-8")
        with KnowledgeBase.create(name, "all-MiniLM-L6-v2") as kb:
            add_paths(kb, get_embedder(), [folder])
    get_embedder().encode_query("make the export and its sidecar")
    return name


def cold_search(name: str, question: str, env: dict[str, str]) -> tuple[float, float, str]:
    """(wall s, CPU s, -X importtime report): CPU time depends less on the other processes
    sharing the cores, and is about what the wall time is on an idle machine."""
    command = [sys.executable, "-X", "importtime", "-m", "mmchat", "kb", "search", name, question]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, run.stderr


def import_seconds(report: str) -> dict[str, float]:
    """Cumulative import time of the top-level packages in a -X importtime report."""
    found: dict[str, float] = {}
    for line in report.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            module = parts[2].strip()
            top = module.split(".")[0]
            if module == top or module in ("mmchat.cli", "mmchat_kb.cli", "mmchat_kb.search"):
                found[module] = max(found.get(module, 0.0), int(parts[1]) / 1e6)
    return found


def cold(repeats: int) -> None:
    """Cold `mmchat kb search` wall time with the sidecar (tokenizers + onnxruntime) and
    through sentence-transformers (no sidecar), its import breakdown, and the UI lag."""
    with tempfile.TemporaryDirectory() as tmp:
        name = cold_kb(Path(tmp))
    cache = plugin_cache_dir("kb-onnx")
    question = "How long is the warranty?"
    env = {**os.environ, "MMCHAT_PLUGINS": "kb"}
    walls, cpus, report = [], [], ""
    for _ in range(repeats):
        wall, cpu, report = cold_search(name, question, env)
        walls.append(wall)
        cpus.append(cpu)
    imports = import_seconds(report)
    print(
        f"cold `mmchat kb search` (ONNX sidecar): wall min {min(walls):.2f} s, median "
        f"{statistics.median(walls):.2f} s, CPU median {statistics.median(cpus):.2f} s over "
        f"{repeats}; load average {os.getloadavg()[0]:.1f}"
    )
    top = sorted(imports.items(), key=lambda kv: -kv[1])[:8]
    print("  imports (cumulative s): " + ", ".join(f"{m} {s:.2f}" for m, s in top))
    print(f"  heavy modules imported: {sorted(m for m in HEAVY if m in imports)}")
    with tempfile.TemporaryDirectory() as bare:  # the export without its sidecar
        (Path(bare) / "kb-onnx").mkdir()
        for onnx in cache.glob("*.onnx"):
            shutil.copy2(onnx, Path(bare) / "kb-onnx")
        wall, cpu, report = cold_search(name, question, {**env, "MMCHAT_CACHE_DIR": bare})
    imports = import_seconds(report)
    print(
        f"cold `mmchat kb search` through sentence-transformers (no sidecar): {wall:.2f} s, "
        f"CPU {cpu:.2f} s; "
        f"sentence_transformers import {imports.get('sentence_transformers', 0):.2f} s, "
        f"torch {imports.get('torch', 0):.2f} s; load average {os.getloadavg()[0]:.1f}"
    )
    questions = [q for q, _, _ in QUESTIONS[:20]]
    for label, value in (("search process", "1"), ("thread of the UI process", "0")):
        run = subprocess.run(
            [sys.executable, "-c", LAG_PROBE, name, *questions],
            capture_output=True,
            text=True,
            env={**env, "MMCHAT_KB_SEARCH_PROCESS": value},
            check=True,
        )
        lag = json.loads(run.stdout)
        print(
            f"UI loop while {len(questions)} turns search ({label}): 5 ms tick late p99 "
            f"{lag['p99']:.1f} ms, max {lag['max']:.1f} ms; first search {lag['first']:.2f} s, "
            f"then {lag['rest_ms']:.1f} ms each; load average {os.getloadavg()[0]:.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="every stdlib module (~10k chunks)")
    parser.add_argument("--sizes", default="10000,100000", help="latency store sizes")
    parser.add_argument("--repeats", type=int, default=2, help="passes over the questions")
    parser.add_argument(
        "--real", type=int, default=10000, help="real embeddings for the ANN recall (embeds more)"
    )
    parser.add_argument(
        "--vectors",
        choices=("gaussian", "copies"),
        default="gaussian",
        help="synthetic store vectors (VectorSource)",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="skip ingest if MMCHAT_HOME has the corpus"
    )
    parser.add_argument(
        "--cold", type=int, default=0, metavar="N", help="only the cold-start figures, N runs"
    )
    args = parser.parse_args()
    if "MMCHAT_HOME" not in os.environ:
        os.environ["MMCHAT_HOME"] = tempfile.mkdtemp(prefix="bench-kb-")
    if args.cold:
        cold(args.cold)
        return
    stores = Path(os.environ["MMCHAT_HOME"]) / "data" / "kb"
    print(f"cpu count {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}")
    if args.reuse and "bench" in KnowledgeBase.names():
        kb = KnowledgeBase.open("bench")
        for name in KnowledgeBase.names():
            if name.startswith("synthetic-"):
                shutil.rmtree(stores / name)
        print(f"reusing the ingested corpus: {kb.counts()[1]} chunks")
    else:
        shutil.rmtree(stores, ignore_errors=True)
        with tempfile.TemporaryDirectory() as tmp:
            written = build_corpus(Path(tmp), args.full)
            print(f"stdlib modules written: {written}")
            kb = ingest(Path(tmp))
    recall(kb)
    real = real_vectors(kb, args.real)
    real_recall(real)
    latency(kb, f"{kb.counts()[1]} real chunks", args.repeats)
    source = VectorSource(real, args.vectors)
    for size in (int(s) for s in args.sizes.split(",") if s):
        started = time.perf_counter()
        store = synthetic_store(kb, size, source)
        print(
            f"built {size} synthetic chunks ({args.vectors} vectors) "
            f"in {time.perf_counter() - started:.1f} s"
        )
        vector_only(store, source, f"{size} chunks", args.repeats)
        latency(store, f"{size} chunks", args.repeats)
        store.close()
    kb.close()


if __name__ == "__main__":
    main()
