"""Noticing an answer that has fallen into a loop: the same run of tokens three times in a row
at its end ("Cats are soft.\nCats are soft.\nCats are soft.\n"). A small model that starts
repeating itself rarely stops before the length limit, so the loop ends it there.
"""

from __future__ import annotations

from collections.abc import Callable

COPIES = 3  # a run seen this many times in a row is a loop
MIN_UNIT = 4  # shorter units (a table's "| --- ", an indent) repeat in good text
MAX_UNIT = 128  # the longest repeated run looked for, in tokens


class RepetitionGuard:
    """Fed each answer token; says when the answer ends in COPIES copies of one run of
    MIN_UNIT..MAX_UNIT tokens whose text has a letter in it (rows of digits, dashes or
    spaces are left alone). A unit of one token repeated twelve times is also a unit of four
    repeated three times, so short loops are caught once they are twelve tokens long.

    Per token: one integer comparison per candidate length; whole runs are compared only for
    the few lengths that pass it.
    """

    def __init__(
        self,
        has_words: Callable[[list[int]], bool],
        *,
        copies: int = COPIES,
        min_unit: int = MIN_UNIT,
        max_unit: int = MAX_UNIT,
    ) -> None:
        self.has_words = has_words
        self.copies = copies
        self.min_unit = min_unit
        self.max_unit = max_unit
        self.ids: list[int] = []

    def push(self, token: int) -> bool:
        """Add the next token; True when the answer now ends in a loop."""
        ids = self.ids
        ids.append(token)
        longest = min(self.max_unit, len(ids) // self.copies)
        for unit in range(self.min_unit, longest + 1):
            if ids[-1 - unit] != token:
                continue
            tail = ids[-unit:]
            if all(
                ids[-(k + 1) * unit : -k * unit] == tail for k in range(1, self.copies)
            ) and self.has_words(tail):
                return True
        return False


def text_has_words(decode: Callable[[list[int]], str]) -> Callable[[list[int]], bool]:
    """`has_words` for a tokenizer's decode: some letter in the decoded run."""
    return lambda ids: any(c.isalpha() for c in decode(ids))
