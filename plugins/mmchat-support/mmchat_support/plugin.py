"""The hooks mmchat calls: the personas, the hand-off to a person, and `mmchat tickets`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mmchat.hooks import Persona, PromptContext, Reply, hookimpl
from mmchat_support.delivery import (
    COURIER,
    RETRY_AFTER_SECONDS,
    DeliveryConfig,
    load_config,
)
from mmchat_support.escalation import judge, ticket_details
from mmchat_support.personas import PERSONAS

if TYPE_CHECKING:
    from mmchat.hooks import Ticket

# What the customer reads: only what is true. "Queued" while a channel is set (the ticket is
# sent in the background); "recorded" when none is, and the operator gets a notice.
QUEUED = (
    "I'm sorry about this. Ticket {ticket} is queued for a person from {team}; you can keep "
    "asking me meanwhile."
)
RECORDED = (
    "I'm sorry about this. I've recorded your request for a person from {team} as ticket "
    "{ticket}; you can keep asking me meanwhile."
)
STILL_QUEUED = (
    "Your request is already queued for a person from {team} as ticket {ticket}; you can "
    "keep asking me meanwhile."
)
STILL_DELIVERED = (
    "Your ticket {ticket} has already been passed to {team}; you can keep asking me meanwhile."
)
STILL_RECORDED = (
    "Your request for a person is already recorded as ticket {ticket}; you can keep asking "
    "me meanwhile."
)
NOT_STORED = (
    "I'm sorry, I could not record your request for a person just now. Please try again in "
    "a moment."
)
HOURS = " Support hours are {support_hours}."
NO_CHANNEL = (
    "support: ticket {ticket} is stored but goes nowhere: no delivery channel is set "
    "([support.delivery] in settings.toml); `mmchat tickets list` shows it"
)
BAD_CONFIG = "support: ticket {ticket} is stored but not sent: {problem}"


@hookimpl
def register_personas(register: Callable[[Persona], None]) -> None:
    """The support, billing and tech-triage personas."""
    for persona in PERSONAS:
        register(persona)


@hookimpl
def register_commands(cli: Any) -> None:
    """`mmchat tickets`: list, show, close, export and deliver hand-off tickets."""
    from mmchat_support.commands import app

    cli.add_typer(app, name="tickets")


@hookimpl
def mmchat_before_prompt(context: PromptContext) -> Reply | None:
    """Open a ticket when the customer asks for a person; otherwise let the model answer.

    An open ticket never stops the assistant: the customer keeps getting answers, and asking
    again points to the same ticket. Only stored tickets count, never text in the chat.
    """
    rules = context.persona.escalation
    tickets = context.tickets
    if not rules.get("handoff") or tickets is None:
        return None  # another plugin's or a plain persona, or no store: not ours
    config, problem = _delivery_config()
    verdict = judge(context, rules)
    if verdict is None:
        _send_waiting(context, config)  # retry what earlier turns could not deliver
        return None
    persona = context.persona
    try:
        ticket, new = tickets.open(
            context.conversation_id,
            persona=persona.name,
            reason=verdict.reason,
            customer_text=context.user_text,
            priority=verdict.priority,
            details=ticket_details(context),
        )
    except Exception as exc:  # the store is locked or full: say so, never pretend
        return Reply(persona.fill(NOT_STORED), notice=f"support: no ticket stored: {exc}")
    _send_waiting(context, config)
    team = persona.fill(str(rules.get("team", "the {company} team")))
    text = _customer_text(persona, rules, ticket, new, bool(config.channels))
    notice = ""
    if new and problem:
        notice = BAD_CONFIG.format(ticket=ticket.id, problem=problem)
    elif new and not config.channels:
        notice = NO_CHANNEL.format(ticket=ticket.id)
    meta: dict[str, Any] = {"handed_off": True}
    if new:
        meta["ticket"] = {
            "id": ticket.id,
            "status": ticket.status,
            "reason": ticket.reason,
            "priority": ticket.priority,
        }
    else:
        meta["ticket_ref"] = ticket.id
    return Reply(persona.fill(text.replace("{team}", team)), meta=meta, notice=notice)


def _customer_text(
    persona: Persona, rules: dict[str, Any], ticket: Ticket, new: bool, channel: bool
) -> str:
    if not new:
        template = STILL_RECORDED if not channel else STILL_QUEUED
        if ticket.delivery == "delivered":
            template = STILL_DELIVERED
        return template.replace("{ticket}", ticket.id)
    template = str(rules.get("message", QUEUED if channel else RECORDED))
    if "message" not in rules and "support_hours" in persona.variables:
        template += HOURS
    return template.replace("{ticket}", ticket.id)


def _delivery_config() -> tuple[DeliveryConfig, str]:
    """The configured channels, or none and the reason the settings could not be used."""
    try:
        return load_config(), ""
    except ValueError as exc:
        return DeliveryConfig(), str(exc)


def _send_waiting(context: PromptContext, config: DeliveryConfig) -> None:
    if config.channels and context.tickets is not None:
        COURIER.start(context.tickets, config, RETRY_AFTER_SECONDS)
