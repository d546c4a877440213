"""The one generation loop (mmchat.engine.generate) on the real default decoder, SmolLM2-135M.

What every backend's answer shares is held here once: the forced answer prefix, the answer
limit, end tokens, the length limit, cancelling, a failing step, and closing the step (the
fusion model's cross-attention memory) however the answer ends. The fast path and the
transformers path must give the same greedy answer through the engine.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
from test_fastpath import SplitStep

from mmchat.engine.base import (
    ChatMessage,
    Delta,
    Event,
    Failed,
    Finished,
    GenerationRequest,
)
from mmchat.engine.decode import AnswerLimit
from mmchat.engine.generate import CausalLMStep, Step, generate
from mmchat.engine.hf import HFEngine
from mmchat.engine.quant import quantize_int8_dynamic
from mmchat.engine.registry import resolve


@pytest.fixture(scope="module")
def smollm2() -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mmchat.engine.default_decoder import smollm2_dir

    folder = smollm2_dir()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    return model, tokenizer


def chat(tokenizer: Any, question: str) -> list[int]:
    encoded = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], add_generation_prompt=True, return_dict=True
    )
    return list(encoded["input_ids"])


class Recording:
    """A step around another that records what the loop asked of it."""

    def __init__(self, step: Step, fail_after: int | None = None) -> None:
        self.step = step
        self.fail_after = fail_after
        self.prompt: list[int] = []
        self.steps = 0
        self.closed = False

    def prefill(self, prompt: list[int]) -> torch.Tensor | None:
        self.prompt = prompt
        return self.step.prefill(prompt)

    def next(self, token: int) -> torch.Tensor | None:
        self.steps += 1
        if self.fail_after is not None and self.steps > self.fail_after:
            raise RuntimeError("the model broke\nsecond line of the trace")
        return self.step.next(token)

    def close(self) -> None:
        self.closed = True
        self.step.close()


def run(
    step: Step,
    prompt: list[int],
    tokenizer: Any,
    tokens: int,
    cancel: threading.Event | None = None,
    **shape: Any,
) -> tuple[str, Event, list[Event]]:
    events = list(
        generate(
            step,
            prompt,
            GenerationRequest([], max_new_tokens=tokens),
            tokenizer=tokenizer,
            eos_ids={tokenizer.eos_token_id},
            cancel=cancel or threading.Event(),
            started=time.perf_counter(),
            **shape,
        )
    )
    return "".join(e.text for e in events if isinstance(e, Delta)), events[-1], events


def test_a_forced_prefix_starts_the_answer_and_the_model_reads_it(
    smollm2: tuple[Any, Any],
) -> None:
    model, tokenizer = smollm2
    prompt = chat(tokenizer, "What is the capital of France?")
    prefix = "The capital of France is"
    step = Recording(CausalLMStep(model))
    text, finished, events = run(step, prompt, tokenizer, 12, prefix=prefix)
    assert events[0] == Delta(prefix) and text.startswith(prefix)
    forced = tokenizer(prefix, add_special_tokens=False)["input_ids"]
    assert step.prompt == prompt + forced  # read after the prompt, not generated
    assert "Paris" in text[len(prefix) :], text
    assert isinstance(finished, Finished) and finished.completion_tokens <= 12


def test_an_answer_limit_ends_the_answer_at_its_first_sentence(
    smollm2: tuple[Any, Any],
) -> None:
    model, tokenizer = smollm2
    prompt = chat(tokenizer, "Explain in three sentences what a CPU does.")
    whole, whole_end, _ = run(CausalLMStep(model), prompt, tokenizer, 80)
    limit = AnswerLimit(sentences=1)
    cut, cut_end, _ = run(CausalLMStep(model), prompt, tokenizer, 80, limit=limit)
    first_end = limit.cut(whole)
    assert first_end is not None and first_end < len(whole.rstrip()), whole  # it went on
    assert cut == whole[:first_end] and cut.rstrip().endswith((".", "!", "?"))
    assert isinstance(cut_end, Finished) and isinstance(whole_end, Finished)
    assert cut_end.reason == "stop" and cut_end.completion_tokens < whole_end.completion_tokens


def test_end_token_and_length_limit(smollm2: tuple[Any, Any]) -> None:
    model, tokenizer = smollm2
    prompt = chat(tokenizer, "What is the capital of France?")
    text, finished, _ = run(CausalLMStep(model), prompt, tokenizer, 48)
    assert isinstance(finished, Finished) and finished.reason == "stop"  # its end token
    assert 0 < finished.completion_tokens < 48 and "Paris" in text
    _, short, _ = run(CausalLMStep(model), prompt, tokenizer, 1)
    assert isinstance(short, Finished) and (short.reason, short.completion_tokens) == ("length", 1)


def test_cancel_stops_at_the_token_it_was_seen_after(smollm2: tuple[Any, Any]) -> None:
    model, tokenizer = smollm2
    prompt = chat(tokenizer, "Write a long story about a dragon.")
    cancel = threading.Event()
    step = Recording(CausalLMStep(model))
    answer = generate(
        step,
        prompt,
        GenerationRequest([], max_new_tokens=200),
        tokenizer=tokenizer,
        eos_ids={tokenizer.eos_token_id},
        cancel=cancel,
        started=time.perf_counter(),
    )
    seen, steps_then = 0, -1
    for event in answer:
        if isinstance(event, Delta):
            seen += 1
            if seen == 3:
                cancel.set()  # as Engine.cancel() does, from the reading side
                steps_then = step.steps
        last = event
    assert isinstance(last, Finished) and last.reason == "cancelled"
    assert step.steps == steps_then  # not one forward more
    assert last.completion_tokens == steps_then + 1 and step.closed


def test_a_failing_step_is_one_failed_line_and_is_closed(smollm2: tuple[Any, Any]) -> None:
    model, tokenizer = smollm2
    step = Recording(CausalLMStep(model), fail_after=2)
    text, failed, events = run(step, chat(tokenizer, "Count to ten."), tokenizer, 20)
    assert failed == Failed("RuntimeError: the model broke")
    assert not any(isinstance(e, Finished) for e in events) and step.closed


def test_the_memory_is_held_for_the_answer_and_let_go_when_it_is_dropped(
    smollm2: tuple[Any, Any],
) -> None:
    model, tokenizer = smollm2
    held: list[str] = []

    @contextmanager
    def memory() -> Iterator[None]:
        held.append("open")
        yield
        held.append("closed")

    step = CausalLMStep(model, memory())
    answer = generate(
        step,
        chat(tokenizer, "Write a long story about a dragon."),
        GenerationRequest([], max_new_tokens=50),
        tokenizer=tokenizer,
        eos_ids=set(),
        cancel=threading.Event(),
        started=time.perf_counter(),
    )
    assert held == []
    next(answer)
    assert held == ["open"]  # from the prompt on
    answer.close()  # the reader went away mid-answer
    assert held == ["open", "closed"]


def test_fast_path_and_transformers_give_the_same_greedy_answer_through_the_engine(
    smollm2: tuple[Any, Any],
) -> None:
    model, tokenizer = smollm2
    engine = HFEngine(resolve("smollm2"), quant="int8", threads=2)
    engine.load()
    try:
        question = [ChatMessage("user", "Name three colors of the rainbow.")]
        events = list(engine.stream(GenerationRequest(question, max_new_tokens=40)))
        assert engine.last_path == "fast-int8"
        fast = "".join(e.text for e in events if isinstance(e, Delta))
        prompt = engine.prompt_ids(question)
    finally:
        engine.close()
    split = SplitStep(model, quantize_int8_dynamic(copy.deepcopy(model)))
    reference, _, _ = run(split, prompt, tokenizer, 40)
    assert fast == reference and len(fast.split()) >= 5
