"""`mmchat tickets`: list, show, close, export and deliver, on a real database."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from mmchat_support.commands import app
from mmchat_support.plugin import mmchat_before_prompt
from typer.testing import CliRunner

from mmchat.hooks import PromptContext, Reply

Conversation = Callable[..., PromptContext]  # conftest's `conversation` fixture


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def open_ticket(conversation: Conversation, text: str) -> tuple[str, str]:
    context = conversation(text)
    reply = mmchat_before_prompt(context)
    assert isinstance(reply, Reply) and context.tickets is not None
    return reply.meta["ticket"]["id"], str(context.tickets.path)


def test_list_show_close_export(conversation: Conversation) -> None:
    first, db = open_ticket(conversation, "get me a manager\x1b]52;c;aGk=\x07 now")
    second, _ = open_ticket(conversation, "I want to file a complaint")
    code, listed = run("list", "--db", db)
    lines = listed.splitlines()
    assert code == 0 and [line.split()[0] for line in lines] == [second, first]  # newest first
    assert all(" open " in line and " pending " in line for line in lines)
    assert "\x1b" not in listed  # customer text is shown without its escape sequences

    code, shown = run("show", first, "--db", db)
    assert code == 0 and f"ticket        {first}" in shown
    assert "reason        human requested, normal priority" in shown
    assert "delivery      pending" in shown and "customer      get me a manager" in shown

    code, closed = run("close", first, "--note", "called back", "--by", "ana", "--db", db)
    assert code == 0 and closed.strip() == f"{first} closed by ana"
    code, only_open = run("list", "--status", "open", "--db", db)
    assert [line.split()[0] for line in only_open.splitlines()] == [second]

    code, exported = run("export", "--format", "json", "--db", db)
    data = {t["id"]: t for t in json.loads(exported)}
    assert code == 0 and set(data) == {first, second} and "\x1b" not in exported
    assert (data[first]["status"], data[first]["closed_by"], data[first]["note"]) == (
        "closed",
        "ana",
        "called back",
    )
    assert data[first]["customer_text"].startswith("get me a manager\x1b]52")  # kept exactly
    code, lines_out = run("export", "--format", "jsonl", "--status", "closed", "--db", db)
    assert [json.loads(line)["id"] for line in lines_out.splitlines()] == [first]


def test_errors_are_one_line_and_change_nothing(conversation: Conversation) -> None:
    ticket_id, db = open_ticket(conversation, "agent")
    code, output = run("show", "SUP-20260101-000000", "--db", db)
    assert code == 1 and output.strip() == (
        "mmchat: error: no ticket SUP-20260101-000000; `mmchat tickets list` shows them"
    )
    code, output = run("deliver", "--db", db)
    assert code == 1 and "no delivery channel is set" in output
    code, output = run("list", "--db", str(Path(db).parent / "mmchat.db" / "x.db"))
    assert code == 1 and output.startswith("mmchat: error: cannot create")
    assert run("list", "--db", db)[1].split()[0] == ticket_id
    assert run("list", "--status", "closed", "--db", db) == (0, "no tickets\n")


def test_the_command_is_registered_by_the_plugin(conversation: Conversation) -> None:
    ticket_id, db = open_ticket(conversation, "human please")
    result = subprocess.run(
        [sys.executable, "-m", "mmchat.cli", "tickets", "list", "--db", db],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == ticket_id
