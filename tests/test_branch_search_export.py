"""Search and exports of a chat with branches, on real SQLite: a word only on a branch not
shown still finds the chat and says so; exports keep every stored version."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmchat.cli import app
from mmchat.export import to_html, to_json, to_markdown
from mmchat.store import Store


def _branched(store: Store) -> tuple[int, dict[str, int]]:
    """A chat whose question was edited after a long talk, and whose first answer was
    answered again: three threads of messages, the edited one shown."""
    conv = store.create_conversation(title="Fruit")
    ids: dict[str, int] = {}
    question = store.add_message(conv.id, "user", "pick a fruit")
    ids["pear"] = store.add_message(conv.id, "assistant", "a pear, crunchy").id
    ids["why"] = store.add_message(conv.id, "user", "why the quince").id
    ids["because"] = store.add_message(conv.id, "assistant", "because the quince smells").id
    store.continue_from(question.id)
    ids["plum"] = store.add_message(conv.id, "assistant", "a plum").id
    ids["veg"] = store.edit_as_branch(question.id, "pick a vegetable").id
    ids["leek"] = store.add_message(conv.id, "assistant", "a leek").id
    return conv.id, ids


def _first(store: Store, conv: int) -> int:
    return store.all_messages(conv)[0].id


def _hits(store: Store, search: str) -> dict[int, int | None]:
    return {c.id: c.branch_hit for c in store.conversations(search)}


@pytest.mark.parametrize("full_text", [True, False])
def test_a_word_on_a_hidden_branch_finds_the_chat_and_names_the_message(
    tmp_path: Path, full_text: bool
) -> None:
    with Store(tmp_path / "m.db") as store:
        store.full_text = full_text  # False: the substring scan of a SQLite without FTS5
        conv, ids = _branched(store)
        other = store.create_conversation(title="Greeting").id
        store.add_message(other, "user", "a leek soup recipe")
        assert _hits(store, "leek") == {conv: None, other: None}  # both on the shown branch
        assert _hits(store, "quince") == {conv: ids["because"]}  # of two, the newer
        assert _hits(store, "plum") == {conv: ids["plum"]}
        assert _hits(store, "fruit") == {conv: None}  # the title matches: nothing hidden
        assert _hits(store, "pear, crunchy") == {conv: ids["pear"]}
        store.update_conversation(conv, title="Food")
        assert _hits(store, "pick a fruit") == {conv: _first(store, conv)}
        store.show_message(ids["why"])
        assert [m.content for m in store.messages(conv)] == [
            "pick a fruit",
            "a pear, crunchy",
            "why the quince",
            "because the quince smells",
        ]
        assert _hits(store, "quince") == {conv: None}
        assert _hits(store, "leek") == {conv: ids["leek"], other: None}
        store.show_message(ids["plum"])
        assert [m.content for m in store.messages(conv)] == ["pick a fruit", "a plum"]


def test_history_list_marks_a_hit_on_another_branch(isolated_home: Path) -> None:
    from mmchat.config import default_db_path

    with Store(default_db_path()) as store:
        conv, _ = _branched(store)
    runner = CliRunner()
    hidden = runner.invoke(app, ["history", "list", "--search", "quince"])
    assert hidden.exit_code == 0, hidden.output
    assert f"{conv:>5}" in hidden.output and "(on another branch)" in hidden.output
    shown = runner.invoke(app, ["history", "list", "--search", "leek"])
    assert "Fruit" in shown.output and "another branch" not in shown.output


def test_json_keeps_every_message_with_its_parent_and_the_branch_shown(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        conv, ids = _branched(store)
        data = json.loads(to_json(store, conv))
        every = store.all_messages(conv)
    shown = data["messages"]
    assert [m["content"] for m in shown] == ["pick a vegetable", "a leek"]
    assert data["shown_leaf"] == ids["leek"] == shown[-1]["id"]
    listed = shown + data["other_messages"]
    assert sorted(m["id"] for m in listed) == [m.id for m in every]  # nothing lost, no twice
    parents = {m["id"]: m["parent_id"] for m in listed}
    assert parents == {m.id: m.parent_id for m in every}
    assert (shown[0]["branch"], shown[0]["branches"]) == (2, 2)
    # Each thread starts where it leaves what came before it.
    others = [m["content"] for m in data["other_messages"]]
    assert others == [
        "pick a fruit",
        "a pear, crunchy",
        "why the quince",
        "because the quince smells",
        "a plum",
    ]


def test_markdown_and_html_show_the_branch_and_list_the_other_versions(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        conv, ids = _branched(store)
        markdown = to_markdown(store, conv).text
        page = to_html(store, conv)
    body, _, others = markdown.partition("## Other versions")
    assert "pick a vegetable" in body and "a leek" in body and "pear" not in body
    assert "*Message 1: 1 other version of this message, under Other versions*" in body
    assert "### Message 1, version 1 of 2" in others
    assert "### Message 2, version 2 of 2, following another version above" in others
    for text in ("pick a fruit", "a pear, crunchy", "why the quince", "a plum"):
        assert others.count(text) == 1
    assert others.index("pick a fruit") < others.index("a plum")
    # HTML: the note links to the other version's section, which exists once.
    main, _, rest = page.partition('<h2 id="other-versions">')
    fruit = next(m.id for m in store_messages(tmp_path, conv) if m.content == "pick a fruit")
    assert f'<a href="#v{fruit}">version 1</a>' in main
    assert rest.count(f'id="v{fruit}"') == 1 and f'id="v{ids["plum"]}"' in rest
    assert "a pear, crunchy" not in main and "a pear, crunchy" in rest


def store_messages(tmp_path: Path, conv: int) -> list:  # type: ignore[type-arg]
    with Store(tmp_path / "m.db", readonly=True) as store:
        return store.all_messages(conv)


def test_a_chat_without_branches_exports_as_before(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        conv = store.create_conversation()
        store.add_message(conv.id, "user", "hello")
        store.add_message(conv.id, "assistant", "hi")
        markdown = to_markdown(store, conv.id).text
        data = json.loads(to_json(store, conv.id))
        assert "Other versions" not in markdown + to_html(store, conv.id)
        assert "other version" not in markdown
        assert data["other_messages"] == []


def test_a_database_from_before_branches_exports_and_searches(tmp_path: Path) -> None:
    from test_branches import _schema4_database

    path = tmp_path / "m.db"
    _schema4_database(path)
    with Store(path, readonly=True) as store:  # `history export` never upgrades it
        assert not store.tree
        data = json.loads(to_json(store, 1))
        assert [m["content"] for m in data["messages"]][:2] == [
            "what is a lighthouse?",
            "a tower with a light",
        ]
        assert data["other_messages"] == [] and data["shown_leaf"] == data["messages"][-1]["id"]
        assert all(m["parent_id"] is None for m in data["messages"])
        markdown = to_markdown(store, 1).text
        assert "often 20 to 60 metres" in markdown and "Other versions" not in markdown
        assert "tower.png" in to_html(store, 1)
        assert _hits(store, "tall") == {1: None}
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 4
    assert not re.search("other version", markdown)
