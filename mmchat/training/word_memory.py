"""Train the word reader: visual words become tokens that new word layers attend to.

What learns is `WordReader` (mmchat/engine/word_memory.py): the word projector and new gated
cross-attention layers before blocks 24 and 27, their gates starting at zero. The decoder,
the encoder, the easy-vqa cross layers and the readout stay frozen and are bypassed on turns
with words, so easy-vqa's turns (patches only) and text turns run exactly as before and need
no replay.

Why not the easy-vqa layers (`--diagnose` measures it): with distractor patches and no words,
the answers' loss through them is 25.9 nats a token (13.2 without the readout) against 4.3
for the plain decoder; the earlier recipe, a projector alone in front of them, got to 10.0.

Label, colour and text sets are sampled without pictures (LENS's visual words, Berrios et al.
2023): ImageNet's common nouns, the colour terms, short lines of text, with probabilities. The
patch tokens beside them come from pictures that are not photos (easy-vqa, the other shape
renderer, text pages, noise), so the layers learn to take the answer from the words. The
targets have the shapes image_turn's answers have. Turns not about the picture, with words in
memory, keep the decoder's own answer (self-distillation).

    python -m mmchat.training.word_memory --init DIR --out DIR [--steps N] [--diagnose]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from mmchat.engine.word_memory import WORD_BLOCKS, WordEntry
from mmchat.training.easy_vqa import (
    SYSTEM_PROMPTS,
    SYSTEM_WEIGHTS,
    answer_ids,
    prompt_ids,
    read_split,
)
from mmchat.training.frozen import CachedText, encode_split, run_blocks
from mmchat.training.steps import run_steps

if TYPE_CHECKING:
    import torch
    from transformers import GenerationMixin

    from mmchat.engine.fusion import FusionModel
    from mmchat.engine.word_memory import WordReader

SURE = 0.45  # image_turn.SURE_OBJECT_SCORE: above it the answer names the thing outright
HELD_OUT_SHARE = 0.15  # of the nouns and text words, kept out of training to check on

QUESTIONS: dict[str, tuple[str, ...]] = {
    "object": (
        "What is in this picture?",
        "What is this?",
        "What is shown here?",
        "What is this a photo of?",
        "Name the main thing in this image.",
        "What object is this?",
        "What's this?",
        "What animal is this?",
        "Which animal is in the picture?",
        "What vehicle is this?",
        "What kind of vehicle is in the photo?",
        "What food is this?",
    ),
    "color": (
        "What colour is it?",
        "What color is this?",
        "What colours are in this picture?",
        "What is the main colour?",
        "What color is the {noun}?",
    ),
    "text": (
        "What does it say?",
        "What does the text say?",
        "Read the text in this picture.",
        "What is written here?",
        "What is the title?",
        "What is the heading?",
    ),
    "describe": (
        "Describe this picture.",
        "Describe the image.",
        "Tell me about this photo.",
        "Give a description of this picture.",
    ),
}

# Words for sampled lines of text (signs, titles, buttons): common words, sampled in several
# cases, and the nouns' own words.
TEXT_WORDS = (
    "open closed exit entrance sale welcome stop push pull danger private keep out "
    "report annual summer winter garden river city market coffee bread news weekly "
    "meeting notes chapter one two three save cancel delete retry settings home help "
    "total invoice order number street station platform north south east west library "
    "school museum hotel park parking free today only new old great small big quiet please"
).split()


@dataclass(frozen=True)
class Sample:
    entries: tuple[WordEntry, ...]
    question: str
    answer: str


def _article(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def answer_for(kind: str, question: str, entries: Sequence[WordEntry]) -> str:
    """The target answer, in the shape image_turn's words way gives it (its prefixes first)."""
    labels = [e for e in entries if e.kind == "label"]
    colours = [e.text for e in entries if e.kind == "colour"]
    lines = [e.text for e in entries if e.kind == "text"]
    # The main colour, and the second where it covers a good share too.
    shares = [e.probability for e in entries if e.kind == "colour"]
    main = colours[:2] if len(colours) > 1 and shares[1] >= 0.25 else colours[:1]
    thing = ""
    if labels:
        top = labels[0]
        thing = _article(top.text) if top.probability >= SURE else f"perhaps {_article(top.text)}"
    elif lines:
        thing = f'the text "{lines[0]}"'
    if kind == "object":
        if not labels and lines:
            return f'It shows the text "{lines[0]}".'
        if labels[0].probability >= SURE:
            return f"This is {_article(labels[0].text)}."
        return f"It may be {_article(labels[0].text)}, but I am not sure."
    if kind == "color":
        return f"It is mostly {_and(main)}."
    if kind == "text":
        if not lines:
            return "I can't find any text in it."
        if "title" in question or "heading" in question:
            return f'The title is "{lines[0]}"'
        return f'It says: "{" / ".join(lines)}"'
    return f"The picture shows {thing}. It is mostly {_and(main)}."


class WordSampler:
    """Visual-word sets and questions about them, sampled without pictures."""

    def __init__(self, rng: random.Random, nouns: Sequence[str], words: Sequence[str]) -> None:
        from mmchat.engine.vision.colors import TERMS

        self.rng, self.nouns, self.words, self.colours = rng, list(nouns), list(words), TERMS

    def _probabilities(self, n: int) -> list[float]:
        top = self.rng.uniform(0.15, 0.98)
        rest = [self.rng.uniform(0, 1 - top) / n for _ in range(n - 1)]
        return [top, *sorted(rest, reverse=True)]

    def _line(self) -> str:
        line = " ".join(self.rng.choices(self.words, k=self.rng.randint(1, 3)))
        case = self.rng.random()
        return line.upper() if case < 0.3 else line.title() if case < 0.7 else line.capitalize()

    def entries(self, text_picture: bool) -> list[WordEntry]:
        rng = self.rng
        entries: list[WordEntry] = []
        if not text_picture or rng.random() < 0.5:
            n = rng.randint(1, 3)
            nouns = rng.sample(self.nouns, n)
            entries += [
                WordEntry(noun, "label", round(p, 2))
                for noun, p in zip(nouns, self._probabilities(n), strict=True)
            ]
        n = rng.randint(1, 3)
        shares = sorted((rng.uniform(0.05, 1) for _ in range(n)), reverse=True)
        total = sum(shares)
        entries += [
            WordEntry(c, "colour", round(s / total, 2))
            for c, s in zip(rng.sample(self.colours, n), shares, strict=True)
        ]
        if text_picture or rng.random() < 0.15:
            entries += [
                WordEntry(self._line(), "text", round(rng.uniform(0.6, 1), 2))
                for _ in range(rng.randint(1, 3 if text_picture else 1))
            ]
        return entries

    def sample(self) -> Sample:
        text_picture = self.rng.random() < 0.3
        entries = self.entries(text_picture)
        has_text = any(e.kind == "text" for e in entries)
        kinds = ["object", "color", "describe"] + ["text"] * (3 if has_text else 0)
        if not any(e.kind == "label" for e in entries):
            kinds = ["text", "text", "describe", "color"]
        kind = self.rng.choice(kinds)
        question = self.rng.choice(QUESTIONS[kind])
        labels = [e.text for e in entries if e.kind == "label"] or ["picture"]
        question = question.format(noun=labels[0])
        return Sample(tuple(entries), question, answer_for(kind, question, entries))


def split_vocabulary(rng: random.Random) -> tuple[list[str], list[str], list[str], list[str]]:
    """(train nouns, held-out nouns, train text words, held-out text words)."""
    from mmchat.engine.vision.classify import imagenet_classes

    nouns = sorted({c.noun for c in imagenet_classes()})
    words = sorted(set(TEXT_WORDS) | {w for n in nouns for w in n.split() if w.isalpha()})
    rng.shuffle(nouns)
    rng.shuffle(words)
    cut_n, cut_w = int(len(nouns) * HELD_OUT_SHARE), int(len(words) * HELD_OUT_SHARE)
    return nouns[cut_n:], nouns[:cut_n], words[cut_w:], words[:cut_w]


def distractor_patches(model: FusionModel, rng: random.Random, log: Callable[[str], None]) -> Any:
    """(N, T, vision_width) pooled features of pictures that are not photos: easy-vqa, the
    other shape renderer, text pages and noise. The words, not these, hold the answers."""
    import numpy as np
    import torch
    from PIL import Image

    from mmchat.training import text_pictures
    from mmchat.training.shapes import TRAIN_SEEDS, render

    ids = sorted(rng.sample(sorted({i for _, _, i in read_split("train")}), 48))
    easy = list(encode_split(model, "train", ids, log).values())
    pictures = [render(seed)[0] for seed in rng.sample(list(TRAIN_SEEDS[:100_000]), 16)]
    makers = (text_pictures.page, text_pictures.scan, text_pictures.screenshot)
    pictures += [make()[0] for make in makers]
    noise = np.random.default_rng(rng.randrange(2**32))
    for _ in range(6):
        pixels = noise.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        pictures.append(Image.fromarray(pixels).resize((224, 224), Image.Resampling.BILINEAR))
    with torch.no_grad():
        others = [model.pooled_features([p.convert("RGB")])[0] for p in pictures]
    return torch.stack(easy + others)


def teacher_answers(model: FusionModel, prompts: Sequence[str], tokens: int) -> list[str]:
    """The plain decoder's own greedy answers (no picture): the targets of turns not about it."""
    import torch

    # A causal LM transformers loads is also a GenerationMixin; the fusion model types its
    # decoder only as a PreTrainedModel (Python has no intersection types).
    decoder = cast("GenerationMixin", model.decoder)
    answers = []
    for prompt in prompts:
        ids = torch.tensor([prompt_ids(model.tokenizer, prompt, None)])
        with torch.no_grad():
            out = decoder.generate(ids, max_new_tokens=tokens, do_sample=False)
        answers.append(model.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True))
    return [a.strip() for a in answers]


@dataclass(frozen=True)
class Example:
    entries: tuple[WordEntry, ...]
    texts: tuple[int, ...]  # the cached text per system prompt


def batch_loss(
    model: FusionModel,
    texts: list[CachedText],
    patches: torch.Tensor,
    batch: list[tuple[Example, int, int]],
) -> tuple[torch.Tensor, float]:
    """Mean cross-entropy over answer tokens; share of answers right at every token (argmax).
    Each batch row: (example, system prompt index, distractor picture index)."""
    import torch
    import torch.nn.functional as F

    cached = [texts[e.texts[s]] for e, s, _ in batch]
    hidden = torch.nn.utils.rnn.pad_sequence([c.hidden for c in cached], batch_first=True)
    projected = model.project(patches[torch.tensor([p for _, _, p in batch])])
    memory = model.word_memory(projected, [e.entries for e, _, _ in batch])
    assert model.words is not None
    body = model.decoder_body
    with model.attend_to(memory):  # the word layers only (fusion.FusionModel.attend_to)
        hidden = body.norm(run_blocks(model, hidden, model.words.blocks[0], len(body.layers)))
    rows = torch.cat([torch.full((len(c.targets),), b) for b, c in enumerate(cached)])
    cols = torch.cat([torch.arange(len(c.targets)) + c.start for c in cached])
    targets = torch.cat([c.targets for c in cached])
    logits = model.lm_head(hidden[rows, cols])
    loss = F.cross_entropy(logits, targets)
    hits = (logits.argmax(-1) == targets).float()
    per_example = torch.stack([h.all() for h in hits.split([len(c.targets) for c in cached])])
    return loss, per_example.float().mean().item()


def batched_texts(
    model: FusionModel,
    pairs: list[tuple[str, str]],
    systems: Sequence[str | None],
    first: int,
    batch: int = 32,
) -> tuple[list[CachedText], dict[tuple[int, str, str], int]]:
    """frozen.cache_texts' result, each whole text run in right-padded batches, through the
    blocks below `first` only: every answer here is its own, so shared-prefix KV caches save
    little."""
    import torch

    rows = [(s, q, a) for s in range(len(systems)) for q, a in pairs]
    texts: list[CachedText] = []
    index: dict[tuple[int, str, str], int] = {}
    for n in range(0, len(rows), batch):
        chunk = rows[n : n + batch]
        prompts = [prompt_ids(model.tokenizer, q, systems[s]) for s, q, _ in chunk]
        targets = [answer_ids(model.tokenizer, a) for _, _, a in chunk]
        ids = [p + t[:-1] for p, t in zip(prompts, targets, strict=True)]
        padded = torch.nn.utils.rnn.pad_sequence(
            [torch.tensor(i) for i in ids], batch_first=True, padding_value=0
        )
        with torch.no_grad():  # causal: padding after a text never reaches it
            hidden = run_blocks(model, model.embed_tokens(padded), 0, first)  # none above
        for b, (row, p, t, i) in enumerate(zip(chunk, prompts, targets, ids, strict=True)):
            index[row] = len(texts)
            texts.append(CachedText(hidden[b, : len(i)].clone(), torch.tensor(t), len(p) - 1))
    return texts, index


def build_examples(
    model: FusionModel, samples: list[Sample], log: Callable[[str], None], system_prompts: int = 3
) -> tuple[list[CachedText], list[Example]]:
    pairs = sorted({(s.question, s.answer) for s in samples})
    started = time.perf_counter()
    assert model.words is not None
    texts, index = batched_texts(
        model, pairs, SYSTEM_PROMPTS[:system_prompts], model.words.blocks[0]
    )
    log(f"cached {len(texts)} texts in {time.perf_counter() - started:.1f} s")
    examples = [
        Example(s.entries, tuple(index[(i, s.question, s.answer)] for i in range(system_prompts)))
        for s in samples
    ]
    return texts, examples


def param_groups(reader: WordReader, lr: float) -> list[dict[str, Any]]:
    """The gates learn fastest (as the easy-vqa layers' do, cross_attention._param_groups):
    at zero they hold back every other weight's gradient."""
    named = list(reader.named_parameters())
    gates = [p for n, p in named if n.endswith("gate")]
    rest = [p for n, p in named if not n.endswith("gate")]
    return [
        {"params": rest, "lr": lr, "weight_decay": 0.01},
        {"params": gates, "lr": lr * 30, "weight_decay": 0.0},
    ]


def diagnosis(
    model: FusionModel, texts: list[CachedText], patches: torch.Tensor, batch: list[Any]
) -> dict[str, float]:
    """The answers' loss (nats a token) on `batch` four ways: the plain decoder; through the
    easy-vqa layers with the pictures' patches but no words, readout kept and left out; and
    through the word layers as they stand."""
    import torch
    import torch.nn.functional as F

    cached = [texts[e.texts[s]] for e, s, _ in batch]
    first = min(model.config.cross_layers)
    base = texts_at(model, cached, first)
    rows = torch.cat([torch.full((len(c.targets),), b) for b, c in enumerate(cached)])
    cols = torch.cat([torch.arange(len(c.targets)) + c.start for c in cached])
    targets = torch.cat([c.targets for c in cached])
    body = model.decoder_body

    def loss(hidden: torch.Tensor) -> float:
        logits = model.lm_head(body.norm(hidden)[rows, cols])
        return round(F.cross_entropy(logits, targets).item(), 3)

    figures: dict[str, float] = {}
    projected = model.project(patches[torch.tensor([p for _, _, p in batch])])
    top = str(len(body.layers))
    with torch.no_grad():
        figures["decoder alone"] = loss(run_blocks(model, base, first, len(body.layers)))
        with model.attend_to(projected):
            figures["easy-vqa layers, patches"] = loss(
                run_blocks(model, base, first, len(body.layers))
            )
        if top in model.adapter.cross:
            readout = model.adapter.cross.pop(top)
            try:
                with model.attend_to(projected):
                    figures["easy-vqa layers, patches, no readout"] = loss(
                        run_blocks(model, base, first, len(body.layers))
                    )
            finally:
                model.adapter.cross[top] = readout
    words_loss, _ = batch_loss(model, texts, patches, batch)
    figures["word layers, patches and words"] = round(words_loss.item(), 3)
    return figures


def texts_at(model: FusionModel, cached: list[CachedText], first: int) -> torch.Tensor:
    """(B, S, D) right-padded hidden states entering block `first`, from texts cached at the
    word layers' first block (run on through the frozen blocks between)."""
    import torch

    assert model.words is not None
    hidden = torch.nn.utils.rnn.pad_sequence([c.hidden for c in cached], batch_first=True)
    with torch.no_grad():
        return run_blocks(model, hidden, model.words.blocks[0], first)


def train_word_memory(
    init: Path,
    out_dir: Path,
    *,
    steps: int = 400,
    batch_size: int = 16,
    lr: float = 2e-3,
    seed: int = 0,
    samples: int = 900,
    distill_prompts: int = 16,
    distill_share: float = 0.15,
    held_out_samples: int = 32,
    system_prompts: int = 3,
    threads: int = 2,
    blocks: Sequence[int] = WORD_BLOCKS,
    diagnose: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train a word reader for the fusion model in `init`; save the folder to `out_dir`
    (the same layers, plus the reader). Returns the stage's record for training.json."""
    import torch

    from mmchat.engine.fusion import FusionModel
    from mmchat.training.relevance_data import NOT_ABOUT_IMAGE

    started = time.perf_counter()
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = FusionModel.from_pretrained(init)
    reader = model.new_word_reader(blocks)
    train_nouns, held_nouns, train_words, held_words = split_vocabulary(rng)
    sampler = WordSampler(rng, train_nouns, train_words)
    picked = [sampler.sample() for _ in range(samples)]
    held = WordSampler(random.Random(seed + 1), held_nouns, held_words)
    held_out = [held.sample() for _ in range(held_out_samples)]
    prompts = rng.sample(list(NOT_ABOUT_IMAGE), distill_prompts)
    teacher = teacher_answers(model, prompts, tokens=24)
    distilled = [
        Sample(tuple(sampler.entries(rng.random() < 0.3)), p, a)
        for p, a in zip(prompts, teacher, strict=True)
    ]
    log(f"{len(picked)} word samples, {len(distilled)} self-distilled, {len(held_out)} held out")
    patches = distractor_patches(model, random.Random(seed), log)
    # The first system prompt is none at all, as the default persona sends: the way an answer
    # through the memory runs in the app. The others make the projector robust to personas.
    texts, examples = build_examples(model, picked + distilled + held_out, log, system_prompts)
    words_ex = examples[: len(picked)]
    distill_ex = examples[len(picked) : len(picked) + len(distilled)]
    held_ex = examples[len(picked) + len(distilled) :]
    before = diagnosis(
        model, texts, patches, [(e, 0, n % len(patches)) for n, e in enumerate(held_ex)]
    )
    log(f"before training: {before}")
    if diagnose:
        return {"stage": "word memory (diagnosis only)", "held_out_before": before}
    prepared = time.perf_counter()

    def draw(pool: list[Example], n: int) -> list[tuple[Example, int, int]]:
        weights = SYSTEM_WEIGHTS[:system_prompts]
        systems = rng.choices(range(system_prompts), weights=weights, k=n)
        return [(rng.choice(pool), s, rng.randrange(len(patches))) for s in systems]

    reader.train()
    groups = param_groups(reader, lr)
    optimiser = torch.optim.AdamW(groups, lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=[g["lr"] for g in groups], total_steps=steps, pct_start=0.1
    )
    n_distill = max(1, round(batch_size * distill_share))

    def loss_at(step: int) -> tuple[torch.Tensor, float]:
        batch = draw(words_ex, batch_size - n_distill) + draw(distill_ex, n_distill)
        return batch_loss(model, texts, patches, batch)

    def save(step: int) -> None:
        if step % 20 == 0:
            _save(model, init, out_dir)  # a usable folder even if the run is cut short

    parameters = list(reader.parameters())
    run = run_steps(steps, loss_at, parameters, optimiser, schedule, log, save)
    reader.eval()
    trained = time.perf_counter()
    with torch.no_grad():
        held_loss, held_acc = batch_loss(model, texts, patches, [(e, 0, 0) for e in held_ex])
    _save(model, init, out_dir)
    return {
        "stage": "word memory",
        "trained": "word projector and word layers (easy-vqa layers frozen, bypassed)",
        "word_blocks": reader.blocks,
        "held_out_before": before,
        "gates_after": {
            n: round(math.tanh(p.item()), 4) for n, p in reader.named_parameters() if "gate" in n
        },
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "system_prompts": system_prompts,
        "word_samples": len(picked),
        "texts_cached": len(texts),
        "self_distilled_prompts": len(distilled),
        "self_distilled_share": round(n_distill / batch_size, 3),
        "distractor_pictures": int(patches.shape[0]),
        "held_out_samples": len(held_out),
        "held_out_nouns": len(held_nouns),
        "final_loss": run.final_loss,
        "final_batch_accuracy": run.final_batch_accuracy,
        "held_out_loss": round(held_loss.item(), 5),
        "held_out_accuracy": round(held_acc, 4),
        "prepare_seconds": round(prepared - started, 1),
        "train_seconds": round(trained - prepared, 1),
        "total_seconds": round(time.perf_counter() - started, 1),
        "threads": threads,
        "parameters": sum(p.numel() for p in reader.parameters()),
    }


def train_into(
    folder: Path,
    *,
    init: Path | None,
    threads: int = 0,
    log: Callable[[str], None] = print,
    **settings: Any,
) -> dict[str, Any]:
    """The recipe's stage (training.recipe.Trainer): the projector trained on the fusion folder
    `init` and saved into `folder` beside a copy of it."""
    if init is None:
        raise ValueError("the word-memory stage trains on a trained fusion folder: give it init")
    return train_word_memory(init, folder, threads=threads or 2, log=log, **settings)


def _save(model: FusionModel, init: Path, out_dir: Path) -> None:
    """The init folder's files, with the projector beside them."""
    import shutil

    assert model.words is not None
    out_dir.mkdir(parents=True, exist_ok=True)
    if init.resolve() != out_dir.resolve():
        for path in init.iterdir():
            if path.is_file():
                shutil.copy2(path, out_dir / path.name)
    model.words.save(out_dir)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init", type=Path, required=True, help="a trained fusion folder")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=900)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--system-prompts", type=int, default=3, choices=(1, 2, 3), help="of easy_vqa's three"
    )
    parser.add_argument(
        "--blocks", type=int, nargs="+", default=list(WORD_BLOCKS), help="word layers' blocks"
    )
    parser.add_argument(
        "--diagnose", action="store_true", help="print the held-out losses before training; stop"
    )
    args = parser.parse_args(argv)

    def log(line: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)

    record = train_word_memory(
        args.init,
        args.out,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        samples=args.samples,
        system_prompts=args.system_prompts,
        threads=args.threads,
        blocks=args.blocks,
        diagnose=args.diagnose,
        log=log,
    )
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
