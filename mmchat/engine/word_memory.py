"""Visual words as tokens of the fusion model's cross-attended memory (LENS through the fusion).

    VisualWords -> entries [(text, kind, probability)]: labels, then colours, then text lines
        -> each entry's text: the mean of the decoder's own (frozen) input embeddings (W, 576)
        -> WordProjector: + kind and probability -> one memory token per cross layer (W, L, 576)
        -> each cross layer attends to [patch tokens; its word tokens]

The cross layers themselves stay as easy-vqa trained them; only the projector is trained
(mmchat/training/word_memory.py), so a turn without words runs exactly as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from mmchat.engine.vision.words import VisualWords

WORDS_NAME = "word_memory.safetensors"
WordKind = Literal["label", "colour", "text"]
KINDS: tuple[WordKind, ...] = ("label", "colour", "text")
# How many of each kind reach the memory: the classifier's next guesses, a photo's few main
# colours, the first lines read. Below MIN_LABEL a label is noise.
MAX_LABELS = 3
MAX_COLOURS = 3
MAX_LINES = 4
MIN_LABEL = 0.05


@dataclass(frozen=True)
class WordEntry:
    text: str
    kind: WordKind
    probability: float  # label: the classifier's; colour: its share; text: the reader's


def word_entries(words: VisualWords) -> list[WordEntry]:
    """The words that become memory tokens, in a fixed order: labels, colours, text lines."""
    labels = [o for o in words.objects if o.score >= MIN_LABEL][:MAX_LABELS]
    entries = [WordEntry(o.name, "label", o.score) for o in labels]
    entries += [WordEntry(c.name, "colour", c.share) for c in words.colors[:MAX_COLOURS]]
    entries += [WordEntry(t.text, "text", t.score) for t in words.text[:MAX_LINES]]
    return entries


class WordProjector(nn.Module):
    """(B, W, D) mean token embeddings + kinds + probabilities -> (B, W, L, D) memory tokens,
    one for each of the L cross layers (each layer's frozen keys and values read its own)."""

    def __init__(self, width: int, layers: int) -> None:
        super().__init__()
        self.layers = layers
        hidden = 2 * width
        # The decoder's input embeddings are tiny (RMS ~0.02): normalised, then projected.
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, hidden)
        self.kind = nn.Embedding(len(KINDS), hidden)
        self.probability = nn.Linear(1, hidden)
        self.fc2 = nn.Linear(hidden, width * layers)

    def forward(
        self, embedded: torch.Tensor, kinds: torch.Tensor, probability: torch.Tensor
    ) -> torch.Tensor:
        # embedded (B, W, D); kinds (B, W) int; probability (B, W) float
        h = self.fc1(self.norm(embedded)) + self.kind(kinds)
        h = h + self.probability(probability.unsqueeze(-1))
        out = self.fc2(F.gelu(h))  # (B, W, L * D)
        result: torch.Tensor = out.view(*out.shape[:2], self.layers, -1)
        return result

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        state = {k: v.detach().half().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(folder / WORDS_NAME), metadata={"format": "pt"})

    @classmethod
    def load(cls, folder: Path, width: int, layers: int) -> WordProjector | None:
        """The trained projector from `folder`, or None where it has none."""
        from safetensors.torch import load_file

        path = folder / WORDS_NAME
        if not path.is_file():
            return None
        projector = cls(width, layers)
        state = load_file(str(path))
        projector.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
        return projector.eval()


@dataclass
class Memory:
    """What the cross layers attend to: patch tokens (B or 1, T, D), then word tokens
    (B, W, L, D) with a (B, W) mask of the real ones (None: all are)."""

    patches: torch.Tensor
    words: torch.Tensor | None = None
    mask: torch.Tensor | None = None

    def for_layer(self, layer: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Layer `layer`'s (B, T + W, D) memory and its (B, T + W) key mask, or None."""
        if self.words is None:
            return self.patches, None
        words = self.words[:, :, layer]
        patches = self.patches.expand(words.shape[0], -1, -1)
        if self.mask is None:
            return torch.cat([patches, words], dim=1), None
        seen = torch.ones(patches.shape[:2], dtype=torch.bool, device=patches.device)
        return torch.cat([patches, words], dim=1), torch.cat([seen, self.mask], dim=1)


def entry_embeddings(embed: nn.Embedding, tokenizer: Any, texts: Sequence[str]) -> torch.Tensor:
    """(N, D): each text's mean input-token embedding (a leading space, as in running text)."""
    rows = []
    for text in texts:
        ids = tokenizer.encode(" " + text.strip()[:200], add_special_tokens=False) or [0]
        rows.append(embed.weight[torch.tensor(ids)].mean(0))
    return torch.stack(rows)


def word_tensors(
    embed: nn.Embedding, tokenizer: Any, batch: Sequence[Sequence[WordEntry]]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded (B, W, D) embeddings, (B, W) kinds, (B, W) probabilities, (B, W) mask."""
    width = max(1, max(len(entries) for entries in batch))
    dim = embed.weight.shape[1]
    embedded = torch.zeros(len(batch), width, dim, dtype=embed.weight.dtype)
    kinds = torch.zeros(len(batch), width, dtype=torch.long)
    probability = torch.zeros(len(batch), width)
    mask = torch.zeros(len(batch), width, dtype=torch.bool)
    for b, entries in enumerate(batch):
        if not entries:
            continue
        n = len(entries)
        embedded[b, :n] = entry_embeddings(embed, tokenizer, [e.text for e in entries])
        kinds[b, :n] = torch.tensor([KINDS.index(e.kind) for e in entries])
        probability[b, :n] = torch.tensor([e.probability for e in entries])
        mask[b, :n] = True
    return embedded, kinds, probability, mask
