"""Hostile images through mmchat.images; hostile strings through every text path to a pty."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hostile_images
import pytest
import text_paths
from hostile_text import control_count, corpus, run_in_pty

from mmchat.text import json_for_terminal, one_line, strip_control

pytestmark = pytest.mark.reliability


def test_hostile_image_corpus_is_rejected_or_decoded_cleanly(tmp_path: Path) -> None:
    expect = hostile_images.build(tmp_path / "images")
    assert len(expect) >= 200
    figures = hostile_images.run(tmp_path / "images", expect)
    assert figures["crashes"] == 0, figures["details"]
    assert figures["hangs"] == 0, figures["details"]
    assert figures["unexpected"] == 0, figures["details"]  # bombs, fakes, FIFOs: rejected
    assert figures["bad_messages"] == 0, figures["details"]
    assert figures["accepted"] >= 40  # the odd modes and many-frame GIFs still work


def test_string_corpus_is_large_and_covers_the_hazards() -> None:
    strings = corpus()
    assert len(strings) >= 200
    assert sum(control_count(s) > 0 for s in strings) >= 150
    for text in strings:
        assert control_count(strip_control(text)) == 0
        assert control_count(one_line(text)) == 0
        assert control_count(json_for_terminal({"t": text})) == 0


def test_no_control_character_reaches_the_terminal(tmp_path: Path) -> None:
    figures = text_paths.run_all(tmp_path / "home", with_model=True)
    assert figures["strings"] >= 200
    assert figures["crashes"] == 0, figures["details"]
    assert figures["hangs"] == 0, figures["details"]
    assert figures["control_chars"] == 0, figures["per_command"]


def test_history_export_json_escapes_control_characters(tmp_path: Path) -> None:
    home = tmp_path / "home"
    big = text_paths.populate(home / "data" / "mmchat.db", corpus()[:40])
    env = dict(os.environ, MMCHAT_HOME=str(home))
    result = run_in_pty(
        [sys.executable, "-m", "mmchat.cli", "history", "export", str(big), "-f", "json"], env
    )
    assert result.exit_code == 0
    assert control_count(result.output) == 0


def test_tui_on_a_pty_shows_hostile_titles_as_plain_text(tmp_path: Path) -> None:
    import tui_pty

    figures = tui_pty.run(tmp_path / "home")
    assert figures["rendered_titles"], figures  # the sidebar drew them: the check saw them
    assert figures["payload_sequences"] == 0, figures["found"]
    assert not figures["traceback"]
    assert float(figures["exit_seconds"]) < 2.0  # SIGTERM
