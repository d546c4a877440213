"""Questions that ask for a picture's text as it stands, answered from the recognised lines.

"What does it say?", "Read this for me", "Is there any text?" and "What is the title?" want the
words on the picture, not the decoder's retelling of them: quoted through the decoder, a page
came back cut short after two or three lines (its repetition penalty closes the quote once words
recur) or with words of its own. So these are answered from the text recogniser's lines, in
reading order. A question about one part of the text gets the row that names its word
("What is the total?": "Total due: 480.00"); one that names none ("What does the button say?")
goes to the decoder, with the text in its note.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mmchat.engine.vision.words import TextLine, VisualWords
from mmchat.text import strip_control

# Things that carry text: "read the ticket", "what's on this label" mean all of it.
_CARRIER = (
    r"(?:(?:page|label|sign|card|ticket|screen|display|board|note|poster|document|sheet|slide"
    r"|menu|whiteboard|letter|receipt|placard|plaque|notice|form|paper|article|leaflet|flyer"
    r"|cover|screenshot|message|email|certificate|slip|timetable|schedule|invoice|bill"
    r"|statement|recipe|code|sticker|tag|brochure|coupon|voucher|prescription|instruction"
    r"|notification|text|word|writing)s?)"
)
_CARRIER_WORD = re.compile(rf"{_CARRIER}$")
_SHOWN = r"(?:picture|image|photo)"  # "what's on this photo" may ask what it shows
_THIS = r"(?:it|this|that|here|there|(?:the|this|that) (?:\w+ )?\w+)"
# The text's bearer: a thing that carries text, or any thing pointed at ("this timetable").
_IT = (
    rf"(?:it|this|that|(?:the|this|that|these|those) (?:\w+ )?(?:{_CARRIER}|{_SHOWN})"
    r"|(?:this|that|these|those) (?:\w+ )?\w+)"
)
# The whole text: questions naming no part of it.
_READ_ALL = re.compile(
    r"^\W*(?:(?:can|could|would|will) you |please )?(?:"
    rf"what does {_IT} say"
    rf"|(?:tell me |say )?what {_IT} says"
    r"|what(?:'s| is) the text(?: (?:on|in)\b.*)?"
    r"|what(?:'s| is) written(?: (?:on|in|here|there)\b.*)?"
    r"|what (?:text|words) (?:is|are) (?:there|in|on)\b.*"
    rf"|what(?:'s| is) (?:on|in) (?:the|this|that) (?:\w+ )?{_CARRIER}"
    rf"|what(?:'s| is| does) (?:the|this|that) (?:screen|display|monitor|sign|board) "
    r"(?:show|showing|display|displaying|say|saying|read)"
    rf"|give me (?:the )?(?:contents?|text|words) of {_THIS}"
    rf"|what do {_IT} say"
    rf"|tell me (?:everything|all) (?:on|in|that's on|that is on|written on) {_IT}"
    rf"|go through {_IT}(?: (?:line by line|for me))?"
    r"|(?:read|transcribe|(?:type|write|copy)(?=(?: it| this| that)? out))(?: out| back)?"
    r"(?: (?:it|this|that) out)?"
    rf"(?: (?:me|to me|for me))?(?: (?:it|this|that|everything|all(?: of it)?"
    rf"|what(?:'s| is) (?:on|in|written on|written in) {_THIS}|what (?:it|this|that) says"
    rf"|{_IT}))?"
    rf"(?: (?:on|in|from) {_THIS})?"
    r"(?: (?:out|aloud|to me|for me))?"
    r")\W*(?:for me|please)?\W*$"
)
_ANY_TEXT = re.compile(r"^\W*(?:is|are) there (?:any )?(?:text|words|writing)\b")
_TITLE = re.compile(r"^\W*what(?:'s| is) (?:the |its )?(?:title|headline|heading)\b")

ROW_OVERLAP = 0.75  # lines sharing this much of the shorter one's height sit on one row
MAX_CHARS = 4000  # a long page is quoted whole up to here


def asks_for_text(question: str) -> bool:
    """Whether the question asks for a picture's text, or its title, as it stands: such a
    question is about the picture whatever the relevance gate makes of it ("Can you read this
    for me?" read to it as a text question)."""
    asked = plain_question(question)
    return any(p.search(asked) for p in (_TITLE, _READ_ALL, _ANY_TEXT))


_WORD = re.compile(r"[a-z]{3,}")
# Words too common to tie a question to a picture's text.
_COMMON = frozenset(
    "the and are was were what who whom whose when where which why how much many does did "
    "this that these those there here with for from about into your you they them their its "
    "can could would should will shall have has had not any all some one".split()
)


def mentions_text(question: str, words: VisualWords) -> bool:
    """Whether the question names a word of the picture's text ("How much was the cheddar?"
    of a receipt that lists cheddar); a word and its longer form count ("opening" finds
    "Open", "ingredients" finds "Ingredient")."""
    asked, found = _words(question), _words(" ".join(line.text for line in words.text))
    return any(_same_word(a, f) for a in asked for f in found)


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _COMMON}


def _same_word(a: str, b: str) -> bool:
    short, long = sorted((a, b), key=len)
    return short == long or (len(short) >= 4 and long.startswith(short))


# Values of a known form, and the questions that ask for one: "How much did the ticket cost?"
# wants the row with a price, not the one naming the ticket, and "How much do I owe?" names no
# word of the text at all. Times are written with a colon or am/pm (a "4.50" is a price).
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_VALUES = {
    "money": re.compile(
        # Not bounded by \b on the left: the recogniser reads "£" as "f" or "E" ("f11.50").
        r"[$£€¥]\s?\d|(?<![\d.,])\d+[.,]\d\d(?![\d.,]?\d)(?!\s*(?:am|pm|%|kg|g|ml|l)\b)"
        r"|\b\d+(?:[.,]\d\d)?\s?(?:usd|eur|gbp|dollars?|euros?|pounds?|pence|cents?)\b"
    ),
    "time": re.compile(r"\b\d{1,2}:\d{2}\b|\b\d{1,2}(?:[:.]\d{2})?\s?(?:am|pm)\b"),
    "date": re.compile(
        rf"\b\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b"
        rf"|\b{_MONTH}\s+\d{{1,2}}\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}(?!\w)"
        r"|\b(?:mon|tues?|wed|thu|thurs|fri|sat|sun)(?:day)?\b"
    ),
    "phone": re.compile(
        r"\+\d[\d ()-]{7,}\d|\(\d{2,5}\) ?\d{3,4}[ -]?\d{3,4}|\b0\d{2,4}[ -]\d{3,4}[ -]?\d{3,4}\b"
    ),
    "email": re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
    "web": re.compile(
        r"\b(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|org|net|io|gov|edu|co\.uk|org\.uk)\b"
    ),
    "number": re.compile(r"\d"),
}
_ASKS_VALUE = {
    "money": re.compile(
        r"\bhow much\b(?! (?:time|longer|weight|does (?:it|this|that) weigh))"
        r"|\b(?:cost|costs|price|priced|pay|paid|owe|owed|charge|charged|fee|fare|spend|spent)\b"
    ),
    "time": re.compile(
        r"\bwhat time\b|\bhow late\b|\bwhen\b.*\b(?:leave|leaves|depart|departs|arrive|arrives"
        r"|open|opens|close|closes|start|starts|begin|begins|finish|finishes|end|ends|next)\b"
    ),
    "date": re.compile(
        r"\bwhat (?:date|day)\b|\bwhich day\b|\bby when\b|\bexpiry\b|\bdue date\b"
        r"|\bwhen\b.*\b(?:due|expire|expires|return|renew|valid|until)\b"
    ),
    "phone": re.compile(r"\b(?:phone|telephone|call|ring|mobile)\b"),
    "email": re.compile(r"\be-?mail\b"),
    "web": re.compile(r"\b(?:website|web site|web address|url)\b"),
    "number": re.compile(r"\bhow many\b"),  # a count the text gives ("28 tablets")
}
# With several prices and no word to choose by, the one a bill asks for.
_DUE = re.compile(r"\b(?:total|due|balance|owe|owed|amount|to pay|pay)\b")


def asked_values(question: str) -> set[str]:
    """The forms of value the question asks for ("money", "time", "date", "phone", "email",
    "web"); empty for other questions."""
    asked = plain_question(question)
    return {kind for kind, pattern in _ASKS_VALUE.items() if pattern.search(asked)}


def values_to_look_for(question: str) -> set[str]:
    """The forms of value whose presence in a picture's text makes the question about it: a
    count is left out, as any number would do ("How many legs does a spider have?")."""
    return asked_values(question) - {"number"}


def asks_for_a_value_shown(question: str, words: VisualWords) -> bool:
    """Whether the question asks for a form of value that the picture's text holds ("How much
    do I owe?" of a parking machine's screen showing prices)."""
    text = " ".join(line.text for line in words.text).lower()
    return any(_VALUES[kind].search(text) for kind in values_to_look_for(question))


def line_reply(question: str, words: VisualWords) -> str | None:
    """For a question about one part of the text ("What is the total?", "Who is it billed
    to?", "How much did the ticket cost?"), the row of text that names the question's word, or
    holds the form of value it asks for, quoted: the 135M decoder, given the text in its note,
    invented around such a part ("The total is 480.00, which includes the invoice, the joinery
    project, ..."). None when no row names one or holds one."""
    asked, kinds = _words(question), asked_values(question)
    # "the ticket" in "How much did the ticket cost?" names the whole thing, not a row of it
    parts = {a for a in asked if not _CARRIER_WORD.match(a)}
    grouped = rows(words.text)
    texts = [row_text(row).lower() for row in grouped]
    found = [_words(text) for text in texts]
    named = [sum(any(_same_word(a, f) for f in row) for a in asked) for row in found]

    def values_in(index: int, counted: bool) -> int:
        # A count only where what is counted is named: "How many calories?" of a label, not
        # of a photo whose sign holds some number.
        shown = [k for k in kinds if k != "number" or counted]
        return sum(bool(_VALUES[kind].search(texts[index])) for kind in shown)

    best: tuple[tuple[float, ...], int] | None = None  # (ranking key, row index)
    carried: set[int] = set()  # rows whose value sits on the row below
    for index, row in enumerate(grouped):
        part = any(_same_word(a, f) for f in found[index] for a in parts)
        values = values_in(index, bool(named[index]))
        below = index + 1
        if part and not values and below < len(grouped) and not named[below]:
            # A menu's or a tilted receipt's price on the row below the dish it prices.
            values = values_in(below, True)
            if values:
                carried.add(index)
        if not (named[index] or values) or ("number" in kinds and not values):
            continue
        due = int("money" in kinds and bool(_DUE.search(texts[index])))
        tall = max(line.box[3] - line.box[1] for line in row) if "money" in kinds else 0.0
        # First a row naming a part with the value asked ("Cheddar 400g 6.45"), then the value
        # with the most words named, then the bill's due ("Amount paid £20.60" for "How much
        # did I pay?"), then the price set largest (a shelf label's, not the old one).
        key = (int(part and values > 0), values, named[index], due, tall, -index)
        if best is None or key > best[0]:
            best = (key, index)
    if best is None:
        return None
    index = best[1]
    carry = index in carried
    if index and not named[index] and _label_only(row_text(grouped[index - 1]), asked):
        index -= 1  # the value's label on the row above ("Email address"), quoted with it
    quoted = [row_text(grouped[index])]
    # A sentence wrapped onto the rows below goes on there ("Please bring the / folding chairs").
    while index + 1 < len(grouped) and _runs_on(grouped[index][-1], grouped[index + 1][0]):
        index += 1
        quoted[-1] += " " + row_text(grouped[index])
        carry = False
    # A row that is only the label the question names ("Email address") has its value below.
    if (carry or _label_only(quoted[-1], asked)) and index + 1 < len(grouped):
        quoted.append(row_text(grouped[index + 1]))
    return f'It says: "{capped(" / ".join(quoted))}"'


def _label_only(text: str, asked: set[str]) -> bool:
    """Whether a row holds nothing but words the question names ("Email address")."""
    rest = _WORD.sub(
        lambda m: "" if any(_same_word(a, m.group()) for a in asked) else m.group(),
        text.lower(),
    )
    return any(c.isalnum() for c in text) and not any(c.isalnum() for c in rest)


def row_text(row: Sequence[TextLine]) -> str:
    return " ".join(text for t in row if (text := _clean(t)))


def plain_question(question: str) -> str:
    """The question lowercased, its spaces single: what the patterns here match."""
    return " ".join(question.lower().split())


def read_reply(question: str, words: VisualWords) -> str | None:
    """The answer when the question asks for the text (or its title) as it stands; None for
    other questions, which the decoder answers."""
    asked = plain_question(question)
    if _TITLE.search(asked):
        title = title_of(words.text)
        return f'The title is "{title}".' if title else None
    whole, any_text = bool(_READ_ALL.search(asked)), bool(_ANY_TEXT.search(asked))
    if not (whole or any_text):
        return None
    if not words.text:
        return "I can't make out any text in this picture."
    said = f'It says: "{quoted_text(words.text)}"'
    return f"Yes. {said}" if any_text else said


def rows(lines: Sequence[TextLine]) -> list[list[TextLine]]:
    """The lines grouped into rows, top to bottom, each row left to right. The recogniser
    finds lines in its own order (a sign's smaller second line came first)."""
    grouped: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda t: (t.box[1] + t.box[3]) / 2):
        row = grouped[-1] if grouped else None
        if row is not None and _overlap(row[-1], line) >= ROW_OVERLAP:
            row.append(line)
        else:
            grouped.append([line])
    return [sorted(row, key=lambda t: t.box[0]) for row in grouped]


def _overlap(a: TextLine, b: TextLine) -> float:
    """How much of the shorter line's height the two share."""
    shared = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
    shorter = min(a.box[3] - a.box[1], b.box[3] - b.box[1])
    return shared / shorter if shorter > 0 else 0.0


def _clean(line: TextLine) -> str:
    return " ".join(strip_control(line.text).replace('"', "'").split())


def quoted_text(lines: Sequence[TextLine]) -> str:
    """The text in reading order: a sentence wrapped onto the next line runs on with a space,
    other breaks (a heading, a button, an invoice's next line) show as " / "."""
    parts: list[str] = []
    previous: TextLine | None = None
    for row in rows(lines):
        for line in row:
            text = _clean(line)
            if not text:
                continue
            if previous is not None:
                parts.append(" " if _runs_on(previous, line) else " / ")
            parts.append(text)
            previous = line
    return capped("".join(parts))


def capped(text: str, limit: int = MAX_CHARS) -> str:
    """`text`, cut to `limit` characters with "..." where it was cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _runs_on(previous: TextLine, line: TextLine) -> bool:
    """Whether `line` goes on with `previous`'s sentence: it broke off mid-sentence (a
    lowercase word or a comma) and goes on with a lowercase word, from the same left edge, set
    in about the same size. A title and the text under it, an invoice's lines, or a label and
    its value ("Email address" over "alice@example.com") stay apart."""
    height = previous.box[3] - previous.box[1]
    other = line.box[3] - line.box[1]
    words = _clean(line).split()
    first = words[0].rstrip(".,;:!?") if words else ""
    return (
        bool(re.search(r"[a-z,;\-]$", _clean(previous)))
        and first.isalpha()
        and first.islower()
        and abs(previous.box[0] - line.box[0]) <= 0.03
        and height > 0
        and 0.75 <= other / height <= 1.33
    )


def title_of(lines: Sequence[TextLine]) -> str:
    """The row set in the largest type, which is what a person calls a page's, a window's or
    a sign's title, with the rows it wraps onto (a headline over two lines: the rows right
    below set in the same type)."""
    if not lines:
        return ""
    tallest = max(lines, key=lambda t: t.box[3] - t.box[1])
    grouped = rows(lines)
    index = next(i for i, r in enumerate(grouped) if tallest in r)
    title = [row_text(grouped[index])]
    while index + 1 < len(grouped) and _wraps_onto(grouped[index], grouped[index + 1]):
        index += 1
        title.append(row_text(grouped[index]))
    return " ".join(title)


def _wraps_onto(row: Sequence[TextLine], below: Sequence[TextLine]) -> bool:
    """`below` goes on with `row`'s title: one line each, the same type size (within 12%),
    and no more than half a line between them."""
    if len(row) != 1 or len(below) != 1:
        return False
    (above,), (line,) = row, below
    height = above.box[3] - above.box[1]
    other = line.box[3] - line.box[1]
    return (
        height > 0 and 0.88 <= other / height <= 1.12 and line.box[1] - above.box[3] <= 0.5 * height
    )
