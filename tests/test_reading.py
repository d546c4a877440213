"""Questions that ask for a picture's text as it stands (reading.py): which questions they are,
reading order, where a wrapped sentence runs on, and which row is the title. The lines are the
recogniser's data structure, placed as it places them; the real recogniser on real pictures is
tests/test_image_turns.py's."""

from __future__ import annotations

import pytest

from mmchat.engine.reading import (
    asks_for_a_value_shown,
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


TAXI = picture(
    line("CITY CABS", 0.3, 0.05, 0.7, 0.12),
    line("Receipt no. 88213", 0.1, 0.20, 0.5, 0.24),
    line("Fri 12 Sep 2026  23:40", 0.1, 0.27, 0.6, 0.31),
    line("Distance 7.2 miles", 0.1, 0.34, 0.5, 0.38),
    line("Fare £18.60", 0.1, 0.41, 0.4, 0.45),
    line("Tip £2.00", 0.1, 0.48, 0.4, 0.52),
    line("Amount paid £20.60", 0.1, 0.55, 0.5, 0.59),
    line("Lost property: 0161 555 0199", 0.1, 0.70, 0.7, 0.74),
    line("www.citycabs.example.com", 0.1, 0.78, 0.6, 0.82),
)


@pytest.mark.parametrize(
    ("question", "row"),
    [
        # The receipt is named, but the price is asked for: the row with a price.
        ("How much did the taxi receipt cost?", "Amount paid £20.60"),
        ("What was the tip?", "Tip £2.00"),  # a word named and a price: that row
        ("How much did I pay?", "Amount paid £20.60"),  # no word of the text: the bill's due
        ("What time was the ride?", "Fri 12 Sep 2026 23:40"),
        ("What number do I call about a lost bag?", "Lost property: 0161 555 0199"),
        ("What's their website?", "www.citycabs.example.com"),
    ],
)
def test_a_question_for_a_value_gets_the_row_that_holds_one(question: str, row: str) -> None:
    assert line_reply(question, TAXI) == f'It says: "{row}"'


def test_a_question_for_a_value_the_text_holds_is_about_the_picture() -> None:
    assert asks_for_a_value_shown("How much do I owe?", TAXI)
    assert asks_for_a_value_shown("When does it open?", picture(line("Open 9:00", 0, 0, 1, 0.1)))
    assert not asks_for_a_value_shown("How much do I owe?", SIGN)  # no price on the sign
    assert not asks_for_a_value_shown("Write a haiku about the sea.", TAXI)
    assert not asks_for_a_value_shown("How much longer is the Nile than the Thames?", TAXI)


def test_a_count_is_read_from_the_row_that_names_what_is_counted() -> None:
    box = picture(
        line("Ibuprofen 200 mg", 0.1, 0.1, 0.6, 0.2),
        line("24 tablets", 0.1, 0.25, 0.4, 0.3),
        line("Tablets should be swallowed whole", 0.1, 0.6, 0.8, 0.65),
    )
    assert line_reply("How many tablets are in the box?", box) == 'It says: "24 tablets"'
    # A count the text does not give is not answered from it.
    assert line_reply("How many dogs are there?", TAXI) is None
    assert line_reply("How many people are in the cab?", TAXI) is None
    assert not asks_for_a_value_shown("How many legs does a spider have?", TAXI)


def test_a_row_above_the_value_is_quoted_with_it_only_when_it_is_its_label() -> None:
    stub = picture(
        line("Ticket 00417 Screen 3", 0.1, 0.10, 0.7, 0.15),
        line("Adult £11.50", 0.1, 0.20, 0.5, 0.25),
    )
    assert line_reply("How much did the ticket cost?", stub) == 'It says: "Adult £11.50"'
    bill = picture(
        line("Amount due", 0.1, 0.10, 0.4, 0.15),
        line("£64.20", 0.1, 0.20, 0.3, 0.25),
    )
    assert line_reply("What's the amount due?", bill) == 'It says: "Amount due / £64.20"'


def test_with_several_prices_and_nothing_to_choose_by_the_largest_is_read() -> None:
    shelf = picture(
        line("Oat Milk 1 L", 0.1, 0.05, 0.6, 0.12),
        line("Was £2.40", 0.1, 0.15, 0.3, 0.19),
        line("£1.85", 0.4, 0.25, 0.8, 0.45),
        line("18.5p per 100 ml", 0.1, 0.50, 0.5, 0.54),
    )
    assert line_reply("How much is this?", shelf) == 'It says: "£1.85"'


def test_a_price_on_the_row_below_the_thing_it_prices_is_read_with_it() -> None:
    menu = picture(
        line("Leek and potato soup", 0.1, 0.10, 0.6, 0.15),
        line("4.95", 0.7, 0.17, 0.85, 0.21),
        line("Goat's cheese tart", 0.1, 0.25, 0.6, 0.30),
        line("7.40", 0.7, 0.32, 0.85, 0.36),
        line("Lamb shank with mash 14.25", 0.1, 0.40, 0.85, 0.47),
    )
    said = line_reply("How much is the tart?", menu)
    assert said == 'It says: "Goat\'s cheese tart / 7.40"'
    assert line_reply("How much is the lamb?", menu) == 'It says: "Lamb shank with mash 14.25"'


def test_a_count_prefers_the_first_row_that_gives_it_whatever_its_size() -> None:
    box = picture(
        line("16 tablets", 0.1, 0.10, 0.4, 0.14),
        line("Take 1 or 2 tablets every 4 to 6 hours", 0.1, 0.50, 0.9, 0.60),
    )
    assert line_reply("How many tablets are in the box?", box) == 'It says: "16 tablets"'
