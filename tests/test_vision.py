"""The packaged ViT-S/14 encoder converted from ONNX into transformers' Dinov2Model."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import Dinov2Model

from mmchat.engine.assets import VIT_S_ONNX
from mmchat.engine.vision import encoder as vision
from mmchat.training.easy_vqa import image_path


@pytest.fixture(scope="module")
def encoder() -> Iterator[Dinov2Model]:
    yield vision.load_encoder()


def test_preprocess_resizes_and_normalises_with_imagenet_statistics() -> None:
    white = Image.new("RGB", (64, 40), (255, 255, 255))
    pixels = vision.preprocess([white])
    assert pixels.shape == (1, 3, 224, 224)
    expected = (1 - np.array(vision.IMAGENET_MEAN)) / np.array(vision.IMAGENET_STD)
    assert torch.allclose(pixels[0, :, 100, 100], torch.tensor(expected, dtype=torch.float32))


def test_converted_weights_are_the_onnx_initializers(encoder: Dinov2Model) -> None:
    state = vision._onnx_state_dict(VIT_S_ONNX.locate())
    ours = encoder.state_dict()
    for name in (
        "encoder.layer.0.attention.q_proj.weight",
        "encoder.layer.11.mlp.fc2.weight",
        "embeddings.position_embeddings",
        "layernorm.weight",
    ):
        assert np.array_equal(ours[name].numpy(), state[name]), name
    assert ours["encoder.layer.3.attention.k_proj.weight"].shape == (384, 384)


def test_features_are_257_tokens_of_384_and_tell_images_apart(encoder: Dinov2Model) -> None:
    images = [Image.open(image_path("test", i)).convert("RGB") for i in (0, 1)]
    features = vision.image_features(encoder, images)
    assert features.shape == (2, 257, 384)
    assert torch.isfinite(features).all()
    again = vision.image_features(encoder, images[:1])
    assert torch.allclose(again[0], features[0], atol=1e-4)  # batching does not change the result
    cls = torch.nn.functional.normalize(features[:, 0], dim=-1)
    assert (cls[0] @ cls[1]).item() < 0.99
