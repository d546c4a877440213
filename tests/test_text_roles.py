"""Questions that name a part of a picture's text by its role (text_roles.py): who a note is
for and who signed it, a book's author, the name set largest, the command a terminal ran, a
dialog's buttons; and what is left to the decoder. The lines are the recogniser's data
structure, placed as it places them; the real recogniser and model are
tests/test_image_turns.py's."""

from __future__ import annotations

import pytest

from mmchat.engine.text_roles import asks_for_role, role_reply
from mmchat.engine.vision.words import TextLine, VisualWords


def stacked(*rows: str, tall: int = -1) -> VisualWords:
    """One line a row, top to bottom; row `tall` set in larger type."""
    lines = []
    for i, text in enumerate(rows):
        y, height = 0.05 + i * 0.12, 0.08 if i == tall else 0.04
        lines.append(TextLine(text=text, score=0.99, box=(0.1, y, 0.9, y + height)))
    return VisualWords(width=1000, height=1000, text=lines)


NOTE = stacked("Hi Leo,", "Gone to the dentist, back by four.", "Feed the cat.", "Love, Mum")
COVER = stacked("Winter at Hollins Mill", "A Novel", "Margaret Okafor", tall=0)
TERMINAL = stacked(
    "sam@laptop: ~/recipes",
    "sam@laptop:~/recipes$ ls",
    "cups.txt notes.md",
    "sam@laptop:~/recipes$ python3 convert.py cup.txt",
    "Traceback (most recent call last):",
    "FileNotFoundError: [Errno 2] No such file or directory: 'cup.txt'",
    "sam@laptop:~/recipes$",
)


def test_a_note_is_for_the_name_its_greeting_names_and_from_its_signature() -> None:
    assert role_reply("Who is the note for?", NOTE) == 'It\'s for Leo: it opens "Hi Leo,".'
    assert "Mum" in (role_reply("Who wrote the note?", NOTE) or "")
    assert "Mum" in (role_reply("Who is it from?", NOTE) or "")
    # A list that opens "To do" greets no one; a note without a greeting or signature gives
    # the question to the decoder.
    assert role_reply("Who is the note for?", stacked("To do today", "milk, bread")) is None
    assert role_reply("Who wrote this note?", stacked("Back at five", "the door is open")) is None


def test_a_books_author_is_the_by_line_or_the_name_alone_on_its_cover() -> None:
    assert role_reply("Who wrote this book?", COVER) == "The name on it is Margaret Okafor."
    by = stacked("The Salt Road", "by Anna Berg", tall=0)
    assert role_reply("Who is the author?", by) == 'It says "by Anna Berg": Anna Berg.'


def test_a_shops_or_a_chats_name_is_the_row_set_largest() -> None:
    receipt = stacked("14 Juniper Road", "HILLTOP GROCER", "Oat milk 1.85", tall=1)
    assert "HILLTOP GROCER" in (role_reply("Which shop is this receipt from?", receipt) or "")
    chat = stacked("Grandma Rose", "Are you still coming on Sunday?", tall=0)
    assert "Grandma Rose" in (role_reply("Who is the conversation with?", chat) or "")


def test_who_is_texting_is_the_first_name_alone_on_its_row_with_the_message_below() -> None:
    lock = stacked("18:05", "Friday 3 October", "MESSAGES", "Dana Whitfield", "Bread?", tall=0)
    assert role_reply("Who is texting me?", lock) == 'It\'s Dana Whitfield: "Bread?"'
    assert "Dana Whitfield" in (role_reply("who called", lock) or "")
    assert "Dana Whitfield" in (role_reply("Who sent me this message?", lock) or "")
    assert "Mum" in (role_reply("Who texted me?", NOTE) or "")  # no name row: the signature
    assert role_reply("Who is texting me?", stacked("09:41", "No notifications")) is None
    lost_space = stacked("07:30", "MESSAGES now", "AdaLovelace", "Call me back", tall=0)
    assert role_reply("Who texted me?", lost_space) == 'It\'s Ada Lovelace: "Call me back"'
    assert not asks_for_role("Who is calling the shots in Congress?")


def test_the_command_that_failed_is_the_last_one_run_before_an_error() -> None:
    said = role_reply("What command failed?", TERMINAL)
    assert said == 'The command was "python3 convert.py cup.txt".'
    # No prompt on the picture: nothing to point at.
    assert role_reply("What command failed?", stacked("Error 404", "Not found")) is None


def test_buttons_are_the_short_labels_in_the_lower_part() -> None:
    dialog = stacked("Delete file?", "report.pdf will be deleted for good.", "", "", "Cancel")
    dialog.text.append(TextLine("Delete", 0.99, (0.6, 0.53, 0.8, 0.57)))
    assert role_reply("What does the button say?", dialog) == (
        'The buttons say "Cancel" and "Delete".'
    )
    both = role_reply("What do the buttons say?", dialog)
    assert both is not None and both == role_reply("What are the buttons?", dialog)
    assert role_reply("What does the button say?", stacked("A long sentence of text")) is None
    assert role_reply("What colour is the button?", dialog) is None  # not what it says


@pytest.mark.parametrize(
    "question",
    [
        "Who is the note for?",
        "Who's this card for?",
        "Who wrote this book?",
        "Who is the author?",
        "Which shop is this receipt from?",
        "Who is the conversation with?",
        "What command failed?",
        "What was the command?",
    ],
)
def test_role_questions_are_about_the_picture(question: str) -> None:
    assert asks_for_role(question)


@pytest.mark.parametrize(
    "question",
    [
        "Who wrote Hamlet?",
        "What is the capital of France?",
        "What kind of shop is this?",  # what the picture shows, not a name on it
        "Who is the best author of detective stories?",
        "Write a note for my neighbour.",
    ],
)
def test_other_questions_are_not_role_questions(question: str) -> None:
    assert not asks_for_role(question)
