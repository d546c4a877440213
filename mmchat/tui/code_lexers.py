"""Code-block highlighters made ready off the UI thread.

Pygments compiles a lexer's regular expressions the first time the lexer is made (Python's:
~45 ms), and the first code block in that language drawn by the chat view paid it on the
event loop: the longest stall while a chat opened. Lexers are made here, in a thread, for the
languages of the messages about to be shown and for the common ones when the app starts; the
compiled rules are kept on the lexer class, so the drawing finds them ready.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

COMMON = ("python", "bash", "json", "javascript", "text")
_FENCE = re.compile(r"^[ \t]{0,3}(?:```|~~~)[ \t]*([\w+#.-]+)", re.MULTILINE)


def languages_in(texts: Iterable[str]) -> set[str]:
    """The languages named by the fenced code blocks in these texts."""
    return {m.group(1).lower() for text in texts for m in _FENCE.finditer(text)}


def warm(languages: Iterable[str]) -> None:
    """Make each language's lexer once (unknown names are skipped)."""
    for name in languages:
        try:
            get_lexer_by_name(name)
        except ClassNotFound:
            continue
