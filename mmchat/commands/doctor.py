"""`mmchat doctor`: what this machine can run, in plain words."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path

import typer

from mmchat.text import one_line


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _line(ok: bool | None, label: str, detail: str) -> None:
    mark = {True: "ok  ", False: "FAIL", None: "--  "}[ok]
    typer.echo(f"[{mark}] {label:<22} {one_line(detail, 200)}")


def _writable(path: Path) -> tuple[bool, str]:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    ok = os.access(probe, os.W_OK)
    return ok, f"{path}" + ("" if ok else " (not writable: set MMCHAT_HOME or --db)")


def doctor() -> None:
    """Check torch, CUDA, bitsandbytes, paths and the default model."""
    from mmchat.config import cache_dir, config_dir, data_dir, default_db_path
    from mmchat.engine.assets import (
        COCO_SSD,
        EFFICIENTNET_LITE0_PTH,
        OCR_CLASSIFIER_ONNX,
        OCR_DETECTOR_ONNX,
        OCR_RECOGNISER_ONNX,
        VIT_S_ONNX,
        AssetMissing,
    )
    from mmchat.engine.registry import default_installed

    _line(True, "python", f"{platform.python_version()} on {platform.machine()}")
    torch_version = _version("torch")
    if torch_version is None:
        _line(False, "torch", "not installed: pip install torch")
    else:
        import torch

        _line(True, "torch", f"{torch_version}, {torch.get_num_threads()} CPU threads")
        if torch.cuda.is_available():
            _line(True, "CUDA", torch.cuda.get_device_name(0))
        else:
            _line(None, "CUDA", "no GPU found: the model runs on the CPU (int8)")
    _line(bool(_version("transformers")), "transformers", _version("transformers") or "missing")
    bnb = _version("bitsandbytes")
    _line(
        None if bnb is None else True,
        "bitsandbytes",
        f"{bnb} (4/8-bit where CUDA runs)" if bnb else "not installed: 4/8-bit needs mmchat[cuda]",
    )
    for label, path in (
        ("data dir", data_dir()),
        ("config dir", config_dir()),
        ("cache dir", cache_dir()),
        ("database", default_db_path()),
    ):
        ok, detail = _writable(path)
        _line(ok, label, detail)
    installed, where = default_installed()
    _line(installed, "default decoder", where)
    for label, asset in (
        ("vision encoder", VIT_S_ONNX),
        ("image classifier", EFFICIENTNET_LITE0_PTH),
    ):
        try:
            _line(True, label, str(asset.locate()))
        except AssetMissing as exc:
            _line(False, label, str(exc))
    try:
        folders = {
            a.locate().parent for a in (OCR_DETECTOR_ONNX, OCR_CLASSIFIER_ONNX, OCR_RECOGNISER_ONNX)
        }
        _line(True, "text reading", ", ".join(map(str, folders)))
    except AssetMissing as exc:
        _line(False, "text reading", str(exc))
    try:
        _line(True, "object detector", str(COCO_SSD.locate()))
    except AssetMissing as exc:
        _line(False, "object detector", str(exc))
    fusion = Path(__file__).resolve().parent.parent / "assets" / "fusion-default" / "config.json"
    _line(fusion.is_file(), "fusion weights", str(fusion.parent))
