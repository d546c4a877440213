"""The recipe the shipped fusion weights were trained with, as data, and the runner of it.

`mmchat train-fusion --out DIR` runs SHIPPED_RECIPE stage after stage: each stage writes its
folder under DIR/stages/, continues from the folder of the stage it names as `init`, and the
last stage's folder is copied to DIR, which `--model DIR` then loads. DIR/training.json records
the recipe in the same form as mmchat/assets/fusion-default/training.json, with each stage's
measured figures.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class Trainer(Protocol):
    """A stage's training function: trains into `out_dir` (continuing from `init`, a folder
    written by an earlier stage, when given) and returns the run's figures."""

    def __call__(
        self,
        out_dir: Path,
        *,
        init: Path | None,
        threads: int,
        log: Callable[[str], None],
        **settings: Any,
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Stage:
    name: str
    trainer: str  # a key of TRAINERS
    init: str | None  # the earlier stage this one continues from; None: the packaged parts
    settings: dict[str, Any] = field(default_factory=dict)  # the trainer's keyword arguments


# Trainers by name, as "module:function", imported only when their stage runs (torch and the
# models load then, never when the CLI starts). A new stage: its trainer here, with the
# signature of `Trainer`, and its Stage in SHIPPED_RECIPE at the point it runs.
TRAINERS: dict[str, str] = {
    "cross-attention": "mmchat.training.cross_attention:train",
    "top-layer": "mmchat.training.top_layer:train",
    "relevance-gate": "mmchat.training.relevance:train_into",
}

# yes_no_share: easy-vqa is mostly yes/no; colour and shape questions are sampled more often
# than they occur because they teach the new layers to read the picture soonest.
SHIPPED_RECIPE: tuple[Stage, ...] = (
    Stage(
        name="cross-attention",
        trainer="cross-attention",
        init=None,
        settings=dict(steps=400, batch_size=24, lr=1.5e-3, seed=0, images=1000, yes_no_share=0.4),
    ),
    # Another seed draws another 1000 images: the layers see twice as many pictures.
    Stage(
        name="cross-attention-2",
        trainer="cross-attention",
        init="cross-attention",
        settings=dict(steps=300, batch_size=24, lr=1e-3, seed=1, images=1000, yes_no_share=0.4),
    ),
    Stage(
        name="top-layer",
        trainer="top-layer",
        init="cross-attention-2",
        settings=dict(steps=3000, batch_size=256, lr=1e-3, seed=0, images=2000, held_out=300),
    ),
    # Stages that add to the fusion layers go here, each continuing from the one before.
    # The relevance gate reads only the frozen decoder; it goes last so that it is saved into
    # the folder that holds every fusion layer.
    Stage(
        name="relevance-gate",
        trainer="relevance-gate",
        init="top-layer",
        settings=dict(block=12, l2=0.01),
    ),
)

NOTE = (
    "mmchat train-fusion --out DIR runs the recipe stage after stage; "
    "mmchat train-fusion --stage NAME --init FOLDER --out DIR runs one stage."
)


class RecipeError(ValueError):
    """A recipe that cannot run as asked (unknown stage, missing --init, unknown setting)."""


def stage_named(name: str, recipe: Sequence[Stage] = SHIPPED_RECIPE) -> Stage:
    for stage in recipe:
        if stage.name == name:
            return stage
    known = ", ".join(s.name for s in recipe)
    raise RecipeError(f"unknown stage {name!r} (the stages: {known})")


def with_settings(stage: Stage, overrides: Mapping[str, Any]) -> Stage:
    """`stage` with some settings changed; a setting the stage does not have is an error."""
    for key in overrides:
        if key not in stage.settings:
            flag = "--" + key.replace("_", "-")
            raise RecipeError(f"{flag} is not a setting of the {stage.name} stage")
    return dataclasses.replace(stage, settings={**stage.settings, **overrides})


def as_json(recipe: Sequence[Stage]) -> list[dict[str, Any]]:
    """The recipe in training.json's form."""
    return [dataclasses.asdict(stage) for stage in recipe]


def trainer_for(stage: Stage, trainers: Mapping[str, str | Trainer] = TRAINERS) -> Trainer:
    found = trainers.get(stage.trainer)
    if found is None:
        raise RecipeError(f"the {stage.name} stage names no known trainer: {stage.trainer!r}")
    if not isinstance(found, str):
        return found
    module, function = found.split(":")
    trainer: Trainer = getattr(importlib.import_module(module), function)
    return trainer


def run(
    out: Path,
    recipe: Sequence[Stage] = SHIPPED_RECIPE,
    *,
    init: Path | None = None,
    threads: int = 0,
    log: Callable[[str], None] = print,
    trainers: Mapping[str, str | Trainer] = TRAINERS,
) -> dict[str, Any]:
    """Run `recipe`'s stages in order into `out`; write and return its training.json record.

    One stage trains straight into `out`, from `init`. Several train into out/stages/NAME,
    each from its `init` stage's folder (the first from `init`), and the last is copied to `out`.
    """
    if not recipe:
        raise RecipeError("the recipe has no stages")
    first = recipe[0]
    if first.init is not None and init is None:
        raise RecipeError(
            f"the {first.name} stage continues from a trained model: give it --init FOLDER"
        )
    names = {stage.name for stage in recipe}
    for stage in recipe[1:]:
        if stage.init is not None and stage.init not in names:
            raise RecipeError(f"the {stage.name} stage continues from {stage.init!r}: not run")
    for stage in recipe:
        trainer_for(stage, trainers)  # every trainer is found before hours of training start
    folders: dict[str, Path] = {}
    records: list[dict[str, Any]] = []
    for number, stage in enumerate(recipe, 1):
        folder = out if len(recipe) == 1 else out / "stages" / stage.name
        start = init if number == 1 else (folders[stage.init] if stage.init else None)
        log(f"stage {number}/{len(recipe)}: {stage.name} -> {folder}")
        figures = trainer_for(stage, trainers)(
            folder, init=start, threads=threads, log=log, **stage.settings
        )
        folders[stage.name] = folder
        given = {"init_folder": str(start)} if number == 1 and start is not None else {}
        records.append({"stage": stage.name, **given, **figures})
    if len(recipe) > 1:
        shutil.copytree(folders[recipe[-1].name], out, dirs_exist_ok=True)
    record = {"note": NOTE, "recipe": as_json(recipe), "stages": records}
    out.mkdir(parents=True, exist_ok=True)
    (out / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    return record
