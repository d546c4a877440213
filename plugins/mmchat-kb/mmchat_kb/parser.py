"""The parent's side of the parsing process: send a path, wait with a deadline, restart."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from mmchat_kb.blocks import Block, Extracted, ExtractError
from mmchat_kb.limits import Limits
from mmchat_kb.parse_worker import limits_arg
from mmchat_kb.paths import valid_text


class Parser:
    """One long-lived parsing process, replaced when a file kills it or runs out of time."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits.from_env()
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Parser:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            # -P: never import from the current folder (`-m` would put it first on sys.path).
            self._proc = subprocess.Popen(
                [sys.executable, "-P", "-m", "mmchat_kb.parse_worker", limits_arg(self.limits)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # library warnings about broken files are noise
                bufsize=0,
                # One malloc arena: glibc reserves 64 MB of address space for each thread that
                # allocates, which the worker's address-space cap would count against a file.
                env={**os.environ, "MALLOC_ARENA_MAX": "1"},
            )
        return self._proc

    def parse(self, path: Path, kind: str) -> Extracted:
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        request = json.dumps({"path": str(path), "kind": kind}) + "\n"
        try:
            proc.stdin.write(request.encode())
        except BrokenPipeError:
            self._kill()
            raise ExtractError("could not be read: the reading process ended") from None
        line = self._read_line(proc)
        reply = json.loads(line)
        if not reply["ok"]:
            raise ExtractError(reply["error"])
        blocks = [Block.from_list(b) for b in reply["blocks"]]
        # A name from a non-UTF-8 file name, or a broken PDF text map, can hold lone surrogates,
        # which neither the tokenizer nor SQLite accept.
        return Extracted(
            valid_text(reply["title"]),
            [replace(b, text=valid_text(b.text), heading=valid_text(b.heading)) for b in blocks],
        )

    def _read_line(self, proc: subprocess.Popen[bytes]) -> bytes:
        assert proc.stdout is not None
        deadline = time.monotonic() + self.limits.parse_seconds
        parts: list[bytes] = []
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(timeout=left):
                    self._kill()
                    raise ExtractError(
                        f"took longer than {self.limits.parse_seconds:g} s to read "
                        "(endless or hostile file?)"
                    )
                data = os.read(proc.stdout.fileno(), 1 << 20)
                if not data:
                    code = self._kill()
                    raise ExtractError(
                        f"made the reading process crash (exit {code}; out of memory or a bomb?)"
                    )
                parts.append(data)
                if data.endswith(b"\n"):
                    return b"".join(parts)

    def _kill(self) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        proc.kill()
        code = proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        return code

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
