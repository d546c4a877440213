"""When a customer's message asks for a person, and how upset the customer is.

Plain rules, not the model: a 135M local model cannot be trusted to notice a request for a
person, and a hand-off must happen every time it is asked for. Only the customer's own words
are read: never the assistant's, which the model writes.

A request is a way of asking (speak to, put me through to, I want, call me back, complain,
escalate this) joined to someone who is a person (a human, an agent, a manager, someone from
your team), in a clause that does not negate it. Mentioning a manager, a person or an agent is
not a request: "give my manager the invoice", "the sync agent uses 100% CPU". The figures on
the labelled set in tests/data are in README.md.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from mmchat.hooks import PromptContext

# -- typos ---------------------------------------------------------------------------------------

# Misspellings of these words are read as the word ("humen", "manger", "agnet", "speek").
_TYPO_TARGETS = (
    "human",
    "person",
    "people",
    "agent",
    "manager",
    "supervisor",
    "representative",
    "operator",
    "somebody",
    "someone",
    "speak",
    "talk",
    "complain",
    "complaint",
    "escalate",
)
# Real words close to a target that mean something else: never "corrected".
_REAL_WORDS = frozenset(
    (
        "humane humans agents persons personal personally persona personas peoples managers "
        "manage managed manages managing management operate operated operates operation "
        "speaker speakers speaks spoke spoken talks talked talker complains complained "
        "complaints escalated escalates escalation supervise supervised agency agenda "
        "somebody's someone's someones peace speck steak sneak stalk tall"
    ).split()
)
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _fix_typos(text: str) -> str:
    def fix(match: re.Match[str]) -> str:
        word = match.group()
        if len(word) < 4 or word in _REAL_WORDS or word in _TYPO_TARGETS:
            return word
        close = difflib.get_close_matches(word, _TYPO_TARGETS, n=1, cutoff=0.8)
        return close[0] if close else word

    return _WORD.sub(fix, text)


# -- requests ------------------------------------------------------------------------------------

_REAL = r"(?:real|live|actual|proper)"
# Someone who is a person. Not "people" alone: "other people in my team" is not a request.
_PERSON = (
    r"(?:human(?:\s+being)?|person|agent|representative|rep|manager|supervisor|operator|"
    r"someone|somebody|anyone|anybody|whoever|colleague|member\s+of\s+(?:your\s+)?staff|"
    r"staff\s+member|support\s+staff|(?:support\s+)?team\s+member)"
)
# "a manager account", "the human resources email", "someone's permissions": a thing, not
# a person.
_NOT_A_PERSON_AFTER = (
    r"(?!'s|-|\s+(?:account|role|view|licen[cs]e|permission|access|field|string|mode|panel|"
    r"dashboard|app|version|seat|resources|review|readable|error|settings?)\b)"
)
_ARTICLE = r"(?:(?:a|an|the|your|some|one\s+of\s+your|one\s+of\s+the)\s+)?"
_WHO = rf"{_ARTICLE}(?:{_REAL}\s+)?(?:customer\s+(?:service|support)\s+)?{_PERSON}"
_GAP = r"[^.?!,;]{0,30}?"

_REQUESTS = [
    # speak / talk / chat / have a word to or with a person
    rf"\b(?:speak|talk|chat|have\s+a\s+word)\s+(?:to|with)\b{_GAP}\b{_PERSON}\b",
    # put me through to, transfer me to, get me, give me, pass this to ... a person
    rf"\b(?:transfer|connect|put|pass|forward|send|hand|get|give|find|escalate)\s+"
    rf"(?:me|us|this|it|my\s+(?:case|ticket|issue|complaint|request))\b"
    rf"(?:\s+(?:through|over|on))?(?:\s+(?:to|with))?\s+{_WHO}\b{_NOT_A_PERSON_AFTER}",
    # I want / need / would like / demand a person; can I get a human
    rf"\b(?:want|need|like|demand|request|prefer|get)\s+{_WHO}\b{_NOT_A_PERSON_AFTER}",
    # a real person, a live agent, somebody real
    rf"\b{_REAL}\s+(?:person|people|human|humans|agent|agents|someone|somebody)\b",
    r"\b(?:someone|somebody)\s+real\b",
    # is there a human, is anyone there
    r"\b(?:is|are)\s+there\s+(?:a|an|any|anyone|anybody)\b[^.?!,;]{0,20}?"
    r"\b(?:human|humans|person|people|there)\b(?!-)",  # not "a human-readable log"
    # can someone call me, have a person contact me, a human could review my case
    rf"\b(?:can|could|would|will|may|have|let|if|get)\s+{_WHO}\s+(?:please\s+)?"
    r"(?:call|phone|ring|contact|email|reach|review|look|check|help|get\s+(?:back|in\s+touch)|"
    r"take\s+over)\b",
    # call me back, a callback, someone to ring me
    r"\b(?:call|phone|ring)\s+me\b",
    r"\bcall\s*-?\s*back\b(?!\s+(?:url|function|endpoint|parameter|handler))",
    # reach / contact a person
    rf"\b(?:reach|contact)\s+{_WHO}\b{_NOT_A_PERSON_AFTER}",
    # complaints: file a complaint, I want to complain, who do I complain to
    r"\b(?:file|make|lodge|submit|raise|register|have)\s+(?:a\s+)?(?:formal\s+)?complaint\b",
    r"\b(?:want|like|wish|need)\s+to\s+complain\b",
    r"\b(?:how|where|who|whom)\b[^.?!,;]{0,20}?\bcomplain\b",
    # escalate this (not privileges)
    r"\bescalate\s+(?:this|it|that|my|the|me)\b(?![^.?!,;]{0,20}\b(?:privilege|permission|role))",
]
REQUEST = [re.compile(p, re.I) for p in _REQUESTS]
# A message that is only a person: "agent", "human please!", "operator pls".
ALONE = re.compile(
    rf"^\W*(?:a\s+|an\s+)?(?:{_REAL}\s+)?{_PERSON}\W*(?:please|pls|plz|now|asap)?\W*$", re.I
)
# "I don't want a human", "no need to transfer me": this clause asks for nothing.
NEGATION = re.compile(
    r"\b(?:don'?t|do\s+not|doesn'?t|does\s+not|no\s+need|never|not|without)\b"
    r"(?:\s+\w+){0,2}?\s+(?:want|need|wish|ask|asking|speak|talk|transfer|connect|call|"
    r"a|an|any)\b",
    re.I,
)
_CLAUSES = re.compile(r"[.?!;,]+|\bbut\b", re.I)


def asks_for_human(text: str) -> bool:
    """Whether the customer's message asks for a person (see the module docstring)."""
    text = _fix_typos(text.lower().replace("\u2019", "'"))
    if ALONE.match(text):
        return True
    for clause in _CLAUSES.split(text):
        if NEGATION.search(clause):
            continue
        if any(pattern.search(clause) for pattern in REQUEST):
            return True
    return False


# -- anger ---------------------------------------------------------------------------------------

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


def anger_score(text: str) -> int:
    """0 calm; each strong word 2, each other angry word 1, shouting and '!!!' 1 each."""
    score = 2 * len(STRONG_ANGER.findall(text)) + len(ANGER.findall(text))
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.6:
        score += 1
    if "!!!" in text or text.count("!") >= 4:
        score += 1
    return score


# -- the verdict ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    reason: str  # "human requested" or "customer upset"
    anger: int

    @property
    def priority(self) -> str:
        return "high" if self.anger >= 2 else "normal"


def judge(context: PromptContext, rules: dict[str, Any]) -> Verdict | None:
    """Whether this turn should go to a person, by the persona's escalation rules.

    Reads the customer's messages only. Anger alone hands off only where a persona opts in
    (`on_anger = true`): an upset customer with a question is better helped by an answer, and
    anger raises a ticket's priority either way.
    """
    text = context.user_text
    anger = anger_score(text)
    earlier = [t for role, t in context.history if role == "user"]
    if anger and any(anger_score(t) for t in earlier[-3:]):
        anger += 1  # upset for more than one message
    if rules.get("on_human_request", True) and asks_for_human(text):
        return Verdict("human requested", anger)
    threshold = int(rules.get("anger_threshold", 2))
    if rules.get("on_anger", False) and anger >= threshold:
        return Verdict("customer upset", anger)
    return None


def ticket_details(context: PromptContext) -> dict[str, Any]:
    """What the person who takes over needs beside the message itself."""
    persona = context.persona
    customer = [t for role, t in context.history if role == "user"] + [context.user_text]
    return {
        "company": persona.variables.get("company", ""),
        "product": persona.variables.get("product", ""),
        "issue": _clip(customer[0], 200),  # the first thing the customer said
        "customer_messages": len(customer),
        "recent": [_clip(t, 500) for t in customer[-5:]],
    }


def _clip(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
