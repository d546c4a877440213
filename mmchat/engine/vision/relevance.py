"""The relevance gate: is a message about the picture in the conversation, or not?

Flamingo's tanh gates keep a frozen language model unchanged until training opens them; once
open, they let the picture into every turn, so a conversation that once held a picture answered
"What is the capital of France?" with a colour word. This gate is conditioned on the message:
a logistic regression over the decoder's own hidden states (mean over the message's tokens at
one block). Below the threshold the turn runs as if no picture were there, so its answer is the
text-only decoder's, token for token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

FILE_NAME = "relevance.safetensors"

# Token ids, blocks -> [T, width] hidden states, or None where it cannot read them: the CPU's
# int8 fast path (FastLlama.states), which the shipped gate was trained on.
StatesReader = Callable[[list[int], int], torch.Tensor | None]


@dataclass
class RelevanceGate:
    layer: int  # hidden_states index: 0 is the embeddings, n the output of block n
    mean: torch.Tensor  # (width,) standardisation of the training messages' states
    std: torch.Tensor
    weight: torch.Tensor  # (width,)
    bias: float
    threshold: float = 0.5

    def probability(
        self, decoder: Any, tokenizer: Any, text: str, reader: StatesReader | None = None
    ) -> float:
        """p(the message is about the picture) for one message's text (its states from
        `reader` where it reads them, else from `decoder`)."""
        states = message_states(decoder, tokenizer, [text], self.layer, reader)
        return float(self.probabilities(states)[0])

    def probabilities(self, states: torch.Tensor) -> torch.Tensor:
        """(N, width) mean hidden states -> (N,) probabilities."""
        z = (states.float().to(self.mean.device) - self.mean) / self.std
        return torch.sigmoid(z @ self.weight + self.bias)

    def about_image(
        self, decoder: Any, tokenizer: Any, text: str, reader: StatesReader | None = None
    ) -> bool:
        return self.probability(decoder, tokenizer, text, reader) >= self.threshold

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        tensors = {"mean": self.mean, "std": self.std, "weight": self.weight}
        metadata = {
            "layer": str(self.layer),
            "bias": repr(self.bias),
            "threshold": repr(self.threshold),
        }
        save_file(
            {k: v.float().contiguous() for k, v in tensors.items()},
            str(folder / FILE_NAME),
            metadata=metadata,
        )

    @classmethod
    def load(cls, folder: Path) -> RelevanceGate | None:
        """The gate saved beside a fusion model, or None for a model trained without one."""
        from safetensors import safe_open

        path = folder / FILE_NAME
        if not path.is_file():
            return None
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata()
            tensors = {k: handle.get_tensor(k) for k in ("mean", "std", "weight")}
        return cls(
            layer=int(meta["layer"]),
            bias=float(meta["bias"]),
            threshold=float(meta["threshold"]),
            **tensors,
        )


class _Enough(Exception):
    """Raised by a hook once the block the gate reads has run: the rest is not needed."""


def message_states(
    decoder: Any,
    tokenizer: Any,
    texts: list[str],
    layer: int,
    reader: StatesReader | None = None,
) -> torch.Tensor:
    """(N, width): each text's hidden states after `layer` blocks, averaged over its tokens.

    The message alone, without the chat template: the gate asks what the words are about,
    not where they sit in the conversation. `reader` (the CPU's int8 fast path) reads them in
    ~8 ms where transformers' fp32 forward takes ~40 ms; without it, or where it cannot, the
    forward stops after block `layer` (a hook raises once it has the states), so the gate
    costs 12 of the 30 blocks on a turn.
    """
    if reader is not None:
        read = [reader(_ids(tokenizer, text)[0].tolist(), layer) for text in texts]
        rows = [row.float().mean(dim=0) for row in read if row is not None]
        if len(rows) == len(texts):
            return torch.stack(rows)
    if layer == 0:
        return torch.stack([_embeddings(decoder, tokenizer, text) for text in texts])
    captured: list[torch.Tensor] = []

    def keep(module: Any, args: Any, output: Any) -> None:
        captured.append(output[0] if isinstance(output, tuple) else output)
        raise _Enough

    handle = decoder.model.layers[layer - 1].register_forward_hook(keep)
    rows = []
    try:
        for text in texts:
            captured.clear()
            with torch.inference_mode():
                try:
                    decoder.model(input_ids=_ids(tokenizer, text).to(decoder.device))
                except _Enough:
                    pass
            rows.append(captured[0][0].float().mean(dim=0))
    finally:
        handle.remove()
    return torch.stack(rows)


def _ids(tokenizer: Any, text: str) -> torch.Tensor:
    ids = tokenizer(text or " ", add_special_tokens=False, return_tensors="pt").input_ids
    result: torch.Tensor = ids[:, :256]
    return result


def _embeddings(decoder: Any, tokenizer: Any, text: str) -> torch.Tensor:
    with torch.inference_mode():
        result: torch.Tensor = (
            decoder.model.embed_tokens(_ids(tokenizer, text).to(decoder.device))[0]
            .float()
            .mean(dim=0)
        )
        return result
