"""A small writer process for the fault loops: `python writer.py MODE DB [N]`.

It uses mmchat.store exactly as the app does and prints one line per committed write, after the
commit returned: the parent counts those lines as confirmed and kills this process at random.

Modes:
  turns DB        forever: a user message, then an answer checkpointed piece by piece and finished
                  (the write pattern of chat.Turn); prints "C <message id> <length> <sha1>"
  burst DB N      wait for DB.go, then N read-then-write transactions; prints one JSON summary
  start DB        open the store once (a first start: migrations) and print "ok" or the error
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

from mmchat.store import Store, StoreError


def confirm(message_id: int, content: str) -> None:
    digest = hashlib.sha1(content.encode()).hexdigest()
    sys.stdout.write(f"C {message_id} {len(content)} {digest}\n")
    sys.stdout.flush()


def turns(path: Path) -> None:
    print("opening", flush=True)  # the parent aims kills at the first start from here
    with Store(path) as store:
        print("opened", flush=True)
        conv = store.create_conversation(model="writer")
        n = 0
        while True:
            n += 1
            question = f"question {n} from {os.getpid()}"
            confirm(store.add_message(conv.id, "user", question).id, question)
            answer = store.add_message(conv.id, "assistant", "", status="streaming")
            text = ""
            for piece in range(6):
                text += f"piece {piece} of answer {n}; "
                store.checkpoint(answer.id, text)
                confirm(answer.id, text)
            store.finish(answer.id, content=text, status="complete")
            confirm(answer.id, text)


def burst(path: Path, count: int) -> None:
    try:
        store = Store(path)
        conv = store.create_conversation(model="burst")
    except StoreError as exc:  # a failed first start fails every write; the parent shows why
        print(json.dumps({"locked": 0, "failed": count, "done": 0, "error": str(exc)}))
        return
    go = path.with_name(path.name + ".go")
    while not go.exists():
        time.sleep(0.005)
    locked = failed = 0
    for i in range(count):
        try:
            store.add_message(conv.id, "user", f"burst {os.getpid()} {i}")
            store.conversations(limit=5)  # a read between writes, as the UI does
        except StoreError as exc:
            if "locked" in str(exc):
                locked += 1
            else:
                failed += 1
    store.close()
    print(json.dumps({"locked": locked, "failed": failed, "done": count}))


def start(path: Path) -> None:
    go = path.with_name(path.name + ".go")
    while not go.exists():
        time.sleep(0.002)
    try:
        Store(path).close()
    except Exception as exc:  # the figure counts any failed start, whatever its type
        print(f"error {type(exc).__name__}: {exc}")
        return
    print("ok")


def main() -> None:
    mode, path = sys.argv[1], Path(sys.argv[2])
    if mode == "turns":
        turns(path)
    elif mode == "burst":
        burst(path, int(sys.argv[3]))
    elif mode == "start":
        start(path)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
