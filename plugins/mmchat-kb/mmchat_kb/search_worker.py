"""The process that searches knowledge bases for chat turns (search_process.py starts it).

One JSON request a line on stdin ({"kb", "query", "k"}), one JSON reply a line: the hits, or
the error. It ends when stdin closes, which is also what happens when mmchat ends or is
killed, so it is never left behind. Libraries that print would garble the replies: fd 1 is
pointed at stderr (which the parent discards) and replies go to a copy of the original.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from typing import Any


def handle(request: dict[str, Any]) -> dict[str, Any]:
    from mmchat_kb.paths import KBError
    from mmchat_kb.plugin import search_here

    try:
        hits = search_here(str(request["kb"]), str(request["query"]), int(request["k"]))
    except KBError as exc:
        return {"ok": False, "kb_error": str(exc)}
    except Exception as exc:  # reported to the turn as this plugin's failure
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "hits": [dataclasses.asdict(h) for h in hits]}


def main() -> None:
    # One question's matrix-vector product gives a second BLAS thread little to do, and with
    # the cores busy the two wait on each other: 50k chunks p50 21 ms on one, 32 on two.
    # Set before numpy is first imported, which reads it once.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    replies = os.fdopen(os.dup(1), "w", encoding="ascii")
    os.dup2(2, 1)
    for line in sys.stdin:
        # ASCII JSON: a title from a non-UTF-8 file name holds lone surrogates.
        replies.write(json.dumps(handle(json.loads(line))) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()
