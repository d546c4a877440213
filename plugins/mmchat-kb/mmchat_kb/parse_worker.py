"""The parsing process: reads one file per request line, answers one JSON line.

Hostile files (PDF and zip bombs, endless PDFs) are parsed here, not in mmchat's process: the
address space is capped with RLIMIT_AS, and the parent kills this process when a file takes too
long, so the worst a file can do is lose its own ingest.
"""

from __future__ import annotations

import dataclasses
import json
import resource
import sys
from pathlib import Path
from typing import Any

from mmchat_kb.blocks import ExtractError
from mmchat_kb.limits import Limits


def _cap_memory(limit: int) -> None:
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        pass  # a lower hard limit is already in force


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
    for line in sys.stdin:
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
