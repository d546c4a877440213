"""`mmchat train-fusion`'s recipe is the one the shipped weights were trained with."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mmchat.training import recipe
from mmchat.training.recipe import SHIPPED_RECIPE, RecipeError, Stage

SHIPPED = Path(recipe.__file__).parent.parent / "assets" / "fusion-default" / "training.json"
# A setting's name in a stage's measured record, where the trainer records it under another.
RECORDED_AS = {"held_out": "held_out_images"}


def test_the_code_recipe_is_the_one_training_json_records() -> None:
    shipped = json.loads(SHIPPED.read_text())
    assert shipped["recipe"] == recipe.as_json(SHIPPED_RECIPE)


def test_each_stage_measured_in_training_json_ran_with_the_recipe_settings() -> None:
    records = {r["stage"]: r for r in json.loads(SHIPPED.read_text())["stages"]}
    assert list(records) == [stage.name for stage in SHIPPED_RECIPE]
    for stage in SHIPPED_RECIPE:
        record = records[stage.name]
        compared = 0
        for key, value in stage.settings.items():
            recorded = RECORDED_AS.get(key, key)
            if recorded in record:
                assert record[recorded] == value, (stage.name, key)
                compared += 1
        assert compared >= 2, stage.name  # each record names most of its settings


def test_every_shipped_stage_has_a_trainer_that_takes_its_settings() -> None:
    for stage in SHIPPED_RECIPE:
        trainer = recipe.trainer_for(stage)
        inspect.signature(trainer).bind(
            Path("out"), init=None, threads=0, log=print, **stage.settings
        )


def writes(name: str) -> Callable[..., dict[str, Any]]:
    """A trainer that writes a file naming itself and where it started from."""

    def trainer(
        out_dir: Path, *, init: Path | None, threads: int, log: Callable[[str], None], **kw: Any
    ) -> dict[str, Any]:
        out_dir.mkdir(parents=True, exist_ok=True)
        if init is not None:
            for f in init.iterdir():
                (out_dir / f.name).write_text(f.read_text())
        (out_dir / f"{name}.txt").write_text(str(init))
        return {"seen": kw}

    return trainer


def test_stages_run_in_order_each_from_the_folder_of_the_stage_it_names(tmp_path: Path) -> None:
    stages = (
        Stage("one", "a", None, {"steps": 1}),
        Stage("two", "b", "one", {"steps": 2}),
        Stage("three", "a", "two", {"steps": 3}),
    )
    record = recipe.run(
        tmp_path, stages, trainers={"a": writes("a"), "b": writes("b")}, log=lambda _: None
    )
    assert (tmp_path / "stages" / "two" / "b.txt").read_text() == str(tmp_path / "stages" / "one")
    assert (tmp_path / "a.txt").read_text() == str(tmp_path / "stages" / "two")
    assert (tmp_path / "b.txt").is_file()  # the last stage's folder, copied to OUT
    assert [r["stage"] for r in record["stages"]] == ["one", "two", "three"]
    assert record["stages"][2]["seen"] == {"steps": 3}
    written = json.loads((tmp_path / "training.json").read_text())
    assert written == record
    assert set(written) <= set(json.loads(SHIPPED.read_text()))  # the shipped file's form


def test_one_stage_trains_straight_into_out_from_init(tmp_path: Path) -> None:
    (tmp_path / "before").mkdir()
    (tmp_path / "before" / "weights").write_text("w")
    stage = recipe.with_settings(recipe.stage_named("top-layer"), {"steps": 7})
    assert stage.settings["steps"] == 7 and stage.settings["batch_size"] == 256
    out = tmp_path / "out"
    recipe.run(out, (stage,), init=tmp_path / "before", trainers={"top-layer": writes("t")})
    assert (out / "weights").read_text() == "w" and not (out / "stages").exists()
    written = json.loads((out / "training.json").read_text())
    assert written["recipe"][0]["settings"]["steps"] == 7
    assert written["stages"][0]["init_folder"] == str(tmp_path / "before")


def test_a_recipe_that_cannot_run_says_why_before_training(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="give it --init FOLDER"):
        recipe.run(tmp_path, (recipe.stage_named("top-layer"),), trainers={})
    with pytest.raises(RecipeError, match="unknown stage 'nope'"):
        recipe.stage_named("nope")
    with pytest.raises(RecipeError, match="--images is not a setting of the relevance-gate"):
        recipe.with_settings(recipe.stage_named("relevance-gate"), {"images": 5})
    with pytest.raises(RecipeError, match="names no known trainer"):
        recipe.run(tmp_path, (Stage("x", "missing", None),), trainers={})
    assert not any(tmp_path.iterdir())
