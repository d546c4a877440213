"""`mmchat train-fusion`: train the fusion layers on easy-vqa, on this machine, by the recipe
the shipped weights were trained with (mmchat/training/recipe.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from mmchat.commands.common import fail
from mmchat.training.recipe import SHIPPED_RECIPE

STAGE_NAMES = ", ".join(stage.name for stage in SHIPPED_RECIPE)


def train_fusion(
    out: Annotated[Path, typer.Option(help="Folder for the trained model (--model OUT).")],
    stage: Annotated[
        str | None,
        typer.Option(help=f"Run only this stage of the recipe ({STAGE_NAMES}), into OUT."),
    ] = None,
    init: Annotated[
        Path | None, typer.Option(help="With --stage: the trained folder it continues from.")
    ] = None,
    steps: Annotated[int | None, typer.Option(help="With --stage: optimiser steps.")] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="With --stage: questions per step.")
    ] = None,
    lr: Annotated[float | None, typer.Option(help="With --stage: learning rate.")] = None,
    seed: Annotated[int | None, typer.Option(help="With --stage: random seed.")] = None,
    images: Annotated[
        int | None, typer.Option(help="With --stage: training images to encode.")
    ] = None,
    held_out: Annotated[
        int | None, typer.Option(help="With --stage top-layer: images kept out of training.")
    ] = None,
    threads: Annotated[int, typer.Option(help="Torch threads; 0: the cores not busy.")] = 0,
) -> None:
    """Train the fusion layers (decoder and encoder stay frozen); with no options but --out,
    the shipped weights' recipe, stage after stage."""
    from mmchat.engine.assets import AssetMissing
    from mmchat.training import recipe

    def log(line: str) -> None:
        typer.echo(f"[{time.strftime('%H:%M:%S')}] {line}", err=True)

    given = {
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "images": images,
        "held_out": held_out,
    }
    overrides: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    try:
        if stage is None:
            if overrides or init is not None:
                flag = "--" + next(iter(overrides), "init").replace("_", "-")
                fail(f"{flag} applies to one stage: give --stage NAME", 2)
            stages = recipe.SHIPPED_RECIPE
        else:
            stages = (recipe.with_settings(recipe.stage_named(stage), overrides),)
        recipe.run(out, stages, init=init, threads=threads, log=log)
    except recipe.RecipeError as exc:
        fail(str(exc), 2)
    except (AssetMissing, FileNotFoundError) as exc:
        fail(f"{exc} (mmchat setup installs the training data)")
    typer.echo(f"saved to {out} (its training.json records the recipe and the figures)")
