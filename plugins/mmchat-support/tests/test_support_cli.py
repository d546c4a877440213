"""End to end through the CLI with the real SmolLM2 model: answers, hand-off, ticket."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

MMCHAT = [sys.executable, "-m", "mmchat.cli"]


def ask(*args: str) -> dict[str, Any]:
    result = subprocess.run(
        [*MMCHAT, "ask", "--model", "smollm2", "--json", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_support_persona_answers_with_the_model() -> None:
    data = ask("--persona", "billing", "--max-tokens", "40", "How do I get a refund?")
    assert data["persona"] == "billing" and data["status"] == "complete"
    assert data["completion_tokens"] and data["content"].strip()
    assert "ticket" not in data


def test_request_for_a_person_hands_off_with_a_ticket() -> None:
    data = ask("--persona", "support", "I want to talk to a human right now")
    ticket = data["ticket"]
    assert ticket["reason"] == "human requested" and ticket["status"] == "open"
    assert ticket["id"] in data["content"] and data["completion_tokens"] is None  # no model
    later = ask("-c", str(data["conversation_id"]), "Hello?")
    assert f"Your ticket {ticket['id']} is open" in later["content"]
    history = subprocess.run(
        [*MMCHAT, "history", "export", str(data["conversation_id"]), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    messages = json.loads(history.stdout)["messages"]
    assert messages[1]["meta"]["ticket"] == ticket  # saved with the conversation
