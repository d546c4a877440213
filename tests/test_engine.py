"""The engine on real weights: the packaged SmolLM2-135M-Instruct, in its own process."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from mmchat.engine.base import (
    ChatMessage,
    Delta,
    EngineError,
    Event,
    Failed,
    Finished,
    GenerationRequest,
    ModelInfo,
    Started,
)
from mmchat.engine.process import ProcessEngine
from mmchat.engine.registry import UnknownModel, resolve
from mmchat.engine.worker import Coalescer


@pytest.fixture(scope="module")
def engine() -> Iterator[ProcessEngine]:
    engine = ProcessEngine(resolve("smollm2"), quant="auto", threads=2)
    engine.load()
    yield engine
    engine.close()


def ask(engine: ProcessEngine, text: str, **kwargs: object) -> tuple[str, list[Event]]:
    request = GenerationRequest([ChatMessage("user", text)], **kwargs)  # type: ignore[arg-type]
    events = list(engine.stream(request))
    return "".join(e.text for e in events if isinstance(e, Delta)), events


def test_greedy_answer_is_right_deterministic_and_stops(engine: ProcessEngine) -> None:
    first, events = ask(engine, "What is the capital of France?", max_new_tokens=48)
    again, _ = ask(engine, "What is the capital of France?", max_new_tokens=48)
    assert "Paris" in first
    assert first == again
    assert isinstance(events[0], Started) and events[0].prompt_tokens > 10
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "stop"
    assert 0 < finished.completion_tokens < 48


def test_model_info(engine: ProcessEngine) -> None:
    assert engine.info is not None
    assert engine.info.device == "cpu"
    assert engine.info.quant == "int8"  # auto on a CPU: the fastest path measured, not bnb
    assert engine.info.context_window == 8192


def test_cancel_mid_answer_keeps_partial_text(engine: ProcessEngine) -> None:
    request = GenerationRequest(
        [ChatMessage("user", "Write a very long story about a dragon.")], max_new_tokens=400
    )
    text, finished = "", None
    for event in engine.stream(request):
        if isinstance(event, Delta):
            text += event.text
            if len(text.split()) >= 5:
                engine.cancel()
        elif isinstance(event, Finished):
            finished = event
    assert finished is not None and finished.reason == "cancelled"
    assert finished.completion_tokens < 100 and text.strip()
    # the engine is usable again after a cancel
    answer, _ = ask(engine, "What is 2 + 2?", max_new_tokens=20)
    assert answer.strip()


def test_length_limit(engine: ProcessEngine) -> None:
    _, events = ask(engine, "Count from one to one hundred in words.", max_new_tokens=8)
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert (finished.reason, finished.completion_tokens) == ("length", 8)


def test_long_history_is_fitted_with_notice(engine: ProcessEngine) -> None:
    filler = "lorem ipsum dolor sit amet " * 300  # ~1,500 tokens a message
    messages = [ChatMessage("system", "You are terse.")]
    for _ in range(4):
        messages += [ChatMessage("user", filler), ChatMessage("assistant", filler)]
    messages.append(ChatMessage("user", "Say hello."))
    request = GenerationRequest(messages, max_new_tokens=16)
    events = list(engine.stream(request))
    started = events[0]
    assert isinstance(started, Started)
    assert started.dropped_messages >= 2
    assert started.prompt_tokens <= 8192 - 16
    assert isinstance(events[-1], Finished)


def test_sampling_with_seed_is_reproducible(engine: ProcessEngine) -> None:
    a, _ = ask(engine, "Name a fruit.", max_new_tokens=12, temperature=0.9, seed=7)
    b, _ = ask(engine, "Name a fruit.", max_new_tokens=12, temperature=0.9, seed=7)
    assert a == b and a.strip()


def test_image_sent_to_text_only_model_fails_clearly(engine: ProcessEngine) -> None:
    request = GenerationRequest([ChatMessage("user", "what is this?", images=[b"\x89PNG"])])
    events = list(engine.stream(request))
    assert isinstance(events[-1], Failed)
    assert "text-only" in events[-1].message


def test_an_answer_asked_of_a_process_with_no_model_fails_with_one_line() -> None:
    # The worker answers on its model thread; a request reaching it before any load (a caller
    # that skipped load) gets its own failure back, where it used to lose its id and hang.
    engine = ProcessEngine(resolve("smollm2"), quant="auto", threads=1)
    engine.proc = engine._start()
    engine.info = ModelInfo("smollm2", "cpu", "none", 2048, False)  # as if loaded
    try:
        events = list(engine.stream(GenerationRequest([ChatMessage("user", "Hi")])))
    finally:
        engine.close()
    assert [type(e) for e in events] == [Failed]
    assert isinstance(events[0], Failed) and events[0].message == "no model is loaded"


def test_unknown_model_names_are_refused_before_loading() -> None:
    with pytest.raises(UnknownModel, match="unknown model"):
        resolve("no-such-model")
    with pytest.raises(UnknownModel, match="no model file"):
        resolve("./missing/model.gguf")


def test_unreachable_hub_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # this machine has no hub; make it fail fast
    engine = ProcessEngine(resolve("someone/some-model"), quant="none")
    started = time.monotonic()
    with pytest.raises(EngineError) as info:
        engine.load()
    assert "Hugging Face hub" in str(info.value) and "\n" not in str(info.value)
    assert time.monotonic() - started < 60
    assert engine.proc is None  # the failed worker is gone


def test_corrupt_gguf_is_one_clear_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 64)
    engine = ProcessEngine(resolve(str(bad)), quant="none")
    with pytest.raises(EngineError) as info:
        engine.load()
    assert "cannot read" in str(info.value) and str(bad) in str(info.value)


# -- the worker's side of the pipe: answer text coalesced, in order ----------------------------


class ScriptedClock:
    """Times the Coalescer reads, set by the test: what matters is order, never real time."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_coalescer_sends_the_first_piece_at_once_then_joins_text_in_order() -> None:
    sent: list[Event] = []
    clock = ScriptedClock()
    out = Coalescer(sent.append, interval=0.04, clock=clock)
    out.push(Started(prompt_tokens=3, dropped_messages=0))
    out.push(Delta("Hel"))  # the first piece: nothing to wait for
    assert sent == [Started(3, 0), Delta("Hel")]
    for piece in ("lo", ",", " wor"):
        clock.now += 0.01
        out.push(Delta(piece))
    assert len(sent) == 2  # held back: within 40 ms of the last send
    clock.now += 0.02  # 50 ms since the last send
    out.push(Delta("ld"))
    assert sent[2:] == [Delta("lo, world")]
    clock.now += 0.001
    out.push(Delta("!"))
    done = Finished("stop", 6, 0.5, 0.1)
    out.push(done)  # the held-back text first, then the end
    assert sent[3:] == [Delta("!"), done]
    out.flush()
    assert len(sent) == 5  # nothing held, nothing sent twice


def test_coalescer_keeps_text_before_a_failure_and_flushes_on_demand() -> None:
    sent: list[Event] = []
    clock = ScriptedClock()
    out = Coalescer(sent.append, interval=0.04, clock=clock)
    out.push(Delta("a"))
    out.push(Delta("b"))
    out.push(Failed("out of memory while generating"))
    assert sent == [Delta("a"), Delta("b"), Failed("out of memory while generating")]
    out.push(Delta("c"))  # the last send was a Delta at this same instant: held
    out.push(Delta("d"))
    out.flush()
    assert sent[3:] == [Delta("cd")]


def test_a_long_answer_streams_every_token_in_order_and_cancel_still_works(
    engine: ProcessEngine,
) -> None:
    request = GenerationRequest(
        [ChatMessage("user", "Write a very long story about a dragon.")],
        max_new_tokens=64,
        temperature=0.0,  # greedy: the same answer twice
    )
    whole = list(engine.stream(request))
    text = "".join(e.text for e in whole if isinstance(e, Delta))
    finished = whole[-1]
    assert isinstance(finished, Finished) and finished.completion_tokens == 64
    assert [type(e) for e in whole if not isinstance(e, Delta)] == [Started, Finished]
    # The same answer cancelled part way: what arrived is the start of the whole answer.
    partial = ""
    for event in engine.stream(request):
        if isinstance(event, Delta):
            partial += event.text
            if len(partial) >= len(text) // 3:
                engine.cancel()
        elif isinstance(event, Finished):
            assert event.reason == "cancelled" and event.completion_tokens < 64
    assert partial and text.startswith(partial)
