"""Questions that ask for a picture's text as it stands (reading.py): which questions they are,
reading order, where a wrapped sentence runs on, and which row is the title. The lines are the
recogniser's data structure, placed as it places them; the real recogniser on real pictures is
tests/test_image_turns.py's."""

from __future__ import annotations

import pytest

from mmchat.engine.reading import (
    line_reply,
    mentions_text,
    quoted_text,
    read_reply,
    rows,
    title_of,
)
from mmchat.engine.vision.words import TextLine, VisualWords


def line(text: str, x0: float, y0: float, x1: float, y1: float) -> TextLine:
    return TextLine(text=text, score=0.99, box=(x0, y0, x1, y1))


def picture(*lines: TextLine) -> VisualWords:
    return VisualWords(width=1000, height=1000, text=list(lines))


SIGN = picture(
    # Found smaller line first, as the recogniser found a tilted sign's; the "4" sits on the
    # first row beside PLATFORM, its box shorter.
    line("Trains to Brighton", 0.34, 0.54, 0.72, 0.71),
    line("4", 0.75, 0.39, 0.80, 0.49),
    line("PLATFORM", 0.24, 0.40, 0.73, 0.64),
)

PAGE = picture(
    line("A Short History of Bread", 0.09, 0.08, 0.82, 0.13),
    line("People were baking flat loaves from wild grain more than", 0.09, 0.15, 0.87, 0.185),
    line("ten thousand years ago, long before they learned to farm.", 0.09, 0.18, 0.85, 0.215),
    line("Leavened bread arrived later.", 0.09, 0.25, 0.50, 0.285),
)

INVOICE = picture(
    line("Invoice 2041", 0.09, 0.05, 0.41, 0.08),
    line("Harbour Lane Joinery, 7 Harbour Lane, Portwick", 0.10, 0.09, 0.64, 0.11),
    line("Billed to: Ms Anna Kowalski", 0.09, 0.12, 0.41, 0.14),
)


def test_rows_run_top_to_bottom_and_each_left_to_right() -> None:
    grouped = [[t.text for t in row] for row in rows(SIGN.text)]
    assert grouped == [["PLATFORM", "4"], ["Trains to Brighton"]]


def test_a_wrapped_sentence_runs_on_but_a_title_and_an_invoices_lines_stay_apart() -> None:
    assert quoted_text(PAGE.text) == (
        "A Short History of Bread / People were baking flat loaves from wild grain more than "
        "ten thousand years ago, long before they learned to farm. / Leavened bread arrived later."
    )
    assert quoted_text(INVOICE.text).count(" / ") == 2


def test_the_title_is_the_row_in_the_largest_type() -> None:
    assert title_of(SIGN.text) == "PLATFORM 4"
    assert title_of(PAGE.text) == "A Short History of Bread"
    assert title_of([]) == ""


@pytest.mark.parametrize(
    "question",
    [
        "What does it say?",
        "what does this say",
        "Can you read this for me?",
        "Transcribe the text.",
        "What's written here?",
        "What's written on the sign?",
        "What text is in this image?",
        "Please read the text aloud.",
        "What does the sign say?",
        "Read out the ticket, please.",
        "Read me the article.",
        "Can you tell me what this card says?",
        "What's on this page?",
        "What's the screen showing?",
        "Type out everything on this label.",
        "Give me the contents of this sheet.",
    ],
)
def test_questions_for_the_whole_text_get_it_quoted(question: str) -> None:
    assert read_reply(question, INVOICE) == f'It says: "{quoted_text(INVOICE.text)}"'


@pytest.mark.parametrize(
    "question",
    ["What does the button say?", "What is the total?", "Read the price of the milk.",
     "What is this?", "Who is it billed to?", "Read the email address.",
     "What's in this picture?", "What's on the table?", "Write a poem about this."],
)  # fmt: skip
def test_questions_about_one_part_of_the_text_are_left_to_the_decoder(question: str) -> None:
    assert read_reply(question, INVOICE) is None


def test_is_there_text_and_the_title_and_a_picture_without_text() -> None:
    assert (
        read_reply("Is there any text?", SIGN)
        == 'Yes. It says: "PLATFORM / 4 / Trains to Brighton"'
    )
    assert read_reply("What is the title?", PAGE) == 'The title is "A Short History of Bread".'
    blank = picture()
    assert read_reply("What does it say?", blank) == "I can't make out any text in this picture."
    assert read_reply("What is the title?", blank) is None


def test_quotes_in_the_text_cannot_close_the_quotation() -> None:
    said = read_reply("What does it say?", picture(line('Say "hi"\x1b[2J', 0.1, 0.1, 0.5, 0.2)))
    assert said == "It says: \"Say 'hi'[2J\""


def test_a_question_that_names_a_word_of_the_text_mentions_it() -> None:
    receipt = picture(
        line("Cheddar 400g 6.45", 0.1, 0.1, 0.5, 0.2), line("Open 9 to 5", 0.1, 0.3, 0.5, 0.4)
    )
    assert mentions_text("How much was the cheddar?", receipt)
    assert mentions_text("What are the opening hours?", receipt)
    assert not mentions_text("What is the capital of France?", receipt)
    assert not mentions_text("What was it?", receipt)  # common words tie nothing


RECEIPT = picture(
    line("HILLTOP GROCER", 0.2, 0.05, 0.8, 0.09),
    line("Cheddar 400g", 0.1, 0.30, 0.45, 0.33),
    line("6.45", 0.75, 0.30, 0.85, 0.33),  # the price, a box of its own on the same row
    line("TOTAL", 0.1, 0.50, 0.30, 0.54),
    line("17.85", 0.75, 0.50, 0.85, 0.54),
)


def test_a_question_about_one_part_gets_the_row_that_names_it() -> None:
    assert line_reply("How much was the cheddar?", RECEIPT) == 'It says: "Cheddar 400g 6.45"'
    assert line_reply("What was the total?", RECEIPT) == 'It says: "TOTAL 17.85"'
    assert line_reply("Who is it billed to?", INVOICE) == 'It says: "Billed to: Ms Anna Kowalski"'
    assert line_reply("What does the button say?", RECEIPT) is None  # no row names a button


def test_a_label_alone_on_its_row_is_quoted_with_the_value_below() -> None:
    form = picture(
        line("Settings", 0.1, 0.05, 0.3, 0.1),
        line("Email address", 0.1, 0.2, 0.4, 0.25),
        line("alice@example.com", 0.1, 0.3, 0.5, 0.35),
        line("Cancel", 0.1, 0.8, 0.2, 0.85),
    )
    said = line_reply("What is the email address?", form)
    assert said == 'It says: "Email address / alice@example.com"'


def test_the_row_named_is_quoted_with_the_rest_of_its_wrapped_sentence() -> None:
    chat = picture(
        line("Lovely. Please bring the", 0.1, 0.40, 0.6, 0.44),
        line("folding chairs from the garage.", 0.1, 0.45, 0.7, 0.49),
        line("10:16", 0.1, 0.52, 0.2, 0.55),
    )
    said = line_reply("What should they bring?", chat)
    assert said == 'It says: "Lovely. Please bring the folding chairs from the garage."'


def test_a_title_wrapped_over_two_rows_is_read_whole() -> None:
    front = picture(
        line("THE HARWICK GAZETTE", 0.1, 0.02, 0.9, 0.07),
        line("Old Ferry Returns to the", 0.1, 0.12, 0.9, 0.20),
        line("Estuary After 40 Years", 0.1, 0.21, 0.8, 0.29),
        line("By Tom Askew", 0.1, 0.31, 0.4, 0.34),
        line("The paddle steamer came back on Saturday", 0.1, 0.36, 0.9, 0.39),
    )
    said = read_reply("What's the headline?", front)
    assert said == 'The title is "Old Ferry Returns to the Estuary After 40 Years".'
    # A line in smaller type under a title is not part of it.
    assert title_of(SIGN.text) == "PLATFORM 4"
