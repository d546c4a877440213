"""An answer about a picture that opens by refusing gives the picture's text instead
(refusal_guard.py): the guard over a stream of events, as HFEngine.stream runs it."""

from __future__ import annotations

import time
from collections.abc import Iterator

from mmchat.engine.base import Delta, Event, Failed, Finished
from mmchat.engine.image_turn import text_instead
from mmchat.engine.refusal_guard import guard, refuses
from mmchat.engine.vision.words import TextLine, VisualWords

FALLBACK = 'I can\'t tell that from the picture by myself. Its text reads: "Gate 12"'
ran: list[str] = []  # the pieces the decoder produced, for the test that it was stopped


def answer(*pieces: str, end: Event | None = None) -> Iterator[Event]:
    """A decoder's stream: its pieces, then Finished (or `end`); records how far it ran."""
    for piece in pieces:
        ran.append(piece)
        yield Delta(piece)
    yield end or Finished("stop", len(pieces), 0.1, 0.01)


def guarded(events: Iterator[Event], prefix: str = "") -> list[Event]:
    ran.clear()
    return list(guard(events, prefix=prefix, fallback=FALLBACK, started=time.perf_counter()))


def test_openings_that_refuse_and_ones_that_do_not() -> None:
    for said in (
        "I'm sorry for any confusion.",
        "I am sorry, but I can't help.",
        "As a text-based AI assistant, I don't have the ability to see.",
        "As an AI language model I cannot see images.",
        "I cannot see the picture.",
        "Unfortunately, as a chatbot...",
    ):
        assert refuses(said), said
    for said in (
        "Your seat is 14C.",
        "The sign says sorry, we are closed.",
        "It is mostly brown.",
        "I think it's a boarding pass for a flight to Oslo.",
    ):
        assert not refuses(said), said


def test_a_refusal_is_cut_and_the_text_said_instead() -> None:
    pieces = ["I'm", " sorry", " for", " any", " confusion,", " but", " as", " a", " chatbot"]
    events = guarded(answer(*pieces, " I", " cannot", " see", " it", "."))
    assert [e.text for e in events if isinstance(e, Delta)] == [FALLBACK]
    assert isinstance(events[-1], Finished) and events[-1].reason == "stop"
    assert len(ran) < 14  # the decoder was stopped once the opening showed


def test_a_short_refusal_that_ends_within_the_window_is_replaced_too() -> None:
    events = guarded(answer("I'm sorry", " for any confusion."))
    assert [e.text for e in events if isinstance(e, Delta)] == [FALLBACK]


def test_other_answers_pass_whole_and_in_order_after_the_prefix() -> None:
    pieces = ["The picture shows", " a", " boarding", " pass", " to", " Oslo,", " seat", " 14C."]
    events = guarded(answer(*pieces), prefix="The picture shows")
    assert "".join(e.text for e in events if isinstance(e, Delta)) == "".join(pieces)
    assert isinstance(events[-1], Finished) and events[-1].completion_tokens == len(pieces)
    short = guarded(answer("14C."))
    assert [type(e) for e in short] == [Delta, Finished]
    failed = guarded(answer("Your seat", end=Failed("boom")))
    assert isinstance(failed[-1], Failed) and failed[0] == Delta("Your seat")


def test_the_stand_in_is_the_pictures_text_or_nothing() -> None:
    line = TextLine(text="Gate 12", score=0.99, box=(0.1, 0.1, 0.5, 0.2))
    assert text_instead(VisualWords(width=100, height=100, text=[line])) == FALLBACK
    assert text_instead(VisualWords(width=100, height=100)) is None
