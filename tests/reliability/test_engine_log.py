"""engine.log is never opened through a symbolic link (it would append tracebacks, which quote
prompts and answers, to whatever file the link names)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmchat.engine.base import ChatMessage, EngineError, Failed, GenerationRequest
from mmchat.engine.process import ProcessEngine
from mmchat.engine.registry import resolve

pytestmark = pytest.mark.reliability


def test_engine_log_symlink_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    log = tmp_path / "cache" / "engine.log"
    log.parent.mkdir()
    log.symlink_to(victim)
    engine = ProcessEngine(resolve("smollm2"), log_path=log)
    with pytest.raises(EngineError, match="symbolic link"):
        engine.load()
    assert engine.proc is None  # no model process was started
    assert victim.read_text() == "precious\n"
    # A turn reports it as one failure event, like any load failure.
    [event] = list(engine.stream(GenerationRequest([ChatMessage("user", "hi")])))
    assert isinstance(event, Failed) and "symbolic link" in event.message
