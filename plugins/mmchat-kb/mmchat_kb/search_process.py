"""Knowledge-base searches for chat turns run in a process of their own, kept across turns.

A turn's search runs on a worker thread of the app, but in the TUI's process it would share
the GIL with the event loop: the first search imports numpy and onnxruntime (and torch, for
a knowledge base past the ANN threshold), loads every vector or the index file, and a search
of a large knowledge base is tens of milliseconds of Python and numpy per turn. In a process
of its own none of that can stall a keypress, and a search that runs out of memory ends that
process, not the app. The process starts on the first search (about a second here, paid once
in place of the same imports in the app) and is started again when it died or when the
environment it was started with changed (MMCHAT_HOME, MMCHAT_CACHE_DIR: another set of
knowledge bases). MMCHAT_KB_SEARCH_PROCESS=0 searches in the calling process instead.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import threading

from mmchat_kb.paths import KBError
from mmchat_kb.search import Hit


def enabled() -> bool:
    return os.environ.get("MMCHAT_KB_SEARCH_PROCESS", "1").strip() != "0"


class SearchProcess:
    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._env: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def search(self, name: str, query: str, k: int) -> list[Hit]:
        """The hits of `query` in knowledge base `name`; KBError as the search raised it."""
        request = json.dumps({"kb": name, "query": query, "k": k}) + "\n"
        with self._lock:
            line = self._ask(request) or self._ask(request)  # once more in a fresh process
        if not line:
            raise RuntimeError("the knowledge-base search process ended without an answer")
        reply = json.loads(line)
        if "kb_error" in reply:
            raise KBError(reply["kb_error"])
        if not reply.get("ok"):
            raise RuntimeError(reply.get("error", "the search failed"))
        return [Hit(**hit) for hit in reply["hits"]]

    def _ask(self, request: str) -> str:
        """The reply line, or "" when the process ended (it is then closed)."""
        proc = self._running()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(request)
            proc.stdin.flush()
            line = proc.stdout.readline()
        except OSError:  # a broken pipe: it died between two searches
            line = ""
        if not line:
            self.close()
        return line

    def _running(self) -> subprocess.Popen[str]:
        proc = self._proc
        if proc is not None and (proc.poll() is not None or self._env != dict(os.environ)):
            self.close()
        if self._proc is None:
            self._env = dict(os.environ)
            self._proc = subprocess.Popen(
                # -P: a module planted in the current folder must not run in it
                [sys.executable, "-P", "-m", "mmchat_kb.search_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # the TUI owns the terminal
                text=True,
                encoding="ascii",
            )
        return self._proc

    def close(self) -> None:
        """End the process: stdin closed, it finishes the search it is on and exits."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        try:
            proc.wait(timeout=1)  # the app must end within 2 s (Ctrl-C, SIGTERM)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_SHARED = SearchProcess()
atexit.register(_SHARED.close)


def shared() -> SearchProcess:
    return _SHARED
