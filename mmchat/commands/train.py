"""`mmchat train-fusion`: train the cross-attention fusion layers on easy-vqa, on this machine."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from mmchat.commands.common import fail


def train_fusion(
    out: Annotated[Path, typer.Option(help="Folder for the trained config + weights.")],
    steps: Annotated[int, typer.Option(help="Optimiser steps.")] = 400,
    batch_size: Annotated[int, typer.Option(help="Questions per step.")] = 32,
    lr: Annotated[float, typer.Option(help="Learning rate (gates take 10x).")] = 1e-3,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    images: Annotated[int, typer.Option(help="Training images to encode.")] = 1000,
    threads: Annotated[int, typer.Option(help="0: the cores not already busy.")] = 0,
    init: Annotated[Path | None, typer.Option(help="Continue from a fusion folder.")] = None,
) -> None:
    """Train the fusion layers (decoder and encoder stay frozen); use with --model OUT."""
    from mmchat.engine.assets import AssetMissing
    from mmchat.train_fusion import train

    def log(line: str) -> None:
        typer.echo(f"[{time.strftime('%H:%M:%S')}] {line}", err=True)

    try:
        figures = train(
            out,
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            images=images,
            threads=threads,
            init=init,
            log=log,
        )
    except (AssetMissing, FileNotFoundError) as exc:
        fail(f"{exc} (mmchat setup installs the training data)")
    typer.echo(f"saved to {out}: final loss {figures['final_loss']}")
