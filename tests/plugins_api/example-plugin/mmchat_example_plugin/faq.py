"""A knowledge source: a tiny FAQ searched by shared words. A persona that names it
(knowledge_bases = ["example-faq"]) gets its answers quoted and cited."""

from __future__ import annotations

import re

from mmchat.hooks import Passage

NAME = "example-faq"
SOURCE = "https://example.com/faq"
ENTRIES = {
    "Refunds": "Refunds take 5 working days to reach your account.",
    "Shipping": "Orders ship within 2 days; tracking links arrive by e-mail.",
    "Passwords": "Reset your password from the sign-in page with 'Forgot password'.",
}
_WORD = re.compile(r"[a-z]{3,}")


def _words(text: str) -> set[str]:
    return {w.rstrip("s") for w in _WORD.findall(text.lower())}


def search(query: str, k: int) -> list[Passage]:
    """At most `k` entries sharing words with `query`, best first."""
    asked = _words(query)
    scored = []
    for title, text in ENTRIES.items():
        shared = asked & _words(f"{title} {text}")
        if shared:
            scored.append((len(shared) / len(asked), title, text))
    scored.sort(key=lambda hit: -hit[0])
    return [
        Passage(text, SOURCE, title="Example FAQ", location=title, score=score, knowledge_base=NAME)
        for score, title, text in scored[:k]
    ]
