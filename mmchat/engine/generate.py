"""The one generation loop: a backend's step gives logits, the loop does everything else.

A `Step` reads the prompt and then one token at a time, returning the next token's logits; it
is all a backend adds (the lean CPU forward, a transformers causal LM with its KV cache, a
vision-language model's `generate()` in vlm.py). The loop owns what every answer shares:
sampling (sampling.py: the model's defaults or the request's values), end tokens, the length
limit, ending an answer that fell into a loop (repetition.py), cancellation between tokens, the
answer prefix an image turn forces, where an `AnswerLimit` ends the answer, and the events the
engine streams.

transformers' own `generate()` spends a few milliseconds a token on logits processors,
stopping criteria and bookkeeping, a large share of a small model's token on a CPU, so the hot
loop is ours (VLMs alone keep it, for their per-step bookkeeping).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Generator, Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import TYPE_CHECKING, Any, Protocol

import torch

from mmchat.engine.base import Delta, Event, Failed, Finished, FinishReason, GenerationRequest
from mmchat.engine.decode import AnswerLimit, IncrementalDetokenizer
from mmchat.engine.repetition import RepetitionGuard, text_has_words
from mmchat.engine.sampling import MODEL_FALLBACK, Sampler, Sampling, choose_sampling

if TYPE_CHECKING:
    from mmchat.engine.fastpath import FastLlama


class Step(Protocol):
    """One backend's forward: the prompt, then one token per call; logits are [vocab]."""

    # Each returns the next token's logits, or None when the model ended the answer itself.
    def prefill(self, prompt: list[int]) -> torch.Tensor | None: ...

    def next(self, token: int) -> torch.Tensor | None: ...

    def close(self) -> None: ...


class CausalLMStep:
    """A transformers causal LM with a KV cache. `memory` is held open from the prompt to the
    answer's end: the fusion model's cross-attention reads the picture inside it."""

    def __init__(self, model: Any, memory: AbstractContextManager[Any] | None = None) -> None:
        self.model = model
        self.memory = memory
        self._open = ExitStack()
        self._cache: Any = None

    @torch.inference_mode()
    def prefill(self, prompt: list[int]) -> torch.Tensor:
        from transformers import DynamicCache

        if self.memory is not None:
            self._open.enter_context(self.memory)
        ids = torch.tensor([prompt], device=self.model.device)
        out = self.model(
            input_ids=ids, past_key_values=DynamicCache(), use_cache=True, logits_to_keep=1
        )
        self._cache = out.past_key_values
        result: torch.Tensor = out.logits[0, -1]
        return result

    @torch.inference_mode()
    def next(self, token: int) -> torch.Tensor:
        ids = torch.tensor([[token]], device=self.model.device)
        out = self.model(input_ids=ids, past_key_values=self._cache, use_cache=True)
        self._cache = out.past_key_values
        result: torch.Tensor = out.logits[0, -1]
        return result

    def close(self) -> None:
        self._cache = None
        self._open.close()


class FastStep:
    """mmchat.engine.fastpath's lean forward; its cache is sized for the prompt and `room` more,
    and keeps the tokens a prompt shares with the last one (FastLlama.read_prompt)."""

    def __init__(self, fast: FastLlama, room: int) -> None:
        self.fast = fast
        self.room = room

    def prefill(self, prompt: list[int]) -> torch.Tensor:
        # The start this prompt shares with the last one is in the cache already.
        return self.fast.read_prompt(prompt, len(prompt) + self.room)

    def next(self, token: int) -> torch.Tensor:
        return self.fast.forward([token])

    def close(self) -> None:
        pass


def tokens(
    step: Step,
    prompt: list[int],
    *,
    max_new_tokens: int,
    sampler: Sampler,
    eos_ids: set[int],
    cancel: threading.Event,
) -> Generator[int, None, None]:
    """Yield new token ids until an end token, the length limit, or cancellation (checked
    after each token). The step is closed however the answer ends."""
    try:
        logits = step.prefill(prompt)
        produced = 0
        while logits is not None and produced < max_new_tokens:
            token = sampler(logits)
            if token in eos_ids:
                return
            produced += 1
            yield token
            if cancel.is_set() or produced == max_new_tokens:
                return
            logits = step.next(token)
    finally:
        step.close()


def generate(
    step: Step,
    prompt: list[int],
    request: GenerationRequest,
    *,
    tokenizer: Any,
    eos_ids: set[int],
    cancel: threading.Event,
    started: float,
    prefix: str = "",
    limit: AnswerLimit | None = None,
    model_sampling: Sampling = MODEL_FALLBACK,
) -> Iterator[Event]:
    """The answer's Delta events, then Finished (or Failed when the model raised).

    `prefix` starts the answer (given, not generated: the model reads it after the prompt);
    `limit` ends it where a short answer should stop; `model_sampling` is the model's own
    sampling defaults, for what the request leaves unset.
    """
    count, first = 0, None
    written = ""  # generated so far, after the prefix
    if prefix:
        prompt = prompt + list(tokenizer(prefix, add_special_tokens=False)["input_ids"])
        yield Delta(prefix)
    detok = IncrementalDetokenizer(tokenizer)
    sampler = Sampler.of(request_sampling(request, model_sampling), request.seed)
    guard = RepetitionGuard(text_has_words(detok.decode))
    looped = False
    answer = tokens(
        step,
        prompt,
        max_new_tokens=request.max_new_tokens,
        sampler=sampler,
        eos_ids=eos_ids,
        cancel=cancel,
    )
    try:
        for token in answer:
            count += 1
            if first is None:
                first = time.perf_counter() - started
            text = detok.push(token)
            cut = limit.cut(written + text) if limit and text else None
            if cut is not None:
                if cut > len(written):
                    yield Delta((written + text)[len(written) : cut])
                break
            if text:
                written += text
                yield Delta(text)
            if guard.push(token):
                looped = True
                break
    except MemoryError:
        raise  # the engine process says "out of memory" in its own words
    except Exception as exc:
        traceback.print_exc()  # the engine log keeps the detail; the person gets one line
        yield Failed(f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
        return
    finally:
        answer.close()
    reason: FinishReason = "stop"
    if cancel.is_set():
        reason = "cancelled"
    elif looped:
        reason = "repetition"
    elif count >= request.max_new_tokens:
        reason = "length"
    yield Finished(reason, count, time.perf_counter() - started, first)


def request_sampling(request: GenerationRequest, model: Sampling) -> Sampling:
    """The sampling an answer uses: the request's values where it sets them, else the model's."""
    return choose_sampling(
        model,
        temperature=request.temperature,
        top_p=request.top_p,
        top_k=request.top_k,
        repeat_penalty=request.repeat_penalty,
    )
