"""Visual words as tokens of the fusion model's cross-attended memory (LENS through the fusion).

    VisualWords -> entries [(text, kind, probability)]: labels, then colours, then text lines
        -> each entry's text: the mean of the decoder's own (frozen) input embeddings (W, 576)
        -> WordProjector: + kind and probability -> one memory token per word layer (W, L, 576)
        -> each WordCrossAttention (before its decoder block) attends to [patch tokens; its
           word tokens], its tanh gate starting at zero

A turn with words runs these word layers only: the easy-vqa-trained cross layers and the
readout after the last block are bypassed. Measured (mmchat/training/word_memory.py's
--diagnose): with distractor patches and no words at all, those layers alone put the
answers' loss at 25.9 nats a token (readout kept) and 13.2 (readout left out), against 4.3
for the plain decoder: trained to turn anything into easy-vqa's words, they wreck every
other answer, which no projector in front of them can undo. The word layers are new, so
easy-vqa's turns (patches only) and text turns (no memory) run exactly as before.
"""

from __future__ import annotations

import json
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
# The word layers run before these decoder blocks. Below the first, nothing depends on the
# picture (training caches the hidden states there); the lower, the more blocks read what
# the layers add, and the slower training runs on a CPU.
WORD_BLOCKS = (24, 27)
WORD_HEADS = 9
# The easy-vqa layers' scale (fusion.FusionConfig.residual_scale: the residual stream's RMS
# at block 28 is ~25), so a small update counts once its gate opens.
WORD_SCALE = 96.0
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
    one for each of the L word layers (each layer reads its own)."""

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


class WordCrossAttention(nn.Module):
    """Text hidden states attend to the memory (patches, then words); a tanh gate, zero at
    init, scales what is added, so a fresh layer changes nothing. No MLP: an MLP rewrites
    every token whatever the memory holds, which is how the easy-vqa layers learned to answer
    from the wording alone."""

    def __init__(self, width: int, heads: int, scale: float) -> None:
        super().__init__()
        self.heads, self.scale = heads, scale
        self.norm = nn.LayerNorm(width)
        self.memory_norm = nn.LayerNorm(width)  # patches (RMS ~1.3) and words differ in scale
        self.q_proj = nn.Linear(width, width, bias=False)
        self.k_proj = nn.Linear(width, width, bias=False)
        self.v_proj = nn.Linear(width, width, bias=False)
        self.o_proj = nn.Linear(width, width, bias=False)
        self.gate = nn.Parameter(torch.zeros(1))

    def forward(
        self, hidden: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        # hidden (B, S, D); memory (B or 1, T, D); mask (B, T) of the keys to read, or None
        if memory.shape[0] != hidden.shape[0]:
            memory = memory.expand(hidden.shape[0], -1, -1)
        memory = self.memory_norm(memory)

        def split(x: torch.Tensor) -> torch.Tensor:  # (B, L, D) -> (B, H, L, D/H)
            return x.view(x.shape[0], x.shape[1], self.heads, -1).transpose(1, 2)

        attn_mask = mask[:, None, None, :] if mask is not None else None
        out = F.scaled_dot_product_attention(
            split(self.q_proj(self.norm(hidden))),
            split(self.k_proj(memory)),
            split(self.v_proj(memory)),
            attn_mask=attn_mask,
        )
        update = self.o_proj(out.transpose(1, 2).reshape(hidden.shape))
        result: torch.Tensor = hidden + torch.tanh(self.gate) * self.scale * update
        return result


class WordReader(nn.Module):
    """The word projector and the word layers it feeds: what a folder's word_memory file holds."""

    def __init__(
        self,
        width: int,
        blocks: Sequence[int] = WORD_BLOCKS,
        heads: int = WORD_HEADS,
        scale: float = WORD_SCALE,
    ) -> None:
        super().__init__()
        self.blocks = sorted(blocks)
        self.heads, self.scale = heads, scale
        self.projector = WordProjector(width, len(self.blocks))
        self.cross = nn.ModuleDict(
            {str(b): WordCrossAttention(width, heads, scale) for b in self.blocks}
        )

    def forward(
        self, embedded: torch.Tensor, kinds: torch.Tensor, probability: torch.Tensor
    ) -> torch.Tensor:
        result: torch.Tensor = self.projector(embedded, kinds, probability)
        return result

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        state = {k: v.detach().half().contiguous() for k, v in self.state_dict().items()}
        metadata = {
            "format": "pt",
            "blocks": json.dumps(self.blocks),
            "heads": str(self.heads),
            "scale": str(self.scale),
        }
        save_file(state, str(folder / WORDS_NAME), metadata=metadata)

    @classmethod
    def load(cls, folder: Path, width: int) -> WordReader | None:
        """The trained word reader from `folder`, or None where it has none (or only a
        projector of the earlier layout, which fed the easy-vqa layers and never learned)."""
        from safetensors import safe_open
        from safetensors.torch import load_file

        path = folder / WORDS_NAME
        if not path.is_file():
            return None
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        if "blocks" not in metadata:
            return None
        reader = cls(
            width,
            json.loads(metadata["blocks"]),
            int(metadata["heads"]),
            float(metadata["scale"]),
        )
        state = load_file(str(path))
        reader.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
        return reader.eval()


@dataclass
class Memory:
    """What the cross layers attend to: patch tokens (B or 1, T, D), then word tokens
    (B, W, L, D) with a (B, W) mask of the real ones (None: all are). With words, only the
    word layers read it (layer l: the l-th of WordReader.blocks)."""

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
        rows.append(embed.weight[torch.tensor(ids, device=embed.weight.device)].mean(0))
    return torch.stack(rows)


def word_tensors(
    embed: nn.Embedding, tokenizer: Any, batch: Sequence[Sequence[WordEntry]]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded (B, W, D) embeddings, (B, W) kinds, (B, W) probabilities, (B, W) mask."""
    width = max(1, max(len(entries) for entries in batch))
    dim = embed.weight.shape[1]
    # Where the decoder is, in its float dtype: on a GPU in bf16 too.
    device, dtype = embed.weight.device, embed.weight.dtype
    embedded = torch.zeros(len(batch), width, dim, dtype=dtype, device=device)
    kinds = torch.zeros(len(batch), width, dtype=torch.long, device=device)
    probability = torch.zeros(len(batch), width, dtype=dtype, device=device)
    mask = torch.zeros(len(batch), width, dtype=torch.bool, device=device)
    for b, entries in enumerate(batch):
        if not entries:
            continue
        n = len(entries)
        embedded[b, :n] = entry_embeddings(embed, tokenizer, [e.text for e in entries])
        kinds[b, :n] = torch.tensor([KINDS.index(e.kind) for e in entries], device=device)
        probability[b, :n] = torch.tensor([e.probability for e in entries], device=device)
        mask[b, :n] = True
    return embedded, kinds, probability, mask
