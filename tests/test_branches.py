"""Branches in the store, on real SQLite: an edit or a second answer starts a sibling, the old
continuation stays; the conversation shows, sends, counts and exports its active path only."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from mmchat.export import to_json, to_markdown
from mmchat.images import check_image_bytes
from mmchat.migrations import MIGRATIONS, SCHEMA_VERSION
from mmchat.store import Store, StoreError


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buffer, "PNG")
    return buffer.getvalue()


def _texts(store: Store, conv_id: int) -> list[str]:
    return [m.content for m in store.messages(conv_id)]


def _schema4_database(path: Path) -> None:
    """A database as the previous mmchat (schema 4, before branches) left it: two chats,
    one of them with a picture and a compaction summary."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    for name, apply in MIGRATIONS[:4]:
        apply(db)
        db.execute("INSERT INTO _migrations VALUES (?, 0)", (name,))
    rows = [
        (1, "user", "what is a lighthouse?"),
        (2, "user", "hello there"),
        (1, "assistant", "a tower with a light"),
        (2, "assistant", "hi"),
        (1, "user", "how tall are they?"),
        (1, "assistant", "often 20 to 60 metres"),
        (1, "system", "they talked about lighthouses"),
    ]
    for title in ("Lighthouses", "Greeting"):
        db.execute(
            "INSERT INTO conversations (title, created_at, updated_at) VALUES (?, 1, 1)", (title,)
        )
    for conv, role, content in rows:  # interleaved ids, as two chats written at once leave
        db.execute(
            "INSERT INTO messages (conversation_id, role, content, created_at, updated_at) "
            "VALUES (?, ?, ?, 1, 1)",
            (conv, role, content),
        )
    data = _png()
    db.execute(
        "INSERT INTO blobs (sha256, data, mime, width, height, created_at) "
        "VALUES ('abc', ?, 'image/png', 8, 8, 1)",
        (data,),
    )
    db.execute("INSERT INTO attachments VALUES (1, 0, 'abc', 'tower.png')")
    db.execute("PRAGMA user_version = 4")
    db.commit()
    db.close()


def test_an_old_database_opens_with_every_message_as_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    _schema4_database(path)
    with Store(path, readonly=True) as store:  # `history show` before any upgrade
        assert not store.tree
        assert _texts(store, 1)[0] == "what is a lighthouse?"
        assert store.conversation(1).message_count == 5
    with Store(path) as store:
        assert store.tree
        lighthouse = store.messages(1)
        assert [m.content for m in lighthouse] == [
            "what is a lighthouse?",
            "a tower with a light",
            "how tall are they?",
            "often 20 to 60 metres",
            "they talked about lighthouses",
        ]
        assert [m.parent_id for m in lighthouse] == [None, *[m.id for m in lighthouse[:-1]]]
        assert all((m.branch, m.branches) == (1, 1) for m in lighthouse)
        assert lighthouse[0].attachments[0].name == "tower.png"
        assert store.blob("abc") == _png()
        assert _texts(store, 2) == ["hello there", "hi"]
        assert [c.message_count for c in store.conversations()] in ([5, 2], [2, 5])
        assert store.conversation(1).message_count == 5
        # New messages go on after the old ones.
        store.add_message(2, "user", "bye")
        assert _texts(store, 2) == ["hello there", "hi", "bye"]
        assert store.messages(2)[-1].parent_id == store.messages(2)[1].id
        assert store.db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert list((tmp_path / "backups").glob("m-schema4-*.db"))
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("SELECT name FROM _migrations").fetchall()[-1][0] == "m005_branches"


def test_answering_again_keeps_the_old_answer_as_a_branch(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        conv = store.create_conversation()
        question = store.add_message(conv.id, "user", "name a colour")
        store.add_message(conv.id, "assistant", "red")
        store.add_message(conv.id, "user", "another?")
        store.add_message(conv.id, "assistant", "green")
        store.continue_from(question.id)  # regenerate the first answer
        assert _texts(store, conv.id) == ["name a colour"]
        second = store.add_message(conv.id, "assistant", "blue")
        assert _texts(store, conv.id) == ["name a colour", "blue"]
        assert (second.branch, second.branches) == (2, 2)
        assert store.conversation(conv.id).message_count == 2
        assert len(store.all_messages(conv.id)) == 5  # nothing was deleted

        first = store.switch_branch(second.id, -1)
        assert (first.content, first.branch, first.branches) == ("red", 1, 2)
        # Back on the old branch, down to the newest message written on it.
        assert _texts(store, conv.id) == ["name a colour", "red", "another?", "green"]
        assert store.conversation(conv.id).message_count == 4
        with pytest.raises(StoreError, match="first branch"):
            store.switch_branch(first.id, -1)
        assert store.switch_branch(first.id, 1).content == "blue"
        assert _texts(store, conv.id) == ["name a colour", "blue"]
        with pytest.raises(StoreError, match="last branch"):
            store.switch_branch(second.id, 1)
        with pytest.raises(StoreError, match="no other branch"):
            store.switch_branch(question.id, 1)
        # A new turn continues the shown branch.
        store.add_message(conv.id, "user", "and a third?")
        assert _texts(store, conv.id) == ["name a colour", "blue", "and a third?"]


def test_an_edit_is_a_new_branch_with_the_pictures_and_the_old_one_stays(
    tmp_path: Path,
) -> None:
    picture = check_image_bytes(_png(), "sky.png")
    with Store(tmp_path / "m.db") as store:
        conv = store.create_conversation()
        store.add_message(conv.id, "user", "hi")
        store.add_message(conv.id, "assistant", "hello")
        asked = store.add_message(conv.id, "user", "what is this?", images=[picture])
        store.set_prompt_text(asked.id, "what is this? [redacted]")
        store.add_message(conv.id, "assistant", "a blue square")
        edited = store.edit_as_branch(asked.id, "what colour is this?")
        assert (edited.branch, edited.branches, edited.parent_id) == (2, 2, asked.parent_id)
        assert [a.name for a in edited.attachments] == ["sky.png"]
        assert "prompt_text" not in edited.meta  # the rewrite was of the old words
        assert _texts(store, conv.id) == ["hi", "hello", "what colour is this?"]
        store.add_message(conv.id, "assistant", "blue")
        assert store.message(asked.id).content == "what is this?"  # kept as it was
        store.switch_branch(edited.id, -1)
        assert _texts(store, conv.id) == ["hi", "hello", "what is this?", "a blue square"]
        with pytest.raises(StoreError, match="only your own"):
            store.edit_as_branch(store.messages(conv.id)[-1].id, "x")
        # Editing the very first message makes a second root.
        first = store.messages(conv.id)[0]
        again = store.edit_as_branch(first.id, "hey")
        assert (again.parent_id, again.branch, again.branches) == (None, 2, 2)
        assert _texts(store, conv.id) == ["hey"]
        assert store.switch_branch(again.id, -1).content == "hi"
        assert _texts(store, conv.id) == ["hi", "hello", "what colour is this?", "blue"]


def test_exports_follow_the_active_path(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        conv = store.create_conversation()
        question = store.add_message(conv.id, "user", "pick a fruit")
        store.add_message(conv.id, "assistant", "a pear")
        store.continue_from(question.id)
        store.add_message(conv.id, "assistant", "a plum")
        markdown, _, others = to_markdown(store, conv.id).text.partition("## Other versions")
        assert "a plum" in markdown and "a pear" not in markdown
        assert "a pear" in others  # the other version, after the branch shown
        exported = json.loads(to_json(store, conv.id))
        assert [m["content"] for m in exported["messages"]] == ["pick a fruit", "a plum"]


def test_deleting_from_a_message_takes_every_branch_below_it(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        conv = store.create_conversation()
        question = store.add_message(conv.id, "user", "q")
        answer = store.add_message(conv.id, "assistant", "a1")
        store.continue_from(question.id)
        store.add_message(conv.id, "assistant", "a2")
        follow = store.add_message(conv.id, "user", "q2")
        assert store.delete_messages_from(follow.id) == 1
        assert _texts(store, conv.id) == ["q", "a2"]
        assert store.delete_messages_from(question.id) == 3
        assert store.all_messages(conv.id) == []
        assert store.conversation(conv.id).message_count == 0
        store.add_message(conv.id, "user", "fresh start")
        assert _texts(store, conv.id) == ["fresh start"]
        with pytest.raises(StoreError):
            store.continue_from(answer.id)  # deleted


def test_ask_continue_history_and_export_follow_the_branch_shown(isolated_home: Path) -> None:
    """`mmchat ask -c N` (the real default model) goes on from the branch shown; `history
    list` counts it and `history show` prints it, never the other branch."""
    from mmchat.config import default_db_path

    with Store(default_db_path()) as store:
        conv = store.create_conversation(model="smollm2")
        store.add_message(conv.id, "user", "Say the word apple.")
        store.add_message(conv.id, "assistant", "Orchard answer.")
        question = store.messages(conv.id)[0]
        store.edit_as_branch(question.id, "Say the word pear.")
        store.add_message(conv.id, "assistant", "Pear.")
        shown = store.messages(conv.id)[-1]
    asked = subprocess.run(
        [sys.executable, "-m", "mmchat.cli", "ask", "--json", "-c", str(conv.id), "Thanks!"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert asked.returncode == 0, asked.stderr
    with Store(default_db_path()) as store:
        path = store.messages(conv.id)
        assert [m.content for m in path[:3]] == ["Say the word pear.", "Pear.", "Thanks!"]
        assert path[2].parent_id == shown.id and path[3].role == "assistant"
        assert len(store.all_messages(conv.id)) == 6
    listed = subprocess.run(
        [sys.executable, "-m", "mmchat.cli", "history", "list"], capture_output=True, text=True
    )
    assert "  4 msgs  " in listed.stdout
    printed = subprocess.run(
        [sys.executable, "-m", "mmchat.cli", "history", "show", str(conv.id)],
        capture_output=True,
        text=True,
    )
    # The branch shown first; the old answer only under "Other versions" at the end.
    shown_part, _, others = printed.stdout.partition("## Other versions")
    assert "Thanks!" in shown_part and "Orchard" not in shown_part
    assert "Orchard" in others
