"""easy-vqa, the data the fusion layers learn from: its questions, images and answer kinds, and
the prompts the engine would build for them (so training sees exactly what chat sends)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The engine sends no system message for the default persona (the template adds SmolLM's own);
# personas send their own. Training sees all three kinds so a persona does not break answers.
SYSTEM_PROMPTS: tuple[str | None, ...] = (
    None,
    "You are a helpful assistant.",
    "You are Sam, a friendly customer-service agent for Northwind Outfitters. "
    "Answer politely and briefly.",
)
SYSTEM_WEIGHTS = (0.5, 0.25, 0.25)


# easy-vqa is 74% yes/no; color and shape questions map the image to a word directly, the
# quickest signal for the new layers, so they are sampled more often than they occur.
KIND_COUNT = {"yes/no": 28407, "color": 5166, "shape": 5002}  # in the train split


def kind_weights(yes_no_share: float) -> dict[str, float]:
    """Sampling weight per question so that yes/no questions make `yes_no_share` of a batch."""
    share = {"yes/no": yes_no_share, "color": (1 - yes_no_share) / 2}
    share["shape"] = share["color"]
    return {k: share[k] / KIND_COUNT[k] for k in KIND_COUNT}


def negated(question: str) -> bool:
    """Whether an easy-vqa question is negated: "is there not a red shape?", "is no ..."."""
    words = question.rstrip("?").split()
    return "not" in words or "no" in words


def answer_kind(answer: str) -> str:
    if answer in {"yes", "no"}:
        return "yes/no"
    return "shape" if answer in {"circle", "rectangle", "triangle"} else "color"


def easy_vqa_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("easy_vqa")  # located, not imported: same as the weights
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("easy-vqa is not installed: pip install --no-deps easy-vqa==1.0")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def read_split(split: str) -> list[tuple[str, str, int]]:
    """[(question, answer, image_id)] of easy-vqa's 'train' or 'test' split."""
    raw = json.loads((easy_vqa_dir() / split / "questions.json").read_text())
    return [(q, a, int(i)) for q, a, i in raw]


def image_path(split: str, image_id: int) -> Path:
    return easy_vqa_dir() / split / "images" / f"{image_id}.png"


def prompt_ids(tokenizer: Any, question: str, system: str | None) -> list[int]:
    """The exact prompt the engine builds: chat template, question as the user message."""
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": question})
    out = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)
    return list(out["input_ids"])


def answer_ids(tokenizer: Any, answer: str) -> list[int]:
    """The answer as the model says it, then the end-of-turn token that stops generation."""
    return tokenizer.encode(answer, add_special_tokens=False) + [tokenizer.eos_token_id]
