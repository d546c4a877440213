"""The parsing process: reads one file per request line, answers one JSON line.

Hostile files (PDF and zip bombs, endless PDFs) are parsed here, not in mmchat's process: the
address space is capped with RLIMIT_AS, and the parent kills this process when a file takes too
long, so the worst a file can do is lose its own ingest. Should the parent be gone (killed, or
stuck), each file also has a CPU-time limit (RLIMIT_CPU: the kernel ends the process), and a
watchdog ends the process as soon as its parent is no longer the one that started it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

from mmchat_kb.blocks import ExtractError
from mmchat_kb.limits import Limits


def _cap_memory(limit: int) -> None:
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        pass  # a lower hard limit is already in force


def _cap_cpu(seconds: float) -> None:
    """At most `seconds` more CPU time for the file about to be read: RLIMIT_CPU counts the
    whole process's life, so the soft limit is moved to what is used now plus the budget."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(used.ru_utime + used.ru_stime + seconds) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except (ValueError, OSError):
        pass  # a lower hard limit is already in force


WATCHDOG_STACK = 256 * 1024


def _watch_parent(parent: int, every: float = 0.5) -> None:
    """End this process once its parent is gone (it is then re-parented): a file mid-parse
    must not keep a core busy for nobody."""

    def watch() -> None:
        while True:
            try:
                if os.getppid() != parent:
                    os._exit(3)
                time.sleep(every)
            except MemoryError:  # the file being read took the address space: look again
                continue

    # A small stack: a thread's default 8 MB counts against the address-space cap (RLIMIT_AS).
    previous = threading.stack_size(WATCHDOG_STACK)
    try:
        threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()
    finally:
        threading.stack_size(previous)


def handle(request: dict[str, Any], limits: Limits) -> dict[str, Any]:
    from mmchat_kb.extract import extract

    try:
        doc = extract(Path(request["path"]), request["kind"], limits)
    except ExtractError as exc:
        return {"ok": False, "error": str(exc)}
    except MemoryError:
        mb = limits.parse_memory_bytes // (1024 * 1024)
        return {"ok": False, "error": f"needs more than the {mb} MB reading limit (a bomb?)"}
    except RecursionError:
        return {"ok": False, "error": "is malformed (nested too deeply)"}
    except OSError as exc:
        return {"ok": False, "error": f"cannot be read ({exc.strerror or exc})"}
    except Exception as exc:  # a damaged file can make any library raise anything
        return {"ok": False, "error": f"cannot be read ({type(exc).__name__}: {exc})"}
    return {"ok": True, "title": doc.title, "blocks": [b.to_list() for b in doc.blocks]}


def main() -> None:
    limits = Limits(**json.loads(sys.argv[1]))
    _cap_memory(limits.parse_memory_bytes)
    _watch_parent(os.getppid())
    for line in sys.stdin:
        # The parent's deadline is wall time; this one holds even when the parent is gone.
        _cap_cpu(limits.parse_seconds)
        try:
            reply = handle(json.loads(line), limits)
        except MemoryError:
            reply = {"ok": False, "error": "needs more memory than the reading limit"}
        # ASCII JSON: a title taken from a non-UTF-8 file name holds lone surrogates.
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def limits_arg(limits: Limits) -> str:
    return json.dumps(dataclasses.asdict(limits))


if __name__ == "__main__":
    main()
