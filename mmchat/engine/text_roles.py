"""Questions about a part of a picture's text that name it by its role, not by a word of it.

"Who is the note for?", "Who wrote this book?", "Who is texting me?", "Which shop is this
receipt from?", "What command failed?", "What does the button say?": none names a word the
picture shows, so the row that answers cannot be found by matching words (reading.line_reply),
and the 135M decoder, given the whole text, rarely picked the part out (it answered "Who is the
note for?" with a story). Each role has a place and a form that pages share: a greeting opens a
note ("Hi Leo,"), a signature closes one ("Love, Mum"), an author's name stands alone on a cover
or after "by", a notification's sender stands alone above the message, a shop's or a chat's
name is set largest (reading.title_of), a command follows a shell prompt, and a dialog's
buttons are short labels at its foot. A role not found gives None, and the question goes to
the decoder as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from mmchat.engine.reading import plain_question, row_text, rows, title_of
from mmchat.engine.vision.words import TextLine, VisualWords

_THING = (
    r"(?:note|letter|card|message|email|e-mail|memo|invitation|invite|postcard|text|parcel"
    r"|package|delivery|label|ticket|book|article|poem|story|report|essay|paper|song)"
)
_SUBJECT = rf"(?:(?:this|the|that) {_THING}|it|this|that)"  # "this note", "it"
_FOR = re.compile(
    rf"^\W*who(?:'s| is| was) {_SUBJECT} "
    r"(?:for|to|addressed to|meant for|written (?:for|to))\W*$"
)
_BY = re.compile(
    rf"^\W*(?:who (?:wrote|signed|sent|made) {_SUBJECT}"
    rf"|who(?:'s| is| was) {_SUBJECT} (?:from|by|written by|signed by)"
    rf"|who(?:'s| is) the (?:author|writer|sender)(?: of (?:(?:this|the|that) {_THING}|it|this))?)"
    r"\W*$"
)
_NAME = re.compile(
    r"^\W*(?:(?:which|what) (?:shop|store|restaurant|cafe|café|company|business|brand|bank"
    r"|place|hotel|bakery|pharmacy|supermarket|app|website|site)(?: is (?:this|it|that)"
    r"(?: \w+)?(?: from| for)?| (?:is|was) (?:this|it|that) \w+ from)"
    r"|what(?:'s| is) the name of (?:the|this) (?:shop|store|restaurant|cafe|café|company"
    r"|business|brand|place|hotel|app|website|site|contact|person)"
    r"|who(?:'s| is) (?:the|this) (?:conversation|chat) with"
    r"|who am i (?:talking|chatting) (?:to|with))"
    r"\W*$"
)
# Who a message on a screen is from: "Who is texting me?", "Who called?", "Who sent this?"
_SENDER = re.compile(
    r"^\W*who(?:'s| is| was)? (?:texting|messaging|calling|emailing|writing to|pinging) me\b"
    r"|^\W*who (?:texted|messaged|called|emailed|rang|pinged|wrote to|just wrote to) me\b"
    r"|^\W*who sent me (?:this|that|these|the|a|my)? ?(?:messages?|texts?|emails?)?\W*$"
    r"|^\W*who (?:called|rang)\W*$"
)
_COMMAND = re.compile(
    r"^\W*what (?:command|program|script)(?: was| did (?:they|you|i|he|she))? "
    r"(?:failed|fail|run|ran|typed|type|entered)\b"
    r"|^\W*what (?:was|is) the (?:command|program|script)(?: (?:that )?(?:failed|was run|ran))?\W*$"
)
# What a button says, not its colour or place.
_BUTTON = re.compile(
    r"\bwhat (?:does|do) (?:the|this|that|these|those) (?:\w+ )?buttons? (?:say|read)\b"
    r"|\bwhat(?:'s| is) (?:written |the text )?on (?:the|this|that) (?:\w+ )?buttons?\b"
    r"|\bwhat (?:are|is) the buttons?\W*$"
)

# A greeting that opens a note, with the name it greets.
_NAMED = r"(?P<name>[A-Z][\w'.-]*(?: [A-Z][\w'.-]*){0,2})"  # capitalised, as names are
_GREETING = re.compile(rf"^(?i:dear|hi|hello|hey|to|for|attn|attention)\b[:,]?\s+{_NAMED}")
# A signature: "Love, Mum", "Thanks, Sam", "- Priya", "From: Dan".
_SIGNATURE = re.compile(
    r"^(?:(?i:(?:with )?(?:love|thanks|thank you|cheers|best|regards|best wishes|kind regards"
    rf"|yours|x+|from))\b[:,]?\s*|[-–—~]\s*){_NAMED}\W*$"
)
_BY_LINE = re.compile(rf"^(?i:by)\s+{_NAMED}\W*$")
# A person's name on its own row: two to four capitalised words of letters.
_PERSON = re.compile(r"^[A-Z][a-z'’.-]+(?: [A-Z][a-z'’.-]*){1,3}$")
_JOINED_NAMES = re.compile(r"(?<=[a-z])(?=[A-Z])")  # "TomaszNowak": where a space was lost
# A shell prompt, then the command: "sam@laptop:~/src$ make", "$ make", "C:\\src> dir".
_PROMPT_END = re.compile(r"^(?:[\w.-]+@[\w.-]+[^\s$#%>]*)?[^\s]*[$#%>]\s+(?P<command>\S.*)$")
_ERROR = re.compile(r"(?i)\b(?:error|failed|failure|traceback|not found|denied|exception|fatal)\b")


def asks_for_role(question: str) -> bool:
    """Whether the question asks for a part of the text by its role ("Who is the note for?"):
    about the picture whatever the relevance gate makes of it, as a question for the whole
    text is."""
    asked = plain_question(question)
    return any(pattern.search(asked) for pattern, _ in _ROLES)


def role_reply(question: str, words: VisualWords) -> str | None:
    """The answer read from the row in the role the question names; None when the question
    names no role or the picture's text has no row in it."""
    if not words.text:
        return None
    asked = plain_question(question)
    grouped = [row_text(row) for row in rows(words.text)]
    grouped = [text for text in grouped if text]
    for pattern, answer in _ROLES:
        if pattern.search(asked):
            return answer(grouped, words.text)
    if _BUTTON.search(asked):
        return _buttons(words.text)
    return None


def _addressee(grouped: list[str], lines: Sequence[TextLine]) -> str | None:
    for text in grouped[:3]:  # a greeting opens the note
        if found := _GREETING.match(text):
            return f'It\'s for {found["name"]}: it opens "{text}".'
    return None


def _author(grouped: list[str], lines: Sequence[TextLine]) -> str | None:
    for text in grouped:
        if found := _BY_LINE.match(text):
            return f'It says "{text}": {found["name"]}.'
    for text in reversed(grouped[-3:]):  # a signature closes a note
        if found := _SIGNATURE.match(text):
            return f'It\'s signed "{text}": {found["name"]}.'
    title = title_of(lines)
    names = [t for t in grouped if t != title and _PERSON.match(t)]
    if names:  # an author's name stands alone on a cover
        return f"The name on it is {names[-1]}."
    return None


def _sender(grouped: list[str], lines: Sequence[TextLine]) -> str | None:
    """A notification or a chat names its sender on a row of their own, the message below:
    the first such name; else a note's signature (_author). The recogniser sometimes drops
    the space between a first and a last name ("TomaszNowak"): it is put back."""
    title = title_of(lines)
    for i, text in enumerate(grouped):
        name = _JOINED_NAMES.sub(" ", text)
        if text != title and _PERSON.match(name):
            after = grouped[i + 1] if i + 1 < len(grouped) else ""
            return f'It\'s {name}: "{after}"' if after else f"It's {name}."
    return _author(grouped, lines)


def _name(grouped: list[str], lines: Sequence[TextLine]) -> str | None:
    title = title_of(lines)
    return f'The name at the top, in the largest type, is "{title}".' if title else None


def _command(grouped: list[str], lines: Sequence[TextLine]) -> str | None:
    commands = [
        (i, found["command"].strip())
        for i, text in enumerate(grouped)
        if (found := _PROMPT_END.match(text))
    ]
    if not commands:
        return None
    # The command run last before an error line, else the last one.
    failed = [c for i, c in commands if any(_ERROR.search(t) for t in grouped[i + 1 :])]
    command = failed[-1] if failed else commands[-1][1]
    return f'The command was "{command}".'


def _buttons(lines: Sequence[TextLine]) -> str | None:
    """Short labels (one or two words) in the lower part of the picture, side by side or
    alone on their row: what a dialog's buttons say."""
    grouped = rows(lines)
    labels = [
        row_text([line])
        for row in grouped
        for line in row
        if line.box[1] >= 0.5 and 0 < len(line.text.split()) <= 2 and len(line.text) <= 20
    ]
    if not labels:
        return None
    shown = " and ".join(f'"{label}"' for label in labels[:4])
    return f"The button says {shown}." if len(labels) == 1 else f"The buttons say {shown}."


# Each role's question and where its answer is found, in the order they are tried.
_ROLES: list[tuple[re.Pattern[str], Callable[[list[str], Sequence[TextLine]], str | None]]] = [
    (_FOR, _addressee),
    (_BY, _author),
    (_SENDER, _sender),
    (_NAME, _name),
    (_COMMAND, _command),
]
