"""Stage: train the cross-attention layers inserted between decoder blocks, on easy-vqa.

Decoder and encoder stay frozen. Three caches make a 2-core CPU enough:
- encoder features, pooled to 17 tokens, once per image (saved in the cache dir);
- the hidden states entering the first cross-attention block, once per (system prompt,
  question, answer) text: easy-vqa's questions are templated (273 pairs), and below that block
  nothing depends on the image;
- the LM head runs only at answer positions.
Each step then runs only the upper decoder blocks, with the same hooks `attend_to` uses.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmchat.training.easy_vqa import (
    SYSTEM_PROMPTS,
    SYSTEM_WEIGHTS,
    answer_kind,
    kind_weights,
    read_split,
)
from mmchat.training.frozen import (
    CachedText,
    auto_threads,
    cache_texts,
    encode_split,
    fit_standardisation,
    run_blocks,
)
from mmchat.training.steps import run_steps

if TYPE_CHECKING:  # torch loads only when training runs, never when the CLI starts
    import torch

    from mmchat.engine.fusion import FusionModel


@dataclass(frozen=True)
class Example:
    image_id: int
    text: int  # index into the cached texts


def upper_blocks(model: FusionModel, hidden: torch.Tensor) -> torch.Tensor:
    """From the first cross-attention block to the top, then the final norm."""
    first = min(model.config.cross_layers)
    body = model.decoder_body
    return body.norm(run_blocks(model, hidden, first, len(body.layers)))


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
    logits = model.lm_head(hidden[rows, cols])  # (answer tokens, vocab)
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


def train(
    out_dir: Path,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    images: int,
    yes_no_share: float,
    init: Path | None = None,
    threads: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train the cross-attention layers, save them to `out_dir`, return the run's figures.

    With `init` it continues from that fusion folder; otherwise the new layers start zero-gated.
    The settings have no defaults here: `recipe.SHIPPED_RECIPE` holds the shipped ones.
    """
    import torch

    from mmchat.engine.fusion import FusionConfig, FusionModel

    started = time.perf_counter()
    torch.set_num_threads(threads or auto_threads())
    log(f"using {torch.get_num_threads()} threads")
    random.seed(seed)
    torch.manual_seed(seed)
    rng = random.Random(seed)
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
    )
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

    def loss_at(step: int) -> tuple[torch.Tensor, float]:
        batch = build_examples(questions, index, rng, batch_size, yes_no_share)
        return batch_loss(model, texts, features, batch)

    def save(step: int) -> None:
        if checkpoint is not None and step % 50 == 0:
            model.save_pretrained(checkpoint)  # a usable model even if the run is cut short

    parameters = list(model.adapter.parameters())
    trained = run_steps(steps, loss_at, parameters, optimiser, schedule, log, save)
    model.adapter.eval()
    return {
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "train_seconds": trained.train_seconds,
        "final_loss": trained.final_loss,
        "final_batch_accuracy": trained.final_batch_accuracy,
    }
