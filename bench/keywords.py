"""How the held-out image benchmark grades an answer against keywords.

A keyword counts when it appears in the answer as a word or phrase of its own, an English
plural ending allowed ("horse" finds "horses", "bus" finds "buses"; "car" does not find
"carrot", "2" does not find "20"), ignoring case and curly apostrophes ("can’t" is "can't").
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def normalise(answer: str) -> str:
    return answer.lower().replace("\u2019", "'").replace("\u2018", "'")


def found(answer: str, keywords: Iterable[str]) -> list[str]:
    """The keywords present in `answer`, in the order given."""
    text = normalise(answer)
    return [
        k for k in keywords if re.search(rf"(?<!\w){re.escape(normalise(k))}(?:s|es)?(?!\w)", text)
    ]


def passes(answer: str, keywords: list[str], need: int = 1) -> bool:
    """At least `need` of the keywords are in the answer (photos: any one; text: `need`)."""
    return len(found(answer, keywords)) >= need
