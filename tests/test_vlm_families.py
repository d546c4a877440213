"""Hugging Face vision-language families through the same engine API as every model.

The models are tiny and random, built here from their configs (no hub): this tests plumbing
(processor, chat template, image tokens, cross-attention masks, streaming, cancel), not quality.
Mllama is the cross-attention family (Llama 3.2 Vision); LLaVA the early-fusion one.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from mmchat.engine.assets import SMOLLM2_GGUF
from mmchat.engine.base import ChatMessage, Delta, Failed, Finished, GenerationRequest, Started
from mmchat.engine.gguf import converted_gguf_dir
from mmchat.engine.process import ProcessEngine
from mmchat.engine.registry import resolve

TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}IMAGE_TOKEN"
    "{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tokenizer_with(token: str) -> Any:
    from transformers import AutoTokenizer

    folder = converted_gguf_dir(
        SMOLLM2_GGUF.locate(), name="smollm2-135m-instruct", expected_sha256=SMOLLM2_GGUF.sha256
    )
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.add_special_tokens({"additional_special_tokens": [token]})
    return tokenizer


def build_llava(folder: Path) -> None:
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tokenizer = tokenizer_with("<image>")
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=28,
        patch_size=14,
        projection_dim=32,
    )
    text = LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        vocab_size=len(tokenizer),
        max_position_embeddings=512,
        eos_token_id=tokenizer.eos_token_id,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
    )
    LlavaForConditionalGeneration(config).save_pretrained(folder)
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessorPil(
            size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28}
        ),
        tokenizer=tokenizer,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=TEMPLATE.replace("IMAGE_TOKEN", "<image>"),
    )
    processor.save_pretrained(folder)


def build_mllama(folder: Path) -> None:
    from transformers import MllamaConfig, MllamaForConditionalGeneration, MllamaProcessor
    from transformers.models.mllama.configuration_mllama import (
        MllamaTextConfig,
        MllamaVisionConfig,
    )
    from transformers.models.mllama.image_processing_pil_mllama import MllamaImageProcessorPil

    tokenizer = tokenizer_with("<|image|>")
    vision = MllamaVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_global_layers=1,
        attention_heads=2,
        image_size=28,
        patch_size=14,
        max_num_tiles=2,
        intermediate_layers_indices=[0],
        vision_output_dim=64,
        supported_aspect_ratios=[[1, 1], [1, 2], [2, 1]],
    )
    text = MllamaTextConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=3,
        num_attention_heads=2,
        num_key_value_heads=2,
        vocab_size=len(tokenizer),
        cross_attention_layers=[1],  # the gated cross-attention block reading image features
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
    )
    config = MllamaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids("<|image|>"),
    )
    MllamaForConditionalGeneration(config).save_pretrained(folder)
    processor = MllamaProcessor(
        image_processor=MllamaImageProcessorPil(
            size={"height": 28, "width": 28}, max_image_tiles=2
        ),
        tokenizer=tokenizer,
        chat_template=TEMPLATE.replace("IMAGE_TOKEN", "<|image|>"),
    )
    processor.save_pretrained(folder)


def png(color: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (50, 40), color).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("build", [build_mllama, build_llava], ids=["mllama", "llava"])
def test_family_streams_with_images_through_engine_process(
    tmp_path: Path, build: Callable[[Path], None]
) -> None:
    folder = tmp_path / "tiny-vlm"
    build(folder)
    engine = ProcessEngine(resolve(str(folder)), quant="none", threads=1)
    try:
        info = engine.load()
        assert info.vision
        request = GenerationRequest(
            [ChatMessage("user", "What is in this picture?", images=[png("red")])],
            max_new_tokens=6,
        )
        events = list(engine.stream(request))
        assert isinstance(events[0], Started) and events[0].prompt_tokens > 5
        finished = events[-1]
        assert isinstance(finished, Finished), events[-1]
        assert finished.reason in ("stop", "length") and 0 < finished.completion_tokens <= 6
        assert all(isinstance(e, Delta) for e in events[1:-1])
        # a follow-up without a new image, and a bad image, on the same engine
        text_only = list(engine.stream(GenerationRequest([ChatMessage("user", "Hi")], 3)))
        assert isinstance(text_only[-1], Finished)
        bad = GenerationRequest([ChatMessage("user", "and this?", images=[b"not an image"])])
        failed = list(engine.stream(bad))[-1]
        assert isinstance(failed, Failed) and "not an image" in failed.message
    finally:
        engine.close()


@pytest.mark.parametrize("build", [build_mllama, build_llava], ids=["mllama", "llava"])
def test_the_shared_loop_through_generate_gives_generates_own_greedy_tokens(
    tmp_path: Path, build: Callable[[Path], None]
) -> None:
    import threading

    import torch

    from mmchat.engine import vlm
    from mmchat.engine.decode import Sampler
    from mmchat.engine.generate import tokens

    folder = tmp_path / "tiny-vlm"
    torch.manual_seed(0)
    build(folder)
    model, processor = vlm.load(str(folder))
    picture = Image.open(io.BytesIO(png("red")))
    messages = [ChatMessage("user", "What is in this picture?", images=[png("red")])]

    def ours(count: int, cancel: threading.Event) -> tuple[list[int], vlm.GenerateStep]:
        step = vlm.GenerateStep(model, processor, messages, [picture], count)
        chosen = tokens(
            step,
            step.prompt,
            max_new_tokens=count,
            sampler=Sampler(0.0, 1.0, 0),
            eos_ids={processor.tokenizer.eos_token_id},
            cancel=cancel,
        )
        return list(chosen), step

    got, step = ours(8, threading.Event())
    with torch.inference_mode():
        out = model.generate(**step.inputs, max_new_tokens=8, do_sample=False)
    generated = out[0, len(step.prompt) :].tolist()
    eos = processor.tokenizer.eos_token_id
    assert got == (generated[: generated.index(eos)] if eos in generated else generated)
    assert step._thread is not None and not step._thread.is_alive()  # generate() has ended
    cancel = threading.Event()
    cancel.set()
    first, stopped = ours(8, cancel)
    assert first == got[:1] and stopped._thread is not None and not stopped._thread.is_alive()
