"""The engine process: `python -m mmchat.engine.worker`, driven by JSON lines.

Requests on stdin:  {"op": "load", ...} {"op": "generate", "request": {...}} {"op": "cancel"}
                    {"op": "shutdown"}
Events on stdout:   progress / loaded / started / delta / finished / failed, one JSON object a line.

The model runs here and not in the UI's process: a model thread inside the Textual process
runs several times slower (GIL and render loop; docs/PERFORMANCE.md), and an out-of-memory
kill here leaves the UI and the database untouched. The shape matches a remote inference
server's stream.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO

from mmchat.engine.base import (
    Delta,
    EngineError,
    EngineOptions,
    Event,
    Failed,
    GenerationRequest,
    Progress,
    event_to_json,
)

# How long answer text may wait to join the next piece: one pipe message per token woke the
# parent once per token, and on a 2-core CPU each wake-up preempts one of torch's two threads
# (docs/PERFORMANCE.md). 40 ms is below what a reader notices.
COALESCE_SECONDS = 0.04


class Coalescer:
    """Joins answer text that arrives within `interval` of the last piece sent into one Delta.

    The first piece goes at once (the time to the first token is what a person waits for);
    anything that is not answer text first sends the text held back, so order is kept and a
    finished or cancelled answer arrives whole.
    """

    def __init__(
        self,
        send: Callable[[Event], None],
        interval: float = COALESCE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.send = send
        self.interval = interval
        self.clock = clock
        self.pending: list[str] = []
        self.last_sent = float("-inf")

    def push(self, event: Event) -> None:
        if isinstance(event, Delta):
            self.pending.append(event.text)
            if self.clock() - self.last_sent >= self.interval:
                self.flush()
            return
        self.flush()
        self.send(event)

    def flush(self) -> None:
        if self.pending:
            text = "".join(self.pending)
            self.pending.clear()
            self.send(Delta(text))
            self.last_sent = self.clock()


class Worker:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.write_lock = threading.Lock()
        self.engine: Any = None
        # The model loads and answers on this one thread, one request after another, while
        # the main thread reads requests (a cancel arrives mid-answer). Answers generated on
        # another thread than the one that loaded the model decoded at 0.55x the speed on a
        # 2-core machine (75 -> 45 tokens/s; docs/PERFORMANCE.md).
        self.model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")

    def send(self, payload: dict[str, Any]) -> None:
        line = json.dumps(payload, ensure_ascii=False)
        with self.write_lock:
            self.out.write(line + "\n")
            self.out.flush()

    def send_event(self, event: Event, request_id: int | None = None) -> None:
        self.send({**event_to_json(event), "id": request_id})

    def handle(self, message: dict[str, Any]) -> bool:
        op = message.get("op")
        if op == "load":
            self.model_thread.submit(self.load, message)
        elif op == "generate":
            if self.engine is not None:
                # A new request after an abandoned one: stop the old answer; this one runs
                # once it has ended.
                self.engine.cancel()
            self.model_thread.submit(self.generate, message)
        elif op == "cancel":
            if self.engine is not None:
                self.engine.cancel()
        elif op == "shutdown":
            return False
        else:
            self.send_event(Failed(f"unknown request {op!r}"))
        return True

    def load(self, message: dict[str, Any]) -> None:
        from mmchat.engine.registry import ModelSpec

        options = EngineOptions(
            quant=message.get("quant", "auto"),
            threads=message.get("threads"),
            allow_pickle=bool(message.get("allow_pickle", False)),
        )
        try:
            spec = ModelSpec(**message["spec"])
            if spec.kind == "plugin":  # a plugin's backend: no torch unless it imports it
                from mmchat.engine.plugin import load_plugin_engine

                self.engine = load_plugin_engine(spec, options)
            else:
                # Inside the try: torch's import is the first thing to fail when memory is
                # short (its shared libraries cannot be mapped); still a one-line reply.
                from mmchat.engine.hf import HFEngine

                self.engine = HFEngine(
                    spec,
                    quant=options.quant,
                    threads=options.threads,
                    allow_pickle=options.allow_pickle,
                )
            info = self.engine.load(progress=self.send_event)
        except EngineError as exc:
            self.send({"type": "load_failed", "message": str(exc)})
            return
        except MemoryError:
            self.send({"type": "load_failed", "message": "out of memory while loading the model"})
            return
        except ImportError as exc:
            traceback.print_exc()
            self.send({"type": "load_failed", "message": _import_failure(exc)})
            return
        except Exception as exc:  # any library error becomes one line; the detail goes to the log
            traceback.print_exc()
            self.send({"type": "load_failed", "message": f"{type(exc).__name__}: {exc}"[:300]})
            return
        self.send({"type": "loaded", "info": info.__dict__})

    def generate(self, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        if self.engine is None:
            self.send_event(Failed("no model is loaded"), request_id)
            return
        try:
            request = GenerationRequest.from_json(message["request"])
            out = Coalescer(lambda event: self.send_event(event, request_id))
            try:
                for event in self.engine.stream(request):
                    out.push(event)
            finally:
                out.flush()  # text already made is never lost, even to an error
        except MemoryError:
            self.send_event(Failed("out of memory while generating"), request_id)
        except Exception as exc:
            traceback.print_exc()
            self.send_event(Failed(f"{type(exc).__name__}: {exc}"[:300]), request_id)
        else:
            self.prepare_next()

    def prepare_next(self) -> None:
        """The engine's work for the next turn, done while the person reads the answer (a
        request that arrives meanwhile stops it: handle() cancels first). Only speed rides
        on it: a failure is logged and forgotten."""
        prepare = getattr(self.engine, "prepare_next", None)
        if prepare is None:
            return
        try:
            prepare()
        except Exception:
            traceback.print_exc()


def _import_failure(exc: ImportError) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "failed to map" in text or "cannot allocate" in text.lower():
        return f"out of memory while loading the model libraries ({text[:200]})"
    return f"cannot import the model libraries: {text[:250]}"


def _private_stdout() -> TextIO:
    """Keep the protocol on a private copy of stdout; stray prints from libraries go to stderr."""
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(protocol_fd, "w", encoding="utf-8", buffering=1)


def _exit_when_orphaned(parent: int) -> None:
    # A parent killed with SIGKILL cannot shut us down, and while a model loads the main
    # thread reads no stdin to notice: without this the worker lives on as an orphan.
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _limit_memory(megabytes: str | None) -> None:
    """Cap the engine's address space: a model too big fails here, as MemoryError, cleanly.

    Also how tests make a load run out of memory without exhausting the machine.
    """
    if not megabytes:
        return
    import resource

    limit = int(megabytes) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def main() -> None:
    # Ctrl-C in the terminal reaches the whole process group; the parent decides what it means
    # (cancel the answer, then shut us down), so the worker ignores it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    _limit_memory(os.environ.get("MMCHAT_ENGINE_MEMORY_LIMIT_MB"))
    worker = Worker(_private_stdout())
    worker.send_event(Progress("engine process started", 0.0))
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            worker.send_event(Failed("malformed request"))
            continue
        if not worker.handle(message):
            break
    # stdin closed (the parent is gone) or shutdown: leave at once, threads and all.
    os._exit(0)


if __name__ == "__main__":
    main()
