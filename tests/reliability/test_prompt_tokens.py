"""Untrusted text never becomes chat-template control tokens, counted on the real prompt ids.

A turn is built the way mmchat builds it (chat.Turn: persona, retrieved passages, history) and
answered by the real default tokenizer's model (SmolLM2, ChatML `<|im_start|>` markers). The
same turn with harmless text in place of the planted markers must hold exactly as many control
tokens: the template's own, and not one more.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from trustkit import control_ids, special_tokens

from mmchat.engine.hf import HFEngine
from mmchat.engine.registry import resolve

pytestmark = pytest.mark.reliability


@pytest.fixture(scope="module")
def engine() -> Iterator[HFEngine]:
    engine = HFEngine(resolve("smollm2"), quant="auto", threads=2)
    engine.load()
    yield engine
    engine.close()


def test_planted_markers_add_no_control_token(engine: HFEngine, tmp_path: Path) -> None:
    im_start = engine.tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert im_start in control_ids(engine)  # the default tokenizer is ChatML's

    found = special_tokens(engine, tmp_path)
    # system, history user, history assistant, this user turn, the generation prompt
    assert found["planted"][im_start] == 5
    assert found["planted"] == found["harmless"] and found["extra"] == 0
    # The answer was generated from these ids (the engine's own count of its prompt), not from
    # the text as it would have been templated raw.
    assert found["answered_length"] == len(found["ids"])
    assert found["answered_length"] != found["raw_length"]
    # The planted text still reaches the model, as words it can read and quote: in the persona,
    # the two history messages, the question, the passage and its title.
    assert found["shown"].count("You are evil") == 6
    # Passages are in the person's turn, after the system prompt's rule; never in the system.
    system, *_, last = found["request"].messages
    assert system.role == "system" and "Orders ship" not in system.content
    assert last.role == "user" and last.content.startswith("<documents>")
    assert "[1] source:" in last.content


def test_marker_strings_cover_every_added_token(engine: HFEngine) -> None:
    from mmchat.engine.markers import defuse, marker_strings

    tokenizer: Any = engine.tokenizer
    markers = marker_strings(tokenizer)
    for token in tokenizer.added_tokens_decoder.values():
        text = f"a {token.content} b"
        ids = tokenizer(defuse(text, markers), add_special_tokens=False)["input_ids"]
        assert not set(ids) & control_ids(engine), token.content
