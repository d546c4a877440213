"""When the support personas hand off to a person, the ticket they store, and what the customer
is told. Real conversations in a real database (conftest's `conversation`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from mmchat_support.escalation import anger_score, asks_for_human
from mmchat_support.personas import BILLING, SUPPORT
from mmchat_support.plugin import mmchat_before_prompt

from mmchat.hooks import Persona, PromptContext, Reply, Tickets

Conversation = Callable[..., PromptContext]  # conftest's `conversation` fixture


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
        "i want to speek to a manger",
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
        "give my manager the invoice",  # handed off before
        "How do I set the callback URL for webhooks?",
        "Which persona am I talking to?",
        "Is there a human-readable log?",
        "How do I escalate my privileges to admin?",
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


def _reply(context: PromptContext) -> Reply:
    reply = mmchat_before_prompt(context)
    assert isinstance(reply, Reply)
    return reply


def _tickets(context: PromptContext) -> Tickets:
    assert context.tickets is not None
    return context.tickets


def test_handoff_stores_a_ticket_and_tells_the_truth(conversation: Conversation) -> None:
    context = conversation("Can I talk to a human?", [("user", "My invoice is wrong")])
    reply = _reply(context)
    ticket_id = reply.meta["ticket"]["id"]
    ticket = _tickets(context).get(ticket_id)
    assert (ticket.conversation_id, ticket.status, ticket.delivery) == (
        context.conversation_id,
        "open",
        "pending",
    )
    assert ticket.reason == "human requested" and ticket.priority == "normal"
    assert ticket.customer_text == "Can I talk to a human?" and ticket.persona == "support"
    assert ticket.details["issue"] == "My invoice is wrong"  # the first thing the customer said
    assert ticket.details["customer_messages"] == 2
    assert (ticket.details["company"], ticket.details["product"]) == ("Example Co", "Example App")
    # No channel is configured here: the customer hears it is recorded, the operator why not sent.
    assert reply.text.startswith("I'm sorry about this. I've recorded your request for a person")
    assert ticket_id in reply.text and "you can keep asking me meanwhile" in reply.text
    assert "will reply" not in reply.text and "{" not in reply.text
    assert ticket_id in reply.notice and "no delivery channel" in reply.notice


def test_with_a_channel_the_ticket_is_queued(
    conversation: Conversation, support_home: Path
) -> None:
    spool = support_home / "support.mbox"
    settings = support_home / "config" / "settings.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text(f'[support.delivery]\nspool = "{spool}"\n')
    reply = _reply(conversation("put me through to a human"))
    ticket_id = reply.meta["ticket"]["id"]
    assert f"Ticket {ticket_id} is queued for a person from the Example Co support team" in (
        reply.text
    )
    assert reply.notice == ""


def test_a_bad_delivery_setting_is_told_to_the_operator(
    conversation: Conversation, support_home: Path
) -> None:
    settings = support_home / "config" / "settings.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text('[support.delivery]\ncommand = "notify-send"\n')
    reply = _reply(conversation("talk to a human"))
    assert "I've recorded your request" in reply.text
    assert "'command' must be a list of strings" in reply.notice


def test_angry_request_is_high_priority(conversation: Conversation) -> None:
    context = conversation("This is unacceptable, get me a manager!!!", persona=BILLING)
    reply = _reply(context)
    assert _tickets(context).get(reply.meta["ticket"]["id"]).priority == "high"


def test_anger_alone_goes_to_the_model_unless_the_persona_opts_in(
    conversation: Conversation,
) -> None:
    assert mmchat_before_prompt(conversation("This is the worst service ever!!!")) is None
    opted = replace(SUPPORT, escalation={**SUPPORT.escalation, "on_anger": True})
    assert mmchat_before_prompt(conversation("That's annoying.", persona=opted)) is None
    history = [("user", "Still not working, annoying."), ("assistant", "Try again.")]
    context = conversation("Ugh, annoying.", history, persona=opted)
    assert _reply(context).meta["ticket"]["reason"] == "customer upset"


def test_after_a_handoff_the_assistant_keeps_answering(conversation: Conversation) -> None:
    first = conversation("talk to a human")
    ticket_id = _reply(first).meta["ticket"]["id"]
    later = conversation("How do I change my email address?", conv=first.conversation_id)
    assert mmchat_before_prompt(later) is None  # the model answers; nothing is intercepted
    again = conversation("is a real person there yet?", conv=first.conversation_id)
    reply = _reply(again)
    assert reply.meta == {"handed_off": True, "ticket_ref": ticket_id}
    assert reply.text == (
        f"Your request for a person is already recorded as ticket {ticket_id}; you can keep "
        "asking me meanwhile."
    )
    assert [t.id for t in _tickets(first).recent()] == [ticket_id]  # no second ticket


def test_a_closed_ticket_lets_a_new_request_open_another(conversation: Conversation) -> None:
    first = conversation("agent please")
    tickets = _tickets(first)
    old = _reply(first).meta["ticket"]["id"]
    tickets.close(old, by="ana")
    new = _reply(conversation("agent please", conv=first.conversation_id)).meta["ticket"]["id"]
    assert new != old and tickets.get(new).status == "open"


def test_text_shaped_like_a_ticket_never_locks_a_chat(conversation: Conversation) -> None:
    history = [
        ("user", "What do your ticket numbers look like?"),
        ("assistant", "Your ticket SUP-20261203-abcdef is open. Talk to a human, I said."),
    ]
    context = conversation("Thanks. How do I export my data?", history)
    assert mmchat_before_prompt(context) is None
    assert _tickets(context).recent() == []


def test_a_store_that_cannot_be_written_is_not_hidden(conversation: Conversation) -> None:
    context = conversation("talk to a human")
    (_tickets(context).path.parent / "blocked").write_text("")  # a file where a folder goes
    broken = replace(context, tickets=Tickets(_tickets(context).path.parent / "blocked" / "x.db"))
    reply = _reply(broken)
    assert "could not record your request" in reply.text and "SUP-" not in reply.text
    assert reply.notice.startswith("support: no ticket stored: cannot create")


def test_rules_switch_it_off_and_other_personas_are_left_alone(
    conversation: Conversation,
) -> None:
    off = replace(SUPPORT, escalation={**SUPPORT.escalation, "handoff": False})
    assert mmchat_before_prompt(conversation("talk to a human", persona=off)) is None
    plain = Persona(name="plain", system_prompt="x")
    assert mmchat_before_prompt(conversation("talk to a human!!!", persona=plain)) is None


def test_custom_message_and_variables(conversation: Conversation) -> None:
    custom = replace(
        SUPPORT,
        variables={"company": "Acme"},
        escalation={**SUPPORT.escalation, "message": "Passing you to {team}: ticket {ticket}."},
    )
    reply = _reply(conversation("real person please", persona=custom))
    assert (
        reply.text == f"Passing you to the Acme support team: ticket {reply.meta['ticket']['id']}."
    )
