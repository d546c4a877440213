"""GGUF files, converted once to a safetensors folder in the cache (fp32: models the CPU fast
path does not run, and GPUs; the fast path's Llama and Qwen2 decoders go to int8 instead,
gguf_int8.py).

transformers reads GGUF with a pure-Python parser and dequantizes every tensor: tens of
seconds even for a small model, plus the time to rebuild the tokenizer. The converted folder
reloads in a fraction of a second, so conversion happens once per file (keyed by path, size
and mtime).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from mmchat.engine.assets import convert_once, sha256_file
from mmchat.engine.base import EngineError, Progress, ProgressCallback
from mmchat.engine.gguf_size import check_fits


def file_key(path: Path) -> str:
    """A GGUF file's cache key: its path, size and modification time."""
    stat = path.stat()
    raw = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def converted_gguf_dir(
    path: Path,
    *,
    name: str | None = None,
    expected_sha256: str | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """The folder holding `path` converted to safetensors + tokenizer files."""
    if not path.is_file():
        raise EngineError(f"no GGUF file at {path}")

    def build(out: Path) -> None:
        if expected_sha256 is not None:
            if progress:
                progress(Progress("verifying weights", 0.0))
            actual = sha256_file(path)
            if actual != expected_sha256:
                raise EngineError(
                    f"{path} is damaged (sha256 {actual[:12]}..., expected "
                    f"{expected_sha256[:12]}...); reinstall the package that ships it"
                )
        # Refused before anything is written when it cannot fit (gguf_size.py says why).
        check_fits(path, out.parent)
        if progress:
            progress(Progress(f"converting {path.name} (once)", 0.1))
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(
                path.parent, gguf_file=path.name, trust_remote_code=False
            )
            if progress:
                progress(Progress(f"converting {path.name} (once)", 0.4))
            model = AutoModelForCausalLM.from_pretrained(
                path.parent, gguf_file=path.name, trust_remote_code=False
            )
        except (ValueError, KeyError, OSError, IndexError, TypeError) as exc:
            first = (
                str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            )
            raise EngineError(
                f"cannot read {path} as a GGUF model ({first}); the file is damaged, truncated "
                "or of an architecture transformers does not load"
            ) from None
        # The weights are already dequantized to fp32; drop the GGUF "quantizer" marker so
        # save_pretrained writes a plain safetensors model.
        model.hf_quantizer = None  # type: ignore[assignment]  # an undeclared instance attribute
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        if progress:
            progress(Progress("conversion done", 1.0))

    return convert_once(name or f"gguf-{file_key(path)}", build)


def packaged_gguf_dir(location: str, progress: ProgressCallback | None = None) -> Path:
    """The converted folder of a packaged GGUF ("packaged:NAME"); EngineError names the setup
    command when it is not installed."""
    from mmchat.engine.assets import SMOLLM2_GGUF, AssetMissing
    from mmchat.engine.parted import PARTED_MODELS

    name = location.removeprefix("packaged:")
    try:
        if name == "smollm2":
            gguf, folder, sha256 = (
                SMOLLM2_GGUF.locate(),
                "smollm2-135m-instruct",
                SMOLLM2_GGUF.sha256,
            )
        elif name in PARTED_MODELS:
            model = PARTED_MODELS[name]
            gguf, folder, sha256 = (
                model.locate(),
                model.filename.removesuffix(".gguf"),
                model.sha256,
            )
        else:
            raise EngineError(f"no packaged model named {name!r}")
    except AssetMissing as exc:
        raise EngineError(str(exc)) from None
    return converted_gguf_dir(gguf, name=folder, expected_sha256=sha256, progress=progress)
