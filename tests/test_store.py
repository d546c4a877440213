from __future__ import annotations

import io
import multiprocessing
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PIL import Image

from mmchat.images import check_image_bytes
from mmchat.migrations import MIGRATIONS, SCHEMA_VERSION
from mmchat.store import NotFound, Store, StoreError


def _png(color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, "PNG")
    return buffer.getvalue()


def test_fresh_database_has_every_migration_once(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    Store(path).close()
    Store(path).close()  # a second open applies nothing again
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    names = [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert names == [name for name, _ in MIGRATIONS]


def test_private_file_modes_under_umask_022(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "data" / "m.db"
        store = Store(path)
        store.create_conversation(title="x")
        modes = {
            p.name: stat.S_IMODE(p.stat().st_mode)
            for p in path.parent.iterdir()
            if p.name.startswith("m.db")
        }
        store.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert modes["m.db"] == 0o600
    assert all(mode == 0o600 for mode in modes.values()), modes


def test_messages_status_tokens_and_search(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        conv = store.create_conversation(model="smollm2", persona="assistant")
        store.add_message(conv.id, "user", "Tell me about zebras")
        answer = store.add_message(conv.id, "assistant", "", status="streaming")
        store.checkpoint(answer.id, "Zebras are")
        assert store.message(answer.id).content == "Zebras are"
        done = store.finish(
            answer.id, content="Zebras are striped.", status="complete", completion_tokens=5
        )
        assert (done.status, done.completion_tokens) == ("complete", 5)
        assert store.conversation(conv.id).title == "Tell me about zebras"
        assert [c.id for c in store.conversations("zebra")] == [conv.id]
        assert store.conversations("giraffe") == []
        assert store.conversations("100%_") == []  # LIKE wildcards are escaped


def test_attachments_are_content_addressed(tmp_path: Path) -> None:
    image = check_image_bytes(_png(), "red.png")
    with Store(tmp_path / "m.db") as store:
        a = store.create_conversation()
        b = store.create_conversation()
        store.add_message(a.id, "user", "one", images=[image])
        store.add_message(b.id, "user", "two", images=[image, image])
        assert store.db.execute("SELECT count(*) FROM blobs").fetchone()[0] == 1
        message = store.messages(b.id)[0]
        assert [x.name for x in message.attachments] == ["red.png", "red.png"]
        assert store.blob(message.attachments[0].sha256) == image.data
        store.delete_conversation(a.id)
        assert store.db.execute("SELECT count(*) FROM blobs").fetchone()[0] == 1
        store.delete_conversation(b.id)
        assert store.db.execute("SELECT count(*) FROM blobs").fetchone()[0] == 0
        with pytest.raises(NotFound):
            store.conversation(a.id)


def test_each_message_keeps_its_own_attachments_and_last_reads_the_newest(
    tmp_path: Path,
) -> None:
    red = check_image_bytes(_png("red"), "red.png")
    blue = check_image_bytes(_png("blue"), "blue.png")
    with Store(tmp_path / "m.db") as store:
        conv = store.create_conversation()
        pictures = {0: [red, blue], 3: [blue], 4: [blue, red, red]}
        for n in range(6):
            store.add_message(conv.id, "user", f"m{n}", images=pictures.get(n, []))
        every = store.messages(conv.id)
        assert [[a.name for a in m.attachments] for m in every] == [
            [p.name for p in pictures.get(n, [])] for n in range(6)
        ]
        assert store.message(every[4].id).attachments == every[4].attachments
        assert [m.content for m in store.messages(conv.id, last=2)] == ["m4", "m5"]
        assert store.messages(conv.id, last=2)[0].attachments == every[4].attachments
        assert [m.content for m in store.all_messages(conv.id, last=3)] == ["m3", "m4", "m5"]
        assert store.messages(conv.id, last=0) == []
        assert len(store.messages(conv.id, last=100)) == 6


def test_delete_messages_from_for_regenerate(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        conv = store.create_conversation()
        store.add_message(conv.id, "user", "q1")
        a1 = store.add_message(conv.id, "assistant", "a1")
        store.add_message(conv.id, "user", "q2")
        store.delete_messages_from(a1.id)
        assert [m.content for m in store.messages(conv.id)] == ["q1"]


def test_newer_schema_is_opened_read_only(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.commit()
    db.close()
    before = path.read_bytes()
    store = Store(path)
    assert store.readonly
    assert "newer mmchat" in (store.newer_schema_message or "")
    with pytest.raises(StoreError, match="newer mmchat"):
        store.create_conversation()
    store.close()
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "content", [b"this is not a database at all" * 100, b"SQLite format 3\0" + b"\xff" * 4000]
)
def test_corrupt_database_is_reported_and_kept(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "m.db"
    path.write_bytes(content)
    with pytest.raises(StoreError) as info:
        Store(path)
    assert "damaged" in str(info.value) and "\n" not in str(info.value)
    assert path.read_bytes() == content


def test_unwritable_data_dir_gives_one_line(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root ignores directory permissions; a path under a regular file fails for everyone.
        blocker = tmp_path / "file"
        blocker.write_text("x")
        target = blocker / "data" / "m.db"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "data" / "m.db"
    with pytest.raises(StoreError) as info:
        Store(target)
    assert "cannot create" in str(info.value)


def _writer(path: str, count: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    errors = 0
    store = Store(Path(path))
    conv = store.create_conversation()
    for i in range(count):
        try:
            store.add_message(conv.id, "user", f"message {i}")
        except StoreError:
            errors += 1
    store.close()
    queue.put(errors)


def test_several_processes_write_without_locking_errors(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    Store(path).close()
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    procs = [multiprocessing.Process(target=_writer, args=(str(path), 40, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [queue.get(timeout=5) for _ in procs] == [0, 0, 0, 0]
    with Store(path) as store:
        assert store.db.execute("SELECT count(*) FROM messages").fetchone()[0] == 160


def test_killed_while_streaming_keeps_question_and_partial_answer(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from mmchat.store import Store
        store = Store(Path({str(path)!r}))
        conv = store.create_conversation()
        store.add_message(conv.id, "user", "the question")
        answer = store.add_message(conv.id, "assistant", "", status="streaming")
        text = ""
        for i in range(10_000):
            text += f"word{{i}} "
            store.checkpoint(answer.id, text)
            if i == 20:
                print("ready", flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    with Store(path) as store:
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conv = store.conversations()[0]
        question, answer = store.messages(conv.id)
        assert question.content == "the question"
        assert answer.status == "stopped" and answer.error == "interrupted"
        assert answer.content.startswith("word0 word1 ")
