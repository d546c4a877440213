"""When to hand a conversation to a person, and the ticket that goes with it.

Plain rules, not the model: a 135M local model cannot be trusted to notice an angry customer,
and a hand-off must happen every time it is asked for.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mmchat.hooks import PromptContext

_PEOPLE = (
    r"(human|person|people|agent|representative|rep|manager|supervisor|operator|"
    r"someone|somebody|staff)"
)
HUMAN_REQUEST = [
    re.compile(
        rf"\b(speak|talk|chat|connect|transfer|put|get|give|need|want)\b[^.?!]{{0,40}}\b{_PEOPLE}\b",
        re.I,
    ),
    re.compile(r"\b(real|live|actual|human)\s+(person|human|being|agent|support)\b", re.I),
    re.compile(r"\bescalate\b", re.I),
    re.compile(rf"^\W*{_PEOPLE}\W*(please)?\W*$", re.I),
]
# Phrases that mention a person without asking for one.
NOT_A_REQUEST = re.compile(
    r"\b(don'?t|do not|no need to|never)\b[^.?!]{0,20}\b(speak|talk|transfer|want|need)\b", re.I
)

STRONG_ANGER = re.compile(
    r"\b(fuck\w*|shit\w*|wtf|bullshit|scam|scammers?|rip[- ]?off|disgusting|pathetic|"
    r"furious|livid|sue you|lawyer)\b",
    re.I,
)
ANGER = re.compile(
    r"\b(angry|annoyed|annoying|frustrated|frustrating|upset|ridiculous|unacceptable|"
    r"terrible|horrible|awful|worst|useless|"
    r"incompetent|hate|fed up|sick of|joke|waste of|third time|again and again|still not|"
    r"damn|crap|stupid)\b",
    re.I,
)

TICKET_ID = re.compile(r"\bSUP-\d+-[0-9a-f]{6}\b")


@dataclass(frozen=True)
class Verdict:
    reason: str  # "human requested" or "customer upset"
    anger: int


def anger_score(text: str) -> int:
    """0 calm; each strong word 2, each other angry word 1, shouting and '!!!' 1 each."""
    score = 2 * len(STRONG_ANGER.findall(text)) + len(ANGER.findall(text))
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.6:
        score += 1
    if "!!!" in text or text.count("!") >= 4:
        score += 1
    return score


def asks_for_human(text: str) -> bool:
    if NOT_A_REQUEST.search(text):
        return False
    return any(pattern.search(text) for pattern in HUMAN_REQUEST)


def judge(context: PromptContext, rules: dict[str, Any]) -> Verdict | None:
    """Whether this turn should go to a person, by the persona's escalation rules."""
    text = context.user_text
    anger = anger_score(text)
    earlier = [t for role, t in context.history if role == "user"]
    if anger and any(anger_score(t) for t in earlier[-3:]):
        anger += 1  # upset for more than one message
    if rules.get("on_human_request", True) and asks_for_human(text):
        return Verdict("human requested", anger)
    threshold = int(rules.get("anger_threshold", 2))
    if rules.get("on_anger", True) and anger >= threshold:
        return Verdict("customer upset", anger)
    return None


def open_ticket(context: PromptContext, verdict: Verdict) -> dict[str, Any]:
    """A ticket summary for the person who takes over; saved in the answer's meta."""
    persona = context.persona
    now = datetime.now(UTC)
    customer = [t for role, t in context.history if role == "user"] + [context.user_text]
    digest = hashlib.sha256(
        f"{context.conversation_id}\n{context.user_text}\n{now.isoformat()}".encode()
    ).hexdigest()[:6]
    return {
        "id": f"SUP-{context.conversation_id}-{digest}",
        "status": "open",
        "reason": verdict.reason,
        "priority": "high" if verdict.anger >= 2 else "normal",
        "persona": persona.name,
        "company": persona.variables.get("company", ""),
        "product": persona.variables.get("product", ""),
        "issue": _clip(customer[0], 200),
        "last_message": _clip(context.user_text, 300),
        "customer_messages": len(customer),
        "created_at": now.isoformat(timespec="seconds"),
    }


def open_ticket_in(history: list[tuple[str, str]]) -> str | None:
    """The ticket already handed off in this conversation, if any."""
    for role, text in reversed(history):
        if role == "assistant" and (match := TICKET_ID.search(text)):
            return match.group(0)
    return None


def _clip(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
