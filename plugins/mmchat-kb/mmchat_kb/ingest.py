"""Adding files to a knowledge base: hash, parse (capped, in a subprocess), chunk, embed, write.

Each file is written in its own transaction, after its vectors are ready: a bad file, a kill or
a removed knowledge base loses at most the files not yet written, and re-running `add` goes on
where it stopped (unchanged files are recognised by their content hash and skipped).
Small files are embedded together in batches; the per-call overhead of the embedder would
otherwise dominate folders of many short files.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from mmchat.hooks import one_line
from mmchat_kb.blocks import Extracted, ExtractError
from mmchat_kb.chunking import Chunk, chunk_blocks, embedding_text
from mmchat_kb.embed import Embedder
from mmchat_kb.limits import Limits, human_size
from mmchat_kb.parser import Parser
from mmchat_kb.paths import path_key
from mmchat_kb.store import KBGone, KnowledgeBase
from mmchat_kb.walk import FileList, Outcome

# Chunks embedded together. The embedder sorts each call's texts by length, so a bigger call
# pads less: on bench/kb.py's corpus (912 chunks, 75k tokens) calls of 64 chunks ran 118k
# padded tokens, of 512 83k, one call of all 79k. A kill loses at most this much embedding.
BATCH_CHUNKS = 512


class Progress(Protocol):
    def files(self, total: int) -> None: ...
    def chunks(self, total: int) -> None: ...
    def chunks_done(self, n: int) -> None: ...
    def file_done(self, outcome: Outcome) -> None: ...


class NoProgress:
    def files(self, total: int) -> None:
        pass

    def chunks(self, total: int) -> None:
        pass

    def chunks_done(self, n: int) -> None:
        pass

    def file_done(self, outcome: Outcome) -> None:
        pass


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    ignored: int = 0
    stopped: str = ""  # why the ingest stopped early, if it did

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def chunks(self) -> int:
        return sum(o.chunks for o in self.outcomes)


@dataclass
class _Pending:
    path: Path
    sha256: str
    size: int
    previous: str | None
    doc: Extracted
    chunks: list[Chunk]


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class Ingestor:
    def __init__(
        self,
        kb: KnowledgeBase,
        embedder: Embedder,
        parser: Parser,
        progress: Progress | None = None,
    ) -> None:
        self.kb = kb
        self.embedder = embedder
        self.parser = parser
        self.limits: Limits = parser.limits
        self.progress = progress or NoProgress()
        self.report = Report()
        self._pending: list[_Pending] = []

    def run(self, found: FileList) -> Report:
        self.report.ignored = found.ignored
        self.progress.files(len(found.files) + len(found.problems))
        for outcome in found.problems:
            self._done(outcome)
        try:
            for path, kind in found.files:
                self.kb.check_alive()
                if (pending := self._prepare(path, kind)) is not None:
                    self._pending.append(pending)
                    self.progress.chunks(len(pending.chunks))
                if sum(len(p.chunks) for p in self._pending) >= BATCH_CHUNKS:
                    self._flush()
            self._flush()
        except KBGone as exc:
            self.report.stopped = str(exc)
        return self.report

    def _done(self, outcome: Outcome) -> None:
        outcome.message = one_line(outcome.message)
        self.report.outcomes.append(outcome)
        self.progress.file_done(outcome)

    def _prepare(self, path: Path, kind: str) -> _Pending | None:
        """Check, hash and parse one file; None when it is skipped or fails (reported)."""
        name = path_key(path)
        try:
            info = os.stat(path)
            problem = self._size_problem(info)
            if problem:
                self._done(Outcome(name, "skipped", message=problem))
                return None
            sha = file_hash(path)
        except OSError as exc:
            self._done(Outcome(name, "failed", message=f"cannot be read ({exc.strerror})"))
            return None
        previous = self.kb.document_hash(name)
        if previous == sha:
            self._done(Outcome(name, "unchanged"))
            return None
        try:
            doc = self.parser.parse(path, kind)
        except ExtractError as exc:
            self._done(Outcome(name, "failed", message=str(exc)))
            return None
        chunks = chunk_blocks(doc.blocks)
        if not chunks:
            self._done(Outcome(name, "failed", message="has no text"))
            return None
        return _Pending(path, sha, info.st_size, previous, doc, chunks)

    def _size_problem(self, info: os.stat_result) -> str:
        if not stat.S_ISREG(info.st_mode):
            return "is not a regular file"
        if info.st_size == 0:
            return "is empty"
        if info.st_size > self.limits.max_file_bytes:
            size, cap = human_size(info.st_size), human_size(self.limits.max_file_bytes)
            return f"is {size}, over the {cap} limit"
        return ""

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        texts = [embedding_text(p.doc.title, c) for p in pending for c in p.chunks]
        vectors = self.embedder.encode(texts, progress=self.progress.chunks_done)
        start = 0
        for item in pending:
            end = start + len(item.chunks)
            self.kb.write_document(
                path_key(item.path), item.sha256, item.size, item.doc.title, item.chunks,
                vectors[start:end],
            )  # fmt: skip
            start = end
            status = "updated" if item.previous else "added"
            self._done(Outcome(path_key(item.path), status, chunks=len(item.chunks)))


def add_paths(
    kb: KnowledgeBase,
    embedder: Embedder,
    paths: Sequence[Path],
    progress: Progress | None = None,
    limits: Limits | None = None,
) -> Report:
    from mmchat_kb.walk import collect

    with Parser(limits) as parser:
        report = Ingestor(kb, embedder, parser, progress).run(collect(paths))
    if not report.stopped:
        kb.sync_ann()  # build or save the ANN index here, not in the next chat turn
    return report
