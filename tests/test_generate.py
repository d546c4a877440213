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
from test_fastpath import SplitStep, prompt_model

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
    quantized = quantize_int8_dynamic(copy.deepcopy(model))
    # The prompt read as the fast path reads it: int8 weights dequantized.
    split = SplitStep(prompt_model(model, quantized), quantized)
    reference, _, _ = run(split, prompt, tokenizer, 40)
    assert fast == reference and len(fast.split()) >= 5


# -- sampling and the loop guard -----------------------------------------------------------------

POEM = "Write a short poem about cats."


def argmax_ids(step: Step, prompt: list[int], count: int, eos: int) -> list[int]:
    """Plain greedy decoding with no loop around it: the reference for temperature 0."""
    ids: list[int] = []
    logits = step.prefill(prompt)
    while logits is not None and len(ids) < count:
        token = int(torch.argmax(logits))
        if token == eos:
            break
        ids.append(token)
        logits = step.next(token)
    step.close()
    return ids


def test_temperature_0_is_plain_argmax_and_the_default_is_not(smollm2: tuple[Any, Any]) -> None:
    model, tokenizer = smollm2
    prompt = chat(tokenizer, POEM)  # greedy repeats its first sentence: the penalty shows
    reference = argmax_ids(CausalLMStep(model), prompt, 60, tokenizer.eos_token_id)
    greedy = GenerationRequest([], max_new_tokens=60, temperature=0.0)
    events = list(
        generate(
            CausalLMStep(model),
            prompt,
            greedy,
            tokenizer=tokenizer,
            eos_ids={tokenizer.eos_token_id},
            cancel=threading.Event(),
            started=time.perf_counter(),
        )
    )
    text, finished = "".join(e.text for e in events if isinstance(e, Delta)), events[-1]
    assert isinstance(finished, Finished)
    made = reference[: finished.completion_tokens]
    assert text == tokenizer.decode(made, skip_special_tokens=True)  # token for token
    # Greedy falls into a loop ("A cat with a tail as long as a cat's legs," three times) and
    # the guard ends it there; the model's default (its repetition penalty) goes elsewhere.
    assert finished.reason == "repetition" and finished.completion_tokens < 60, text
    default, _, _ = run(CausalLMStep(model), prompt, tokenizer, 60)
    lines = [line for line in default.splitlines() if line.strip()]
    assert default != text and max(lines.count(line) for line in lines) < 3, default


class Looping:
    """A step that always makes the next token of `line`, over and over, as a model stuck in
    a loop does (the logits favour one token each step)."""

    def __init__(self, line: list[int], vocab: int) -> None:
        self.line = line
        self.vocab = vocab
        self.made = 0

    def _logits(self) -> torch.Tensor:
        logits = torch.zeros(self.vocab)
        logits[self.line[self.made % len(self.line)]] = 10.0  # beyond any penalty
        self.made += 1
        return logits

    def prefill(self, prompt: list[int]) -> torch.Tensor:
        return self._logits()

    def next(self, token: int) -> torch.Tensor:
        return self._logits()

    def close(self) -> None:
        pass


def test_the_guard_ends_an_answer_stuck_in_a_loop(smollm2: tuple[Any, Any]) -> None:
    _, tokenizer = smollm2
    line = tokenizer("Cats are soft and warm.\n", add_special_tokens=False)["input_ids"]
    step = Looping(line, len(tokenizer))
    text, finished, _ = run(step, [1, 2, 3], tokenizer, 200)
    assert isinstance(finished, Finished) and finished.reason == "repetition"
    assert finished.completion_tokens == 3 * len(line)  # ended as the third copy was made
    assert text == "Cats are soft and warm.\n" * 3
    rows = tokenizer("| --- ", add_special_tokens=False)["input_ids"]  # a table's rule: no words
    _, table_end, _ = run(Looping(rows, len(tokenizer)), [1, 2, 3], tokenizer, 40)
    assert isinstance(table_end, Finished) and table_end.reason == "length"
