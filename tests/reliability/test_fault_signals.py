"""Ctrl-C, SIGTERM, SIGHUP and kill -9 delivered to a real `mmchat ask` with the smollm2 model."""

from __future__ import annotations

from pathlib import Path

import pytest
from askkit import run

pytestmark = pytest.mark.reliability


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("phase", ["idle", "loading", "streaming"])
def test_signal_ends_ask_within_2s_and_loses_nothing(tmp_path: Path, phase: str, how: str) -> None:
    outcome = run(tmp_path / "home", phase, how)
    assert not outcome.problems, outcome
    assert outcome.exit_seconds < 2.0, outcome
    assert outcome.exit_code != 0
    assert "Traceback" not in outcome.stderr, outcome.stderr
    assert outcome.orphans == 0
    assert outcome.prompt_saved
    if phase == "streaming":
        assert outcome.answer_status == "stopped"
        assert outcome.answer_is_prefix, outcome  # every piece shown is saved


@pytest.mark.parametrize("phase", ["loading", "streaming"])
def test_kill_9_of_ask_keeps_the_prompt_and_leaves_no_engine(tmp_path: Path, phase: str) -> None:
    outcome = run(tmp_path / "home", phase, "SIGKILL")
    assert not outcome.problems, outcome
    assert outcome.prompt_saved
    assert outcome.orphans == 0  # the engine notices its parent is gone
    if phase == "streaming":
        assert outcome.answer_status == "stopped"  # the next start marks it
        assert outcome.answer_is_prefix, outcome
