"""Chat search through the FTS5 index, paging through every conversation, per-chat settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mmchat.migrations import MIGRATIONS, SEARCH_TRIGGERS
from mmchat.store import Store


def _integrity(store: Store) -> None:
    """FTS5's own check of each index against the table it indexes (raises when they differ)."""
    for fts in ("conversations_fts", "messages_fts"):
        store.db.execute(f"INSERT INTO {fts} ({fts}, rank) VALUES ('integrity-check', 1)")


def _ids(store: Store, search: str) -> list[int]:
    return [c.id for c in store.conversations(search)]


def test_search_finds_words_and_word_starts_in_titles_and_messages(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        assert store.full_text
        trip = store.create_conversation(title="Trip to Zürich")
        store.add_message(trip.id, "user", "Which trains leave before noon?")
        cake = store.create_conversation(title="Baking")
        store.add_message(cake.id, "user", "A café au lait cake, please")
        assert _ids(store, "zurich") == [trip.id]  # case and accents folded
        assert _ids(store, "tra") == [trip.id]  # a word's start, as the person types it
        assert _ids(store, "cafe cake") == [cake.id]
        assert _ids(store, "cafe trains") == []  # every word must be found
        assert _ids(store, "rains") == []  # words, not substrings
        assert _ids(store, "") == [cake.id, trip.id]
        _integrity(store)


@pytest.mark.parametrize("query", ['"', "*", "NEAR(", "AND OR NOT", "a:b", "^x", "100%_", "-"])
def test_fts_syntax_typed_by_a_person_is_plain_text(tmp_path: Path, query: str) -> None:
    with Store(tmp_path / "m.db") as store:
        conv = store.create_conversation(title="and or not near")
        store.add_message(conv.id, "user", "a b x 100")
        found = _ids(store, query)  # no FTS5 syntax error, whatever was typed
        assert found in ([], [conv.id])


def test_index_follows_edits_deletes_and_streaming_checkpoints(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        conv = store.create_conversation(title="first title")
        question = store.add_message(conv.id, "user", "tell me about otters")
        answer = store.add_message(conv.id, "assistant", "", status="streaming")
        store.checkpoint(answer.id, "Otters hold hands while sleeping")
        assert _ids(store, "sleeping") == [conv.id]
        store.finish(answer.id, content="Beavers build dams", status="complete")
        assert _ids(store, "sleeping") == [] and _ids(store, "beavers") == [conv.id]
        store.edit_message(question.id, "tell me about badgers")
        assert _ids(store, "otters") == [] and _ids(store, "badgers") == [conv.id]
        store.update_conversation(conv.id, title="renamed")
        assert _ids(store, "first") == [] and _ids(store, "renamed") == [conv.id]
        _integrity(store)
        store.delete_conversation(conv.id)  # its messages go by ON DELETE CASCADE
        assert _ids(store, "badgers") == [] and _ids(store, "renamed") == []
        _integrity(store)
        rows = store.db.execute("SELECT count(*) FROM messages_fts").fetchone()[0]
        assert rows == 0


def _schema3_database(path: Path) -> None:
    """A database as mmchat left it before the search index (schema 3), with a chat in it."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    for name, apply in MIGRATIONS[:3]:
        apply(db)
        db.execute("INSERT INTO _migrations VALUES (?, 0)", (name,))
    db.execute(
        "INSERT INTO conversations (title, model, created_at, updated_at) "
        "VALUES ('Old chat', 'smollm2', 1, 1)"
    )
    db.execute(
        "INSERT INTO messages (conversation_id, role, content, created_at, updated_at) "
        "VALUES (1, 'user', 'an old question about lighthouses', 1, 1)"
    )
    db.execute("PRAGMA user_version = 3")
    db.commit()
    db.close()


def test_upgrade_fills_the_index_from_existing_chats(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    _schema3_database(path)
    with Store(path, readonly=True) as store:  # not upgraded: search scans, as before
        assert not store.full_text
        assert _ids(store, "ighthous") == [1]
        assert store.conversation(1).temperature is None
    with Store(path) as store:
        assert store.full_text
        assert _ids(store, "lighthouse") == [1]
        assert _ids(store, "old") == [1]
        _integrity(store)


def test_a_missing_index_is_rebuilt_at_the_next_start(tmp_path: Path) -> None:
    # What a start on a Python whose SQLite lacks FTS5 leaves behind: no triggers, so the
    # index misses what was written meanwhile.
    path = tmp_path / "m.db"
    with Store(path) as store:
        conv = store.create_conversation(title="kept")
        for name in SEARCH_TRIGGERS:
            store.db.execute(f"DROP TRIGGER {name}")
        store.add_message(conv.id, "user", "written while the index was off")
        assert _ids(store, "written") == []
    with Store(path) as store:
        assert _ids(store, "written") == [conv.id]
        names = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master")}
        assert set(SEARCH_TRIGGERS) <= names
        _integrity(store)


def test_every_conversation_can_be_listed_in_pages(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        made = [store.create_conversation(title=f"chat {i}").id for i in range(450)]
        everything = [c.id for c in store.conversations(limit=None)]
        assert sorted(everything) == sorted(made)
        pages = [
            [c.id for c in store.conversations(limit=200, offset=offset)]
            for offset in (0, 200, 400)
        ]
        assert [len(p) for p in pages] == [200, 200, 50]
        assert [i for page in pages for i in page] == everything


def test_chat_settings_are_saved_and_checked(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        conv = store.create_conversation(title="x", model="smollm2", system="Be brief.")
        assert (conv.temperature, conv.top_p, conv.max_tokens) == (None, None, None)
        store.update_conversation(conv.id, temperature=0.7, top_p=0.9, max_tokens=64)
        saved = store.conversation(conv.id)
        assert (saved.temperature, saved.top_p, saved.max_tokens) == (0.7, 0.9, 64)
        assert saved.system == "Be brief." and saved.model == "smollm2"
        store.update_conversation(conv.id, temperature=None)
        assert store.conversation(conv.id).temperature is None
        with pytest.raises(ValueError, match="max_tokens"):
            store.update_conversation(conv.id, max_tokens="many")
        with pytest.raises(ValueError, match="cannot update"):
            store.update_conversation(conv.id, seed=3)
        assert store.conversation(conv.id).max_tokens == 64  # nothing changed by a refusal


def test_without_fts5_search_scans_and_writes_still_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This Python's SQLite has FTS5; one built without it is stood in for by the probe's
    # answer (the one thing that differs: the index tables cannot be touched then).
    import mmchat.store

    path = tmp_path / "m.db"
    with Store(path) as store:
        conv = store.create_conversation(title="made with FTS5")
    monkeypatch.setattr(mmchat.store, "fts5_missing", lambda db: "no such module: fts5")
    with Store(path) as store:
        assert not store.full_text
        names = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master")}
        assert not set(SEARCH_TRIGGERS) & names  # they would make every write fail
        store.add_message(conv.id, "user", "written without the index")
        assert _ids(store, "without the ind") == [conv.id]  # a substring scan
    monkeypatch.undo()
    with Store(path) as store:  # FTS5 back: the index catches up with what was written
        assert store.full_text
        assert _ids(store, "without index") == [conv.id]
        _integrity(store)
