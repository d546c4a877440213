"""The embedded default model end to end, as a person runs it: `mmchat ask` on real weights."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

MMCHAT = [sys.executable, "-m", "mmchat.cli"]


def easy_vqa_test_image(image_id: int) -> Path:
    import importlib.util

    spec = importlib.util.find_spec("easy_vqa")
    assert spec is not None and spec.submodule_search_locations, "mmchat setup installs easy-vqa"
    root = Path(next(iter(spec.submodule_search_locations)))
    return root / "data" / "test" / "images" / f"{image_id}.png"


def ask(*args: str) -> dict[str, object]:
    result = subprocess.run(
        [*MMCHAT, "ask", "--json", *args], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("image_id", "question", "expected"),
    [
        (0, "what is the color of the shape?", "red"),
        (0, "what is the red shape?", "triangle"),
        (6, "what color is the shape?", "blue"),
        (6, "what shape is in the image?", "circle"),
    ],
)
def test_default_model_answers_about_an_image(
    isolated_home: Path, image_id: int, question: str, expected: str
) -> None:
    answer = ask("--image", str(easy_vqa_test_image(image_id)), question)
    assert answer["model"] == "default" and answer["status"] == "complete"
    assert str(answer["content"]).strip().lower().rstrip(".") == expected


def test_default_model_chats_without_an_image_and_follows_up(isolated_home: Path) -> None:
    first = ask("What is the capital of France?")
    assert "Paris" in str(first["content"])
    # a follow-up in the same conversation, now with an image
    second = ask(
        "-c",
        str(first["conversation_id"]),
        "--image",
        str(easy_vqa_test_image(6)),
        "what color is the shape?",
    )
    assert str(second["content"]).strip().lower().rstrip(".") == "blue"
