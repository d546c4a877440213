"""The fusion model: plumbing on tiny random models, then the shipped default on real weights."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from PIL import Image
from transformers import Dinov2Config, Dinov2Model, LlamaConfig, LlamaForCausalLM

from mmchat.engine.fusion import DEFAULT_DIR, WEIGHTS_NAME, FusionConfig, FusionModel, load_default
from mmchat.engine.placement import Target, weight_form
from mmchat.training.easy_vqa import image_path, prompt_ids, read_split

TINY = FusionConfig(
    decoder="unused",
    encoder="unused",
    cross_layers=[2, 3],
    text_width=64,
    vision_width=32,
    num_heads=4,
    mlp_ratio=2.0,
    pool_grid=2,
)


def tiny_parts() -> tuple[LlamaForCausalLM, Dinov2Model]:
    torch.manual_seed(0)
    decoder = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=128,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=64,
        )
    )
    encoder = Dinov2Model(
        Dinov2Config(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            patch_size=14,
            image_size=56,
            layerscale_value=1.0,
        )
    )
    return decoder.eval(), encoder.eval()


def tiny_model() -> FusionModel:
    decoder, encoder = tiny_parts()
    return FusionModel(TINY, decoder, encoder)


def open_gates(model: FusionModel, value: float = 0.7) -> None:
    with torch.no_grad():
        for name, param in model.adapter.named_parameters():
            if name.endswith("gate"):
                param.fill_(value)


SHAPES = {"circle", "rectangle", "triangle"}
IDS = torch.tensor([[5, 17, 33, 2, 90, 64, 7, 11]])


def logits(model: FusionModel, features: torch.Tensor | None = None) -> torch.Tensor:
    with torch.no_grad(), model.attend_to(features):
        return model.decoder(input_ids=IDS).logits


def features(model: FusionModel, batch: int = 1) -> torch.Tensor:
    torch.manual_seed(1)
    return model.project(torch.randn(batch, TINY.vision_tokens, TINY.vision_width)).detach()


def test_fresh_model_with_zero_gates_is_exactly_the_plain_decoder() -> None:
    model = tiny_model()
    plain = logits(model)
    assert torch.equal(logits(model, features(model)), plain)


def test_open_gates_change_logits_only_inside_attend_to() -> None:
    model = tiny_model()
    plain = logits(model)
    open_gates(model)
    seen = logits(model, features(model))
    assert not torch.allclose(seen, plain, atol=1e-4)
    assert torch.equal(logits(model), plain)  # hooks are gone after the block
    assert all(not layer._forward_pre_hooks for layer in model.decoder.model.layers)


def test_hooks_are_removed_when_the_block_raises() -> None:
    model = tiny_model()
    with pytest.raises(RuntimeError), model.attend_to(features(model)):
        raise RuntimeError("boom")
    assert all(not layer._forward_pre_hooks for layer in model.decoder.model.layers)


def test_generate_reads_the_image_through_the_cache() -> None:
    """Prefill and cached single-token steps both pass the hooks: same tokens as no cache."""
    model = tiny_model()
    open_gates(model, 3.0)
    vision = features(model)
    with torch.no_grad(), model.attend_to(vision):
        cached = model.decoder.generate(IDS, max_new_tokens=6, do_sample=False, use_cache=True)
        fresh = model.decoder.generate(IDS, max_new_tokens=6, do_sample=False, use_cache=False)
        plain_ids = IDS
    with torch.no_grad():
        plain = model.decoder.generate(plain_ids, max_new_tokens=6, do_sample=False)
    assert torch.equal(cached, fresh)
    assert not torch.equal(cached, plain)


def test_a_top_layer_added_to_a_trained_model_starts_closed_and_runs_before_the_final_norm() -> (
    None
):
    model = tiny_model()
    open_gates(model)
    vision = features(model)
    trained, plain = logits(model, vision), logits(model)
    key = model.add_top_layer()
    assert key == "4" and model.config.cross_layers == [2, 3, 4]  # the tiny decoder has 4 blocks
    top = model.adapter.cross[key]
    assert top.scale == TINY.top_residual_scale
    assert torch.equal(logits(model, vision), trained)  # zero gates: nothing changes
    with torch.no_grad():
        top.gate.fill_(0.5)
    assert not torch.allclose(logits(model, vision), trained, atol=1e-4)
    assert torch.equal(logits(model), plain)
    assert not model.decoder.model.norm._forward_pre_hooks  # removed with the others
    with pytest.raises(ValueError, match="already has a layer"):
        model.add_top_layer()


def test_encode_images_pools_to_cls_plus_grid() -> None:
    model = tiny_model()
    image = Image.new("RGB", (64, 64), (200, 30, 30))
    # The tiny encoder runs at 224 px too: 16x16 patches interpolated from its 4x4 positions.
    out = model.encode_images([image, image])
    assert out.shape == (2, TINY.vision_tokens, TINY.text_width)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    decoder, encoder = tiny_parts()
    decoder.save_pretrained(tmp_path / "decoder")
    encoder.save_pretrained(tmp_path / "encoder")
    config = replace(TINY, decoder=str(tmp_path / "decoder"), encoder=str(tmp_path / "encoder"))
    model = FusionModel(config, decoder, encoder)
    open_gates(model)
    model.save_pretrained(tmp_path / "fusion", dtype=torch.float32)
    saved = json.loads((tmp_path / "fusion" / "config.json").read_text())
    assert saved["model_type"] == "mmchat-fusion" and saved["cross_layers"] == [2, 3]

    again = FusionModel.from_pretrained(tmp_path / "fusion")
    assert not again.encoder_loaded  # text turns and photos never need it: loaded on first use
    assert torch.equal(logits(again, features(again)), logits(model, features(model)))
    image = Image.new("RGB", (56, 56), "red")
    assert torch.equal(again.encode_images([image]), model.encode_images([image]))
    assert again.encoder_loaded and not again.encoder.training
    assert not any(p.requires_grad for p in again.encoder.parameters())

    model.add_top_layer()  # a second stage's model: the layer after the last block round-trips
    open_gates(model)
    model.save_pretrained(tmp_path / "grown", dtype=torch.float32)
    grown = FusionModel.from_pretrained(tmp_path / "grown")
    assert grown.config.cross_layers == [2, 3, 4]
    assert grown.adapter.cross["4"].scale == TINY.top_residual_scale
    assert torch.equal(logits(grown, features(grown)), logits(model, features(model)))


def test_half_precision_file_holds_only_the_new_weights(tmp_path: Path) -> None:
    model = tiny_model()
    model.save_pretrained(tmp_path)
    from safetensors.torch import load_file

    state = load_file(str(tmp_path / WEIGHTS_NAME))
    assert all(v.dtype == torch.float16 for v in state.values())
    assert set(state) == set(model.adapter.state_dict())  # projector + cross layers, no decoder
    assert not any(k.startswith(("decoder", "encoder")) for k in state)


# -- the shipped default, on real weights ---------------------------------------------------------


@pytest.fixture(scope="module")
def default() -> Iterator[FusionModel]:
    yield load_default()


def first_test_image_with(question: str) -> tuple[int, dict[str, str]]:
    """The first test image asked `question` and also a question answered with a shape."""
    asked: dict[int, dict[str, str]] = {}
    for q, a, image_id in read_split("test"):
        asked.setdefault(image_id, {})[q] = a
    image_id = min(
        i for i, qa in asked.items() if question in qa and SHAPES.intersection(qa.values())
    )
    return image_id, asked[image_id]


def answer(model: FusionModel, image: Image.Image, question: str, system: str | None = None) -> str:
    ids = torch.tensor([prompt_ids(model.tokenizer, question, system)])
    with torch.no_grad(), model.attend_to(model.encode_images([image])):
        out = model.decoder.generate(ids, max_new_tokens=6, do_sample=False)
    return model.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True).strip()


def test_shipped_weights_are_small() -> None:
    assert (DEFAULT_DIR / WEIGHTS_NAME).stat().st_size < 20_000_000


def test_default_answers_color_and_shape_of_an_unseen_test_image(default: FusionModel) -> None:
    image_id, asked = first_test_image_with("what color is the shape?")
    image = Image.open(image_path("test", image_id)).convert("RGB")
    assert answer(default, image, "what color is the shape?") == asked["what color is the shape?"]
    shape_q = next(q for q, a in asked.items() if a in SHAPES)
    assert answer(default, image, shape_q) == asked[shape_q]
    persona = "You are Sam, a friendly support agent for a bike shop."
    assert (
        answer(default, image, "what color is the shape?", persona)
        == asked["what color is the shape?"]
    )


def test_default_answers_yes_no_from_the_picture_where_the_wording_says_otherwise(
    default: FusionModel,
) -> None:
    """Yes/no questions the wording alone gets wrong ("is there a red shape?" -> yes, "is there
    not a red shape?" -> no; without the top layer almost none are right), on unseen test
    images, counted as bench/vqa.py counts them."""
    from mmchat.training.top_layer import cell

    asked: dict[int, list[tuple[str, str]]] = {}
    for q, a, image_id in read_split("test"):
        if cell(q, a) == "from picture":
            asked.setdefault(image_id, []).append((q, a))
    pairs = [(i, q, a) for i in sorted(asked)[:12] for q, a in asked[i]]
    right = 0
    for image_id, question, expected in pairs:
        image = Image.open(image_path("test", image_id)).convert("RGB")
        right += answer(default, image, question) == expected
    assert len(pairs) >= 12 and right >= 0.6 * len(pairs), f"{right}/{len(pairs)}"


def test_the_default_in_bf16_reads_the_picture_as_in_fp32(default: FusionModel) -> None:
    """A GPU's form (tests/test_placement.py runs it on CUDA where there is one), here on the
    CPU: the new layers and the encoder follow the decoder's dtype, the relevance gate reads
    bf16 states, and the answer is fp32's."""
    half = load_default(Target("cpu", torch.bfloat16))
    assert {p.dtype for p in half.adapter.parameters()} == {torch.bfloat16}
    assert weight_form(half.decoder) == "bf16"
    question = "what color is the shape?"
    image_id, asked = first_test_image_with(question)
    image = Image.open(image_path("test", image_id)).convert("RGB")
    assert half.encode_images([image]).dtype == torch.bfloat16
    assert half.encoder.dtype == torch.bfloat16
    assert answer(half, image, question) == answer(default, image, question) == asked[question]
    gate = half.relevance
    assert gate is not None and default.relevance is not None
    for text in ("What is the capital of France?", question):
        in_half = gate.probability(half.decoder, half.tokenizer, text)
        in_full = default.relevance.probability(default.decoder, default.tokenizer, text)
        assert abs(in_half - in_full) < 0.1, text
        assert (in_half >= gate.threshold) == (in_full >= gate.threshold), text
