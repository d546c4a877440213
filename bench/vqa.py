"""Benchmark: the default fusion model on easy-vqa's test split, and text-only chat unchanged.

    .venv/bin/python bench/vqa.py [--limit N] [--model-dir DIR]

Greedy generation through `attend_to` + `decoder.generate`, exactly the engine's path. The test
split's images were never trained on. --limit takes the first N test images (all their
questions); the full split is 1,000 images / 9,673 questions (~25 min on a 2-core CPU).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import torch
from PIL import Image
from transformers import AutoModelForCausalLM

from mmchat.engine.default_decoder import smollm2_dir
from mmchat.engine.fusion import DEFAULT_DIR, FusionModel
from mmchat.training.easy_vqa import image_path, negated, prompt_ids, read_split
from mmchat.training.frozen import auto_threads

SHAPES = {"circle", "rectangle", "triangle"}
CHAT_PROMPTS = (
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Explain in one sentence what a CPU does.",
    "List three fruits.",
)


def kind(answer: str) -> str:
    if answer in {"yes", "no"}:
        return "yes/no"
    return "shape" if answer in SHAPES else "color"


def yes_no_cell(question: str, expected: str) -> str:
    """Which of the four yes/no cells a question falls in: plain or negated, answer yes or no.

    An image holds one shape of one color, so "is there a red shape?" is "no" for most images
    and its negation "yes": a model that answers from the question alone scores ~83% on
    easy-vqa's yes/no questions and fails the plain-yes and negated-no cells. The cells show
    whether the answers come from the image.
    """
    return f"{'negated' if negated(question) else 'plain'} question, answer {expected}"


def generate(model: FusionModel, decoder: torch.nn.Module, ids: list[int], tokens: int) -> str:
    with torch.no_grad():
        out = decoder.generate(torch.tensor([ids]), max_new_tokens=tokens, do_sample=False)
    return model.tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True).strip()


def vqa(model: FusionModel, limit: int | None) -> None:
    by_image: dict[int, list[tuple[str, str]]] = {}
    for question, answer, image_id in read_split("test"):
        by_image.setdefault(image_id, []).append((question, answer))
    image_ids = sorted(by_image)[:limit]
    right, total = Counter[str](), Counter[str]()
    cell_right, cell_total = Counter[str](), Counter[str]()
    encode_s = answer_s = 0.0
    wrong: list[str] = []
    for image_id in image_ids:
        image = Image.open(image_path("test", image_id)).convert("RGB")
        started = time.perf_counter()
        features = model.encode_images([image])
        encode_s += time.perf_counter() - started
        for question, expected in by_image[image_id]:
            started = time.perf_counter()
            with model.attend_to(features):
                said = generate(
                    model, model.decoder, prompt_ids(model.tokenizer, question, None), 5
                )
            answer_s += time.perf_counter() - started
            total[kind(expected)] += 1
            correct = said.lower().rstrip(".") == expected
            right[kind(expected)] += correct
            if kind(expected) == "yes/no":
                cell_total[yes_no_cell(question, expected)] += 1
                cell_right[yes_no_cell(question, expected)] += correct
            if not correct and len(wrong) < 10:
                wrong.append(
                    f"  image {image_id}: {question!r} -> {said!r} (expected {expected!r})"
                )
    count = sum(total.values())
    print(f"easy-vqa test: {len(image_ids)} images, {count} questions")
    print(f"accuracy {sum(right.values()) / count:.4f}")
    for name in sorted(total):
        print(f"  {name:7s} {right[name] / total[name]:.4f} ({right[name]}/{total[name]})")
    for cell in sorted(cell_total):
        print(f"    yes/no, {cell}: {cell_right[cell] / cell_total[cell]:.4f} ({cell_total[cell]})")
    print(
        f"encode {encode_s / len(image_ids):.3f} s/image, answer {answer_s / count:.3f} s/question"
    )
    if wrong:
        print("first mistakes:", *wrong, sep="\n")


def text_only(model: FusionModel) -> None:
    plain = AutoModelForCausalLM.from_pretrained(smollm2_dir(), dtype=torch.float32).eval()
    same = 0
    for prompt in CHAT_PROMPTS:
        ids = prompt_ids(model.tokenizer, prompt, None)
        before = generate(model, plain, ids, 40)
        with model.attend_to(None):  # an engine turn with no image
            after = generate(model, model.decoder, ids, 40)
        same += before == after
        print(f"\n> {prompt}\nplain decoder: {before!r}\nfusion, no image: {after!r}")
    print(f"\ntext-only answers identical: {same}/{len(CHAT_PROMPTS)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N test images only")
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(auto_threads())  # 2 threads on 2 busy cores ran ~8x slower than 1
    print(f"torch threads: {torch.get_num_threads()}")
    started = time.perf_counter()
    model = FusionModel.from_pretrained(args.model_dir)
    print(f"loaded {args.model_dir} in {time.perf_counter() - started:.2f} s")
    vqa(model, args.limit)
    text_only(model)


if __name__ == "__main__":
    main()
