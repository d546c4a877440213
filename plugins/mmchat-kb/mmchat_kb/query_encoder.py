"""One question's embedding through BERT's layers called directly, for the search path.

A search embeds one short text, where sentence-transformers' and transformers' general
machinery (batching, padding masks, module hooks, output objects) costs as much as the
arithmetic: all-MiniLM-L6-v2 on one thread took p50 25 ms per question through
`SentenceTransformer.encode` and 15-18 ms here, with the same vector (max difference 6e-8).
Written by hand because neither library offers a lighter call for one text; it applies only
to the exact shape it was checked on (a BERT with absolute positions and GELU, mean pooling,
normalisation) and anything else goes through `encode`. Ingest keeps `encode`: batches of
chunks are arithmetic-bound already.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import torch


class LeanBertEncoder:
    def __init__(self, model: Any) -> None:
        transformer = model[0]
        self.tokenizer = transformer.tokenizer
        self.max_length = int(model.max_seq_length or 512)
        bert = transformer.auto_model
        config = bert.config
        self.width, self.heads = config.hidden_size, config.num_attention_heads
        embeddings = bert.embeddings
        self.words = embeddings.word_embeddings.weight.detach()
        self.positions = embeddings.position_embeddings.weight.detach()
        self.token_type = embeddings.token_type_embeddings.weight.detach()[0]
        self.embedding_norm = _norm(embeddings.LayerNorm)
        self.layers = [_layer(layer) for layer in bert.encoder.layer]

    @staticmethod
    def fits(model: Any) -> bool:
        """Whether `model` is the shape this forward reproduces exactly."""
        if [type(m).__name__ for m in model] != ["Transformer", "Pooling", "Normalize"]:
            return False
        pooling = model[1].get_config_dict()
        bert = getattr(model[0], "auto_model", None)
        config = getattr(bert, "config", None)
        return (
            type(bert).__name__ == "BertModel"
            and not getattr(model[0], "do_lower_case", False)
            and pooling.get("pooling_mode") == "mean"
            and getattr(config, "position_embedding_type", "absolute") == "absolute"
            and getattr(config, "hidden_act", None) == "gelu"
        )

    def encode(self, text: str) -> np.ndarray:
        """The unit-length float32 embedding of `text`, truncated as the model truncates."""
        import torch
        import torch.nn.functional as F

        ids = self.tokenizer(text, truncation=True, max_length=self.max_length)["input_ids"]
        count, width = len(ids), self.width
        with torch.inference_mode():
            x = self.words[torch.tensor(ids)] + self.positions[:count] + self.token_type
            x = F.layer_norm(x, (width,), *self.embedding_norm)
            for (
                qkv,
                qkv_bias,
                out,
                out_bias,
                norm1,
                up,
                up_bias,
                down,
                down_bias,
                norm2,
            ) in self.layers:
                q, k, v = F.linear(x, qkv, qkv_bias).view(count, 3, self.heads, -1).unbind(1)
                attended = F.scaled_dot_product_attention(
                    q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
                )
                attended = attended.transpose(0, 1).reshape(count, width)
                x = F.layer_norm(F.linear(attended, out, out_bias) + x, (width,), *norm1)
                hidden = F.gelu(F.linear(x, up, up_bias))
                x = F.layer_norm(F.linear(hidden, down, down_bias) + x, (width,), *norm2)
            return F.normalize(x.mean(0), dim=0).numpy().astype("float32")


def _norm(layer: Any) -> tuple[torch.Tensor, torch.Tensor, float]:
    return layer.weight.detach(), layer.bias.detach(), float(layer.eps)


def _layer(layer: Any) -> tuple[Any, ...]:
    import torch

    attention = layer.attention.self
    projections = (attention.query, attention.key, attention.value)
    return (
        torch.cat([p.weight.detach() for p in projections]),
        torch.cat([p.bias.detach() for p in projections]),
        layer.attention.output.dense.weight.detach(),
        layer.attention.output.dense.bias.detach(),
        _norm(layer.attention.output.LayerNorm),
        layer.intermediate.dense.weight.detach(),
        layer.intermediate.dense.bias.detach(),
        layer.output.dense.weight.detach(),
        layer.output.dense.bias.detach(),
        _norm(layer.output.LayerNorm),
    )
