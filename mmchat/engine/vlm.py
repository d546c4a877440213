"""Hugging Face image-text-to-text models (Mllama, LLaVA, SmolVLM, Qwen2-VL, ...).

These need their processor to place image tokens and build pixel inputs, and model-specific
bookkeeping on every step (Mllama's cross-attention mask grows with the text), so they run
through `generate()` in a thread with a streamer; cancellation is a stopping criterion.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from mmchat.engine.base import ChatMessage, Delta, Event, Failed, Finished, GenerationRequest


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

    # trust_remote_code is False unless the person asked for it (--trust-remote-code).
    kwargs = {**kwargs, "trust_remote_code": bool(kwargs.get("trust_remote_code", False))}
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=kwargs["trust_remote_code"])
    model = AutoModelForImageTextToText.from_pretrained(folder, **kwargs)
    return model, processor


def chat_for_processor(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """mmchat messages in the content-list form that multimodal chat templates expect."""
    chat = []
    for message in messages:
        content: list[dict[str, Any]] = [{"type": "image"} for _ in message.images]
        content.append({"type": "text", "text": message.content})
        chat.append({"role": message.role, "content": content})
    return chat


class _Cancel:
    """A stopping criterion that ends generate() when the person stops the answer."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> bool:
        return self.event.is_set()


def stream(
    model: Any,
    processor: Any,
    messages: Sequence[ChatMessage],
    images: list[Any],
    request: GenerationRequest,
    cancel: threading.Event,
    started: float,
) -> Iterator[Event]:
    from transformers import StoppingCriteriaList, TextIteratorStreamer

    text = processor.apply_chat_template(
        chat_for_processor(messages), add_generation_prompt=True, tokenize=False
    )
    inputs = processor(images=[images] if images else None, text=text, return_tensors="pt").to(
        model.device
    )
    streamer = TextIteratorStreamer(
        processor.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600
    )
    sampling: dict[str, Any] = {"do_sample": request.temperature > 0}
    if request.temperature > 0:
        sampling.update(temperature=request.temperature, top_p=request.top_p)
        if request.seed is not None:
            torch.manual_seed(request.seed)
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["output"] = model.generate(
                **inputs,
                max_new_tokens=request.max_new_tokens,
                streamer=streamer,
                stopping_criteria=StoppingCriteriaList([_Cancel(cancel)]),
                **sampling,
            )
        except Exception as exc:  # reported as a Failed event below
            result["error"] = exc
            streamer.end()

    thread = threading.Thread(target=run, name="mmchat-generate", daemon=True)
    thread.start()
    first: float | None = None
    for piece in streamer:
        if piece:
            if first is None:
                first = time.perf_counter() - started
            yield Delta(piece)
    thread.join()
    if "error" in result:
        error = result["error"]
        yield Failed(f"{type(error).__name__}: {error}".splitlines()[0][:300])
        return
    prompt_len = inputs["input_ids"].shape[1]
    count = int(result["output"].shape[1] - prompt_len)
    reason = (
        "cancelled" if cancel.is_set() else "length" if count >= request.max_new_tokens else "stop"
    )
    yield Finished(reason, count, time.perf_counter() - started, first)  # type: ignore[arg-type]
