"""Hugging Face image-text-to-text models (Mllama, LLaVA, SmolVLM, Qwen2-VL, ...).

These need their processor to place image tokens and build pixel inputs, and model-specific
bookkeeping on every step (Mllama's cross-attention mask grows with the text), so their step
of the generation loop is `generate()` itself, run in a thread (GenerateStep).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from mmchat.engine.base import ChatMessage


def is_vision_language_folder(folder: str) -> bool:
    """A local folder or hub id whose config is an image-text-to-text model with a processor."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
    )

    path = Path(folder)
    if path.is_dir() and not any(
        (path / name).is_file() for name in ("preprocessor_config.json", "processor_config.json")
    ):
        return False
    try:
        config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
    except (OSError, ValueError):
        return False
    return config.model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES


def load(folder: str, **kwargs: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=False)
    model = AutoModelForImageTextToText.from_pretrained(folder, trust_remote_code=False, **kwargs)
    return model, processor


def chat_for_processor(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """mmchat messages in the content-list form that multimodal chat templates expect."""
    chat = []
    for message in messages:
        content: list[dict[str, Any]] = [{"type": "image"} for _ in message.images]
        content.append({"type": "text", "text": message.content})
        chat.append({"role": message.role, "content": content})
    return chat


class GenerateStep:
    """A VLM's `generate()` as the generation loop's step (generate.py), in its own thread.

    generate() keeps the per-step bookkeeping these models need (pixel inputs on the first
    forward only, Mllama's cross-attention mask growing with the text, Qwen2-VL's rope offsets);
    a logits processor hands each step's scores to the loop and forces the token it chose, so
    sampling, stopping and cancelling are the loop's, as for every other backend.
    """

    def __init__(
        self,
        model: Any,
        processor: Any,
        messages: Sequence[ChatMessage],
        images: list[Any],
        room: int,
    ) -> None:
        text = processor.apply_chat_template(
            chat_for_processor(messages), add_generation_prompt=True, tokenize=False
        )
        self.inputs = processor(
            images=[images] if images else None, text=text, return_tensors="pt"
        ).to(model.device, dtype=model.dtype)  # pixels in the vision tower's half precision
        self.prompt: list[int] = self.inputs["input_ids"][0].tolist()  # image tokens included
        self.model = model
        self.room = room
        self._scores: queue.SimpleQueue[torch.Tensor | BaseException | None] = queue.SimpleQueue()
        self._chosen: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def prefill(self, prompt: list[int]) -> torch.Tensor | None:
        if prompt != self.prompt:
            raise ValueError("a VLM step reads the prompt its processor built, nothing else")
        self._thread = threading.Thread(target=self._run, name="mmchat-generate", daemon=True)
        self._thread.start()
        return self._wait()

    def next(self, token: int) -> torch.Tensor | None:
        self._chosen.put(token)
        return self._wait()

    def close(self) -> None:
        self._stopped.set()
        self._chosen.put(None)  # releases generate() if it waits for a token
        if self._thread is not None:
            self._thread.join()

    def _wait(self) -> torch.Tensor | None:
        scores = self._scores.get()
        if isinstance(scores, BaseException):
            raise scores
        return scores

    def _run(self) -> None:
        from transformers import LogitsProcessorList, StoppingCriteriaList

        try:
            self.model.generate(
                **self.inputs,
                max_new_tokens=self.room,
                do_sample=False,  # the token is the loop's choice, forced by _Choose
                # The loop applies its own windowed penalty; the model config's would count twice.
                repetition_penalty=1.0,
                logits_processor=LogitsProcessorList([_Choose(self)]),
                stopping_criteria=StoppingCriteriaList([_Stopped(self._stopped)]),
            )
        except Exception as exc:  # raised again in the loop's thread by _wait
            self._scores.put(exc)
            return
        self._scores.put(None)  # generate() ended by itself: no more logits


class _Choose:
    """Gives generate()'s scores to the loop and returns them with only its token possible."""

    def __init__(self, step: GenerateStep) -> None:
        self.step = step

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self.step._stopped.is_set():
            return scores
        self.step._scores.put(scores[0])
        token = self.step._chosen.get()
        if token is None:
            return scores
        forced = torch.full_like(scores, float("-inf"))
        forced[:, token] = 0.0
        return forced


class _Stopped:
    """A stopping criterion: the loop has finished with the answer."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> bool:
        return self.event.is_set()
