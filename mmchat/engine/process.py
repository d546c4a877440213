"""The client side of the engine process: the Engine protocol over a pipe.

Importing this module does not import torch; the TUI and the CLI use it and stay quick to start.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from mmchat.engine.base import (
    EngineError,
    Event,
    Failed,
    GenerationRequest,
    ModelInfo,
    Progress,
    ProgressCallback,
    event_from_json,
)
from mmchat.engine.registry import ModelSpec


def open_log(path: Path) -> int:
    """The log file, for appending: created 0600 (tracebacks in it can quote prompts and
    answers), and never through a symbolic link, which could name any file of this user's."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(path, flags, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise EngineError(f"{path} is a symbolic link; not followed (remove it)") from None
        raise EngineError(f"cannot open {path}: {exc.strerror or exc}") from None


class ProcessEngine:
    """Runs the engine (HFEngine, or a plugin's: engine/plugin.py) in a child process and
    streams its events back."""

    def __init__(
        self,
        spec: ModelSpec,
        *,
        quant: str = "auto",
        threads: int | None = None,
        allow_pickle: bool = False,
        log_path: Path | None = None,
    ) -> None:
        self.spec = spec
        self.options: dict[str, Any] = {
            "quant": quant,
            "threads": threads,
            "allow_pickle": allow_pickle,
        }
        self.log_path = log_path
        self.on_progress: ProgressCallback | None = None  # for loads that stream() starts
        self.proc: subprocess.Popen[str] | None = None
        self._write_lock = threading.Lock()
        self._request_ids = itertools.count(1)
        self.info: ModelInfo | None = None

    # -- process plumbing ------------------------------------------------------------------

    def _start(self) -> subprocess.Popen[str]:
        log: IO[str] | int = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            log = os.fdopen(open_log(self.log_path), "a", encoding="utf-8")
        env = dict(os.environ)
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        env.setdefault("TRANSFORMERS_VERBOSITY", "error")
        env.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        env["PYTHONUNBUFFERED"] = "1"
        # -P: `-m` would put the current folder first on sys.path, and a json.py or mmchat/ in
        # whatever folder mmchat runs from would be imported by the worker. PYTHONSAFEPATH
        # carries the same rule to anything the worker starts.
        env["PYTHONSAFEPATH"] = "1"
        try:
            return subprocess.Popen(
                [sys.executable, "-P", "-m", "mmchat.engine.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=env,
                bufsize=1,
            )
        finally:
            if not isinstance(log, int):
                log.close()

    def _send(self, payload: dict[str, Any]) -> None:
        proc = self.proc
        if proc is None or proc.stdin is None:
            raise EngineError("the model process is not running")
        with self._write_lock:
            try:
                proc.stdin.write(json.dumps(payload) + "\n")
                proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                raise EngineError(self._death_message()) from None

    def _read(self) -> dict[str, Any]:
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise EngineError(self._death_message())
        try:
            data: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            raise EngineError(f"garbled reply from the model process: {line[:80]!r}") from None
        return data

    def _death_message(self) -> str:
        proc = self.proc
        code = proc.wait(timeout=5) if proc is not None else None
        where = f"; details in {self.log_path}" if self.log_path else ""
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            hint = " (most likely out of memory)" if -code == signal.SIGKILL else ""
            return f"the model process was killed by {name}{hint}{where}"
        return f"the model process stopped unexpectedly (exit code {code}){where}"

    # -- Engine protocol -------------------------------------------------------------------

    def load(self, progress: ProgressCallback | None = None) -> ModelInfo:
        self.info = None  # loading: close() kills rather than waits
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        self._send({"op": "load", "spec": self.spec.__dict__, **self.options})
        while True:
            data = self._read()
            kind = data.get("type")
            if kind == "loaded":
                self.info = ModelInfo(**data["info"])
                return self.info
            if kind == "load_failed":
                self.close()
                raise EngineError(str(data.get("message", "the model failed to load")))
            if kind == "progress" and progress is not None:
                progress(Progress(data.get("stage", ""), data.get("fraction")))

    def stream(self, request: GenerationRequest) -> Iterator[Event]:
        """Stream an answer; a model not loaded yet is loaded first (a failure is an event)."""
        if self.info is None:
            try:
                self.load(self.on_progress)
            except EngineError as exc:
                yield Failed(str(exc))
                return
        request_id = next(self._request_ids)
        done = False
        try:
            self._send({"op": "generate", "id": request_id, "request": request.to_json()})
            while not done:
                data = self._read()
                if data.get("id") != request_id:
                    continue  # the tail of an earlier, abandoned answer
                event = event_from_json(data)
                if isinstance(event, Progress):
                    continue
                done = event.type in ("finished", "failed")
                yield event
        except EngineError as exc:
            done = True
            yield Failed(str(exc))
        finally:
            if not done:
                self.cancel()  # the reader went away mid-answer

    def cancel(self) -> None:
        try:
            self._send({"op": "cancel"})
        except EngineError:
            pass  # nothing left to cancel

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if self.info is None:
                # Still loading: the worker reads no requests until the load ends, and a
                # half-loaded model holds nothing to save. Ctrl-C must end within 2 s.
                proc.kill()
            elif proc.poll() is None and proc.stdin is not None:
                proc.stdin.write(json.dumps({"op": "shutdown"}) + "\n")
                proc.stdin.close()
            proc.wait(timeout=1)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait(timeout=5)
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
