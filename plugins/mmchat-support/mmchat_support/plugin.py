"""The hooks mmchat calls: the personas, and the hand-off before a prompt reaches the model."""

from __future__ import annotations

from collections.abc import Callable

from mmchat.hooks import Persona, PromptContext, Reply, hookimpl
from mmchat_support.escalation import judge, open_ticket, open_ticket_in
from mmchat_support.personas import PERSONAS

HANDOFF = (
    "I'm sorry about this. I'm handing our conversation to a person from {team}; they will "
    "see everything you wrote here. Your ticket number is {ticket}."
)
HOURS = " Support hours are {support_hours}."
STILL_OPEN = (
    "Your ticket {ticket} is open and a person from {team} will reply here. Anything you add "
    "now is passed on to them."
)


@hookimpl
def register_personas(register: Callable[[Persona], None]) -> None:
    """The support, billing and tech-triage personas."""
    for persona in PERSONAS:
        register(persona)


@hookimpl
def mmchat_before_prompt(context: PromptContext) -> Reply | None:
    """Hand off to a person when asked, or when the customer is upset; keep the ticket."""
    rules = context.persona.escalation
    if not rules.get("handoff"):
        return None  # another plugin's or a plain persona: not ours to escalate
    persona = context.persona
    team = persona.fill(str(rules.get("team", "the {company} team")))
    if (ticket_id := open_ticket_in(context.history)) is not None:
        text = persona.fill(STILL_OPEN.format(ticket=ticket_id, team=team))
        return Reply(text, meta={"ticket_ref": ticket_id, "handed_off": True})
    verdict = judge(context, rules)
    if verdict is None:
        return None
    ticket = open_ticket(context, verdict)
    template = str(rules.get("message", HANDOFF))
    if "message" not in rules and "support_hours" in persona.variables:
        template += HOURS
    text = persona.fill(template.replace("{team}", team).replace("{ticket}", ticket["id"]))
    return Reply(text, meta={"ticket": ticket, "handed_off": True})
