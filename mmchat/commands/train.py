"""`mmchat train-fusion`: train the cross-attention fusion layers on easy-vqa, on this machine."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from mmchat.commands.common import fail


def train_fusion(
    out: Annotated[Path, typer.Option(help="Folder for the trained config + weights.")],
    steps: Annotated[int | None, typer.Option(help="Optimiser steps [400; 3000 top].")] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Questions per step [32; 256 top].")
    ] = None,
    lr: Annotated[float, typer.Option(help="Learning rate (gates learn faster).")] = 1e-3,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    images: Annotated[
        int | None, typer.Option(help="Training images to encode [1000; 2000 top].")
    ] = None,
    threads: Annotated[int, typer.Option(help="0: the cores not already busy.")] = 0,
    init: Annotated[Path | None, typer.Option(help="Continue from a fusion folder.")] = None,
    top_layer: Annotated[
        bool,
        typer.Option(
            "--top-layer",
            help="Second stage: add a layer after the last block to the --init model and "
            "train only it (yes/no questions about the picture).",
        ),
    ] = False,
    gate: Annotated[
        bool,
        typer.Option(
            "--gate",
            help="Train only the relevance gate (is a message about the picture?) and save "
            "it into OUT, beside that folder's fusion layers.",
        ),
    ] = False,
) -> None:
    """Train the fusion layers (decoder and encoder stay frozen); use with --model OUT."""
    from mmchat.engine.assets import AssetMissing

    def log(line: str) -> None:
        typer.echo(f"[{time.strftime('%H:%M:%S')}] {line}", err=True)

    try:
        if gate:
            from mmchat.training.relevance import train_into

            figures = train_into(out, log=log)
        elif top_layer:
            from mmchat import train_top_layer

            if init is None:
                fail("--top-layer trains on top of a trained model: give it --init FOLDER", 2)
            figures = train_top_layer.train(
                init,
                out,
                steps=steps or 3000,
                batch_size=batch_size or 256,
                lr=lr,
                seed=seed,
                images=images or 2000,
                threads=threads,
                log=log,
            )
        else:
            from mmchat.train_fusion import train

            figures = train(
                out,
                steps=steps or 400,
                batch_size=batch_size or 32,
                lr=lr,
                seed=seed,
                images=images or 1000,
                threads=threads,
                init=init,
                log=log,
            )
    except (AssetMissing, FileNotFoundError) as exc:
        fail(f"{exc} (mmchat setup installs the training data)")
    typer.echo(f"saved to {out}: final loss {figures['final_loss']}")
