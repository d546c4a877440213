"""When the support personas hand off to a person, and the ticket they keep."""

from __future__ import annotations

import pytest
from mmchat_support.escalation import anger_score, asks_for_human
from mmchat_support.personas import BILLING, SUPPORT
from mmchat_support.plugin import mmchat_before_prompt

from mmchat.hooks import PromptContext, Reply


def context(
    text: str, history: list[tuple[str, str]] | None = None, persona=SUPPORT
) -> PromptContext:
    return PromptContext(conversation_id=7, persona=persona, user_text=text, history=history or [])


@pytest.mark.parametrize(
    "text",
    [
        "Can I talk to a human?",
        "I want to speak with a real person please",
        "Please transfer me to an agent",
        "get me a manager",
        "agent",
        "Human please!",
        "I need to escalate this",
    ],
)
def test_requests_for_a_person(text: str) -> None:
    assert asks_for_human(text)


@pytest.mark.parametrize(
    "text",
    [
        "How do I reset my password?",
        "Is the app available for other people in my team?",
        "I don't want to talk to a human, just tell me the steps",
        "My agent string shows an old version",
    ],
)
def test_not_requests_for_a_person(text: str) -> None:
    assert not asks_for_human(text)


def test_anger_score() -> None:
    assert anger_score("How do I export my data?") == 0
    assert anger_score("This is ridiculous") == 1
    assert anger_score("This is ridiculous and unacceptable!!!") == 3
    assert anger_score("WHY IS MY ACCOUNT LOCKED AGAIN") == 1
    assert anger_score("you are scammers") == 2


def test_handoff_on_request_with_ticket() -> None:
    reply = mmchat_before_prompt(
        context("Can I talk to a human?", [("user", "My invoice is wrong"), ("assistant", "Hm.")])
    )
    assert isinstance(reply, Reply)
    ticket = reply.meta["ticket"]
    assert ticket["id"].startswith("SUP-7-") and len(ticket["id"]) == len("SUP-7-") + 6
    assert ticket["id"] in reply.text and "Example Co support team" in reply.text
    assert "{" not in reply.text
    assert ticket["reason"] == "human requested" and ticket["priority"] == "normal"
    assert ticket["issue"] == "My invoice is wrong"  # the first thing the customer said
    assert ticket["last_message"] == "Can I talk to a human?"
    assert ticket["customer_messages"] == 2
    assert (ticket["company"], ticket["product"], ticket["persona"]) == (
        "Example Co",
        "Example App",
        "support",
    )


def test_handoff_when_angry_is_high_priority() -> None:
    reply = mmchat_before_prompt(
        context("This is unacceptable, the worst service ever!!!", persona=BILLING)
    )
    assert isinstance(reply, Reply)
    assert reply.meta["ticket"]["reason"] == "customer upset"
    assert reply.meta["ticket"]["priority"] == "high"


def test_mild_annoyance_twice_escalates() -> None:
    assert mmchat_before_prompt(context("That's annoying.")) is None
    history = [("user", "Still not working, annoying."), ("assistant", "Try again.")]
    reply = mmchat_before_prompt(context("Ugh, annoying.", history))
    assert reply is not None and reply.meta["ticket"]["reason"] == "customer upset"


def test_calm_questions_go_to_the_model() -> None:
    assert mmchat_before_prompt(context("How do I change my email address?")) is None


def test_after_handoff_the_ticket_stays_open() -> None:
    first = mmchat_before_prompt(context("talk to a human"))
    assert first is not None
    history = [("user", "talk to a human"), ("assistant", first.text)]
    later = mmchat_before_prompt(context("Hello? Anyone?", history))
    ticket_id = first.meta["ticket"]["id"]
    assert later is not None and later.meta == {"ticket_ref": ticket_id, "handed_off": True}
    assert f"Your ticket {ticket_id} is open" in later.text


def test_rules_switch_it_off_and_other_personas_are_left_alone() -> None:
    from dataclasses import replace

    from mmchat.personas import Persona

    off = replace(SUPPORT, escalation={**SUPPORT.escalation, "handoff": False})
    assert mmchat_before_prompt(context("talk to a human", persona=off)) is None
    plain = Persona(name="plain", system_prompt="x")
    assert (
        mmchat_before_prompt(context("talk to a human, this is ridiculous!!!", persona=plain))
        is None
    )
    no_anger = replace(SUPPORT, escalation={**SUPPORT.escalation, "on_anger": False})
    assert mmchat_before_prompt(context("worst, useless, unacceptable", persona=no_anger)) is None


def test_custom_message_and_variables() -> None:
    from dataclasses import replace

    custom = replace(
        SUPPORT,
        variables={"company": "Acme"},
        escalation={**SUPPORT.escalation, "message": "Passing you to {team}: ticket {ticket}."},
    )
    reply = mmchat_before_prompt(context("real person please", persona=custom))
    assert reply is not None
    assert (
        reply.text == f"Passing you to the Acme support team: ticket {reply.meta['ticket']['id']}."
    )
