"""End to end through the CLI with the real SmolLM2 model: answers, hand-off, delivery."""

from __future__ import annotations

import json
import mailbox
import subprocess
import sys
from pathlib import Path
from typing import Any

MMCHAT = [sys.executable, "-m", "mmchat.cli"]


def ask(*args: str) -> tuple[dict[str, Any], str]:
    result = subprocess.run(
        [*MMCHAT, "ask", "--model", "smollm2", "--json", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_support_persona_answers_with_the_model() -> None:
    data, _ = ask("--persona", "billing", "--max-tokens", "40", "How do I get a refund?")
    assert data["persona"] == "billing" and data["status"] == "complete"
    assert data["completion_tokens"] and data["content"].strip()
    assert "ticket" not in data


def test_handoff_is_delivered_and_the_chat_goes_on(support_home: Path) -> None:
    spool = support_home / "support.mbox"
    settings = support_home / "config" / "settings.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text(f'[support.delivery]\nspool = "{spool}"\n')

    data, _ = ask("--persona", "support", "I want to talk to a human right now")
    ticket = data["ticket"]
    assert ticket["reason"] == "human requested" and ticket["status"] == "open"
    assert f"Ticket {ticket['id']} is queued for a person" in data["content"]
    assert data["completion_tokens"] is None  # no model for the hand-off
    # `mmchat ask` waited for the background delivery before it exited.
    box = mailbox.mbox(spool)
    assert [m["X-Mmchat-Ticket"] for m in box] == [ticket["id"]]
    box.close()

    conv = str(data["conversation_id"])
    later, _ = ask("-c", conv, "--max-tokens", "12", "How do I change my email address?")
    assert later["completion_tokens"] and "ticket" not in later  # the model answers again
    again, _ = ask("-c", conv, "can I speak to a person?")
    assert again["content"] == (  # delivered by now, and it says so
        f"Your ticket {ticket['id']} has already been passed to the Example Co support team; "
        "you can keep asking me meanwhile."
    )

    listed = subprocess.run(
        [*MMCHAT, "tickets", "list"], capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 1
    assert listed.stdout.startswith(ticket["id"]) and " delivered " in listed.stdout


def test_without_a_channel_the_operator_is_told() -> None:
    data, stderr = ask("--persona", "support", "agent please")
    assert "I've recorded your request for a person" in data["content"]
    assert f"ticket {data['ticket']['id']} is stored but goes nowhere" in stderr
