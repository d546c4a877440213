"""mmchat's own vision-language model: a frozen GPT decoder reads a frozen vision encoder's
features through gated cross-attention layers inserted before some decoder blocks (Flamingo).

    image -> Dinov2 (B, 257, 384) -> CLS + 16x16 grid pooled to 4x4 = (B, 17, 384)
          -> projector (B, 17, 576) -> each GatedCrossAttention: text (B, S, 576) attends to it
          -> (the shipped default) a ReadoutCrossAttention after the last block, trained in a
             second stage, compares the asked color or shape with the seen one (yes/no)

The gates are tanh(alpha) with alpha starting at zero, so a fresh model is exactly the plain
decoder. The cross-attention runs as forward pre-hooks that exist only inside `attend_to(...)`:
outside it the decoder is untouched, and plain `decoder.generate(..., streamer=...)` serves
text and images alike. Only the new weights (projector + cross-attention) are saved.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import torch
import torch.nn.functional as F
from torch import nn

from mmchat.engine.placement import Target
from mmchat.engine.vision.relevance import RelevanceGate
from mmchat.engine.word_memory import WORD_BLOCKS, Memory, WordEntry, WordReader, word_tensors

if TYPE_CHECKING:
    from PIL.Image import Image
    from transformers import Dinov2Model, PreTrainedModel

MODEL_TYPE = "mmchat-fusion"
WEIGHTS_NAME = "fusion.safetensors"
PACKAGED_DECODER = "packaged:smollm2"
PACKAGED_ENCODER = "packaged:vit-s14"
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "assets" / "fusion-default"


@dataclass
class FusionConfig:
    decoder: str = PACKAGED_DECODER  # "packaged:smollm2" or a transformers causal-LM folder
    encoder: str = PACKAGED_ENCODER  # "packaged:vit-s14" or a transformers Dinov2 folder
    # A cross-attention layer runs before each of these decoder blocks; the number of blocks
    # itself means after the last one, before the final norm. Upper blocks only: the hidden
    # states entering the first one depend on the text alone (cacheable in training).
    cross_layers: list[int] = field(default_factory=lambda: [28, 29])
    text_width: int = 576  # decoder hidden size
    vision_width: int = 384  # encoder hidden size
    num_heads: int = 9
    mlp_ratio: float = 2.0  # 0 disables the gated MLP after each cross-attention
    pool_grid: int = 4  # patch grid pooled to pool_grid x pool_grid; tokens = that + CLS
    norm_eps: float = 1e-5
    # The decoder's residual stream at blocks 28-29 has an RMS of ~25 (measured), a freshly
    # initialised update ~0.1, so the gates barely opened and the image went unused. Batch
    # accuracy after 150 steps: x24 0.64-0.69, x96 0.73 (0.90 after 400).
    residual_scale: float = 96.0
    # After the last block the residual's RMS is ~170, single channels near 3,000 (measured):
    # the layer there (ReadoutCrossAttention) needs a larger scale for its update to count.
    top_residual_scale: float = 640.0

    @property
    def vision_tokens(self) -> int:
        return self.pool_grid * self.pool_grid + 1

    def to_dict(self) -> dict[str, Any]:
        return {"model_type": MODEL_TYPE, **asdict(self)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FusionConfig:
        if raw.get("model_type") != MODEL_TYPE:
            raise ValueError(f"not an {MODEL_TYPE} config: model_type={raw.get('model_type')!r}")
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class VisionProjector(nn.Module):
    """Pooled encoder tokens (B, T, 384) -> decoder-width vision tokens (B, T, 576)."""

    # Buffers (register_buffer), declared for the type checker: nn.Module's __getattr__ types
    # them as `Tensor | Module`.
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        # Per-channel statistics of the training images' features (set by training): what all
        # images share dominates raw encoder features and drowned out what tells them apart.
        self.register_buffer("mean", torch.zeros(config.vision_width))
        self.register_buffer("std", torch.ones(config.vision_width))
        self.fc1 = nn.Linear(config.vision_width, config.text_width)
        self.fc2 = nn.Linear(config.text_width, config.text_width)
        # Which token is CLS and where each pooled cell sits: pooling alone loses that.
        self.position = nn.Parameter(torch.zeros(config.vision_tokens, config.text_width))
        nn.init.normal_(self.position, std=0.02)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = (tokens - self.mean) / self.std
        result: torch.Tensor = self.fc2(F.gelu(self.fc1(tokens))) + self.position
        return result


def image_attention(
    queries: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    num_heads: int,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Multi-head attention of (B, S, D) text queries over (B, T, D) memory keys and values:
    every text token sees every memory token, but those a (B, T) `mask` marks False (padding
    of a batch's word tokens). Returns (B, S, D)."""

    def heads(x: torch.Tensor) -> torch.Tensor:  # (B, L, D) -> (B, H, L, D/H)
        return x.view(x.shape[0], x.shape[1], num_heads, -1).transpose(1, 2)

    attn_mask = mask[:, None, None, :] if mask is not None else None  # (B, 1, 1, T)
    out = F.scaled_dot_product_attention(
        heads(queries), heads(keys), heads(values), attn_mask=attn_mask
    )
    return out.transpose(1, 2).reshape(queries.shape)


class GatedCrossAttention(nn.Module):
    """Text hidden states attend to vision tokens; tanh gates (zero at init) scale what is added.

    Like transformers' MllamaCrossAttentionDecoderLayer, but a pre-block residual add instead of
    a whole decoder layer, so the decoder's own blocks stay frozen and unchanged.
    """

    def __init__(self, config: FusionConfig, scale: float) -> None:
        super().__init__()
        width, self.num_heads = config.text_width, config.num_heads
        self.norm = nn.LayerNorm(width, eps=config.norm_eps)
        self.q_proj = nn.Linear(width, width, bias=False)
        self.k_proj = nn.Linear(width, width, bias=False)
        self.v_proj = nn.Linear(width, width, bias=False)
        self.o_proj = nn.Linear(width, width, bias=False)
        self.scale = scale
        self.attn_gate = nn.Parameter(torch.zeros(1))
        hidden = int(width * config.mlp_ratio)
        self.mlp: nn.Sequential | None = None
        if hidden > 0:
            self.mlp_norm = nn.LayerNorm(width, eps=config.norm_eps)
            self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, width))
            self.mlp_gate = nn.Parameter(torch.zeros(1))

    def forward(
        self, hidden: torch.Tensor, vision: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        # hidden: (B, S, D) text; vision: (B or 1, T, D) projected image (and word) tokens.
        if vision.shape[0] != hidden.shape[0]:
            vision = vision.expand(hidden.shape[0], -1, -1)
        queries = self.q_proj(self.norm(hidden))
        keys, values = self.k_proj(vision), self.v_proj(vision)
        attn = image_attention(queries, keys, values, self.num_heads, mask)
        hidden = hidden + torch.tanh(self.attn_gate) * self.scale * self.o_proj(attn)
        if self.mlp is not None:
            gate = torch.tanh(self.mlp_gate) * self.scale
            hidden = hidden + gate * self.mlp(self.mlp_norm(hidden))
        return hidden


class ReadoutCrossAttention(nn.Module):
    """The layer after the last block, added by a later training stage (training/top_layer.py).

    It compares what the question asks with what the image shows ("is there a red shape?").
    Two things differ from GatedCrossAttention, each measured with probes on the stored
    states (yes/no questions whose answer the wording does not give, held-out images): the
    final residual stream is standardised per channel rather than layer-normed (a few channels
    near 3,000 swamp a LayerNorm: 50% right, standardised 87-91%); and the MLP reads the text
    state and the attended image side by side rather than their sum, so it sees the image
    without waiting for an attention gate to open. One tanh gate (zero at init) scales the update.
    """

    # Buffers (register_buffer), declared for the type checker as in VisionProjector.
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, config: FusionConfig, scale: float) -> None:
        super().__init__()
        width, self.num_heads = config.text_width, config.num_heads
        # Per-channel statistics of the residual stream here (set by training).
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("std", torch.ones(width))
        self.q_proj = nn.Linear(width, width, bias=False)
        self.k_proj = nn.Linear(width, width, bias=False)
        self.v_proj = nn.Linear(width, width, bias=False)
        hidden = int(width * max(config.mlp_ratio, 1.0))
        self.text_in = nn.Linear(width, hidden)
        self.image_in = nn.Linear(width, hidden, bias=False)
        self.out = nn.Linear(hidden, width)
        self.gate = nn.Parameter(torch.zeros(1))
        self.scale = scale

    def forward(
        self, hidden: torch.Tensor, vision: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        if vision.shape[0] != hidden.shape[0]:
            vision = vision.expand(hidden.shape[0], -1, -1)
        text = (hidden - self.mean) / self.std
        seen = image_attention(
            self.q_proj(text), self.k_proj(vision), self.v_proj(vision), self.num_heads, mask
        )
        update = self.out(F.gelu(self.text_in(text) + self.image_in(seen)))
        result: torch.Tensor = hidden + torch.tanh(self.gate) * self.scale * update
        return result


CrossLayer = GatedCrossAttention | ReadoutCrossAttention


class FusionAdapter(nn.Module):
    """All the weights mmchat trains: the projector and one cross-attention per chosen block."""

    def __init__(self, config: FusionConfig, decoder_layers: int) -> None:
        super().__init__()
        self.projector = VisionProjector(config)
        self.cross = nn.ModuleDict(
            {str(i): cross_layer(config, i == decoder_layers) for i in config.cross_layers}
        )


def cross_layer(config: FusionConfig, top: bool) -> CrossLayer:
    if top:
        return ReadoutCrossAttention(config, config.top_residual_scale)
    return GatedCrossAttention(config, config.residual_scale)


def pool_features(features: torch.Tensor, grid: int) -> torch.Tensor:
    """(B, 1 + N*N, C) CLS + square patch grid -> (B, 1 + grid*grid, C) by average pooling."""
    cls, patches = features[:, :1], features[:, 1:]
    side = int(round(patches.shape[1] ** 0.5))
    patches = patches.transpose(1, 2).reshape(features.shape[0], -1, side, side)  # (B, C, N, N)
    pooled = F.adaptive_avg_pool2d(patches, grid).flatten(2).transpose(1, 2)  # (B, grid^2, C)
    return torch.cat([cls, pooled], dim=1)


class DecoderBody(Protocol):
    """What the fusion code reads of the decoder below its LM head (`decoder.model`): a
    transformers LlamaModel, or a model laid out like it."""

    layers: nn.ModuleList  # the blocks
    norm: nn.Module  # the final norm, after the last block
    rotary_emb: nn.Module  # (hidden, position ids) -> the blocks' position embeddings

    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...


class FusionModel(nn.Module):
    def __init__(
        self,
        config: FusionConfig,
        decoder: PreTrainedModel,
        encoder: Dinov2Model | Callable[[], Dinov2Model],
        tokenizer: Any = None,
        encoder_width: int | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.decoder = decoder  # a transformers LlamaForCausalLM (frozen)
        # The encoder (a transformers Dinov2Model, frozen) may come as a function that loads it:
        # photos, pages and text turns never read patches, so the default loads its ~90 MB on
        # the first drawn shape instead of at start.
        self._encoder: Dinov2Model | None = None
        self._load_encoder: Callable[[], Dinov2Model] | None = None
        if isinstance(encoder, nn.Module):
            loaded = cast("Dinov2Model", encoder)
            self._encoder = _frozen(loaded)
            encoder_width = int(loaded.config.hidden_size)
        else:
            self._load_encoder = encoder
        self._encoder_width = encoder_width
        self.tokenizer = tokenizer
        self.adapter = FusionAdapter(config, len(self.decoder_body.layers))
        # Is a message about the picture? (vision/relevance.py); None: every message is.
        self.relevance: RelevanceGate | None = None
        # Visual words as memory tokens (word_memory.py); None: the folder has none trained.
        self.words: WordReader | None = None
        _frozen(decoder)
        self._check_widths()

    @property
    def encoder(self) -> Dinov2Model:
        """The vision encoder, loaded on first use when it came as a loader."""
        if self._encoder is None:
            assert self._load_encoder is not None
            # On the decoder's device: the model may have been moved since it was built.
            encoder = _frozen(self._load_encoder())
            # transformers types its own .to oddly
            nn.Module.to(encoder, self.decoder.device, self.float_dtype)
            self._encoder = encoder
            self._load_encoder = None
        return self._encoder

    @property
    def float_dtype(self) -> torch.dtype:
        """The dtype the new layers and the encoder compute in: the decoder's float weights'
        (fp32 on the CPU; bf16 or fp16 on a GPU, also under bitsandbytes)."""
        return self.decoder.dtype

    def place_new_layers(self) -> FusionModel:
        """Put the adapter and word reader where the decoder is, in its float dtype (they are
        built and loaded on the CPU in fp32)."""
        self.adapter.to(self.decoder.device, self.float_dtype)
        if self.words is not None:
            self.words.to(self.decoder.device, self.float_dtype)
        return self

    @property
    def encoder_loaded(self) -> bool:
        return self._encoder is not None

    # -- the decoder's parts -------------------------------------------------------------------
    # transformers types a model's sub-modules only as nn.Module's __getattr__ does
    # (`Tensor | Module`), so the layout the fusion code relies on is stated here, once.

    @property
    def decoder_body(self) -> DecoderBody:
        """The decoder below its LM head: embeddings, blocks, final norm."""
        return cast(DecoderBody, self.decoder.model)

    @property
    def lm_head(self) -> nn.Linear:
        """The decoder's LM head: a Linear where training reads it (nothing quantizes it there)."""
        return cast(nn.Linear, self.decoder.lm_head)

    @property
    def embed_tokens(self) -> nn.Embedding:
        """The decoder's token embeddings (transformers types them as any nn.Module)."""
        return cast(nn.Embedding, self.decoder.get_input_embeddings())

    def _check_widths(self) -> None:
        text, vision = self.decoder.config.hidden_size, self._encoder_width
        if (text, vision) != (self.config.text_width, self.config.vision_width):
            raise ValueError(
                f"config widths {self.config.text_width}/{self.config.vision_width} do not match "
                f"decoder {text} / encoder {vision}"
            )
        layers = len(self.decoder_body.layers)
        if not all(0 <= i <= layers for i in self.config.cross_layers):
            raise ValueError(f"cross_layers {self.config.cross_layers} outside 0..{layers}")

    # -- images --------------------------------------------------------------------------------

    def pooled_features(self, images: list[Image]) -> torch.Tensor:
        """Images -> (B, vision_tokens, vision_width) pooled encoder tokens (cacheable)."""
        from mmchat.engine.vision.encoder import image_features

        return pool_features(image_features(self.encoder, images), self.config.pool_grid)

    def project(self, pooled: torch.Tensor) -> torch.Tensor:
        """(B, T, vision_width) -> (B, T, text_width) features for `attend_to`."""
        result: torch.Tensor = self.adapter.projector(
            pooled.to(self.adapter.projector.fc1.weight.dtype)
        )
        return result

    def encode_images(self, images: list[Image]) -> torch.Tensor:
        """Images -> (B, vision_tokens, text_width), ready for `attend_to`."""
        with torch.no_grad():
            return self.project(self.pooled_features(images))

    def new_word_reader(self, blocks: Sequence[int] = WORD_BLOCKS) -> WordReader:
        """A fresh (untrained, zero-gated) word projector and word layers, set on the model."""
        reader = WordReader(self.config.text_width, blocks, self.config.num_heads)
        self.words = reader.to(self.adapter.projector.fc1.weight.dtype)
        return self.words

    def word_memory(self, patches: torch.Tensor, entries: Sequence[Sequence[WordEntry]]) -> Memory:
        """(B or 1, T, D) projected patches and each batch row's visual words -> the memory."""
        if self.words is None:
            raise ValueError("this fusion model has no trained word projector")
        embedded, kinds, probability, mask = word_tensors(
            self.embed_tokens, self.tokenizer, entries
        )
        words = self.words(embedded, kinds, probability)
        return Memory(patches, words, None if bool(mask.all()) else mask)

    # -- attending -----------------------------------------------------------------------------

    @contextmanager
    def attend_to(self, features: torch.Tensor | Memory | None) -> Iterator[None]:
        """Within this block the decoder's forward/generate reads `features`: (B or 1, T, D)
        patch tokens, or a Memory of patches and visual words."""
        if features is None:
            yield
            return
        memory = features if isinstance(features, Memory) else Memory(features)
        # With visual words only the word layers read the memory: the easy-vqa layers turn
        # whatever they read into easy-vqa's answers (word_memory.py's docstring).
        layers: dict[str, nn.Module] = dict(self.adapter.cross.items())
        if memory.words is not None:
            assert self.words is not None
            layers = dict(self.words.cross.items())
        order = sorted(layers, key=int)  # the word projector's layer order
        handles = []
        for index, cross in layers.items():
            layer_memory = memory.for_layer(order.index(index))
            handles.append(
                self._block_at(int(index)).register_forward_pre_hook(
                    _hook(cross, *layer_memory), with_kwargs=True
                )
            )
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    def _block_at(self, index: int) -> nn.Module:
        """The module a cross-attention at `index` runs before: a block, or the final norm."""
        body = self.decoder_body
        return body.layers[index] if index < len(body.layers) else body.norm

    # -- saving and loading --------------------------------------------------------------------

    def save_pretrained(self, folder: Path, dtype: torch.dtype = torch.float16) -> None:
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(self.config.to_dict(), indent=2) + "\n")
        state = {k: v.detach().to(dtype).contiguous() for k, v in self.adapter.state_dict().items()}
        save_file(state, str(folder / WEIGHTS_NAME), metadata={"format": "pt"})

    def load_adapter(self, folder: Path) -> None:
        from safetensors.torch import load_file

        state = load_file(str(folder / WEIGHTS_NAME))
        dtype = self.decoder.dtype
        self.adapter.load_state_dict({k: v.to(dtype) for k, v in state.items()}, strict=True)

    def add_top_layer(self) -> str:
        """A fresh (zero-gated) cross-attention after the last block, for a second training
        stage on a trained model; returns its key in `adapter.cross`."""
        top = len(self.decoder_body.layers)
        if top in self.config.cross_layers:
            raise ValueError("the model already has a layer after the last block")
        self.config = replace(self.config, cross_layers=[*self.config.cross_layers, top])
        layer = cross_layer(self.config, top=True)
        self.adapter.cross[str(top)] = layer.to(self.adapter.projector.fc1.weight.dtype)
        return str(top)

    @classmethod
    def from_sources(cls, config: FusionConfig, target: Target | None = None) -> FusionModel:
        """Decoder, tokenizer and encoder from their sources; fresh (zero-gated) new layers.
        `target`: where the decoder loads (default: the CPU in fp32); the encoder follows it
        when first used."""
        from transformers import AutoModelForCausalLM, AutoTokenizer, Dinov2Config, Dinov2Model

        # The same policy as --model folders: safetensors only (a pickle can run code when
        # loaded), and never code shipped inside the folder. A fusion config names its parts'
        # folders, so a downloaded fusion folder can point anywhere.
        safe: dict[str, Any] = {"trust_remote_code": False, "use_safetensors": True}
        decoder_dir = _decoder_dir(config.decoder)
        target = target or Target()
        decoder = AutoModelForCausalLM.from_pretrained(decoder_dir, **target.load_kwargs(), **safe)
        if target.quantization is None and target.device != "cpu":
            nn.Module.to(decoder, target.device)  # transformers types its own .to oddly
        tokenizer = None  # a bare decoder folder (tests' tiny models) has no tokenizer
        if (decoder_dir / "tokenizer_config.json").is_file():
            tokenizer = AutoTokenizer.from_pretrained(decoder_dir, trust_remote_code=False)
        encoder_dir = _encoder_dir(config.encoder)
        width = Dinov2Config.from_pretrained(encoder_dir, trust_remote_code=False).hidden_size

        def load_encoder() -> Dinov2Model:
            return Dinov2Model.from_pretrained(encoder_dir, dtype=target.float_dtype, **safe)

        model = cls(config, decoder, load_encoder, tokenizer, encoder_width=width)
        return model.place_new_layers().eval()

    @classmethod
    def from_pretrained(cls, folder: Path, target: Target | None = None) -> FusionModel:
        raw = json.loads((folder / "config.json").read_text())
        model = cls.from_sources(FusionConfig.from_dict(raw), target)
        model.load_adapter(folder)
        model.relevance = RelevanceGate.load(folder)
        model.words = WordReader.load(folder, model.config.text_width)
        return model.place_new_layers().eval()


def _hook(cross: nn.Module, features: torch.Tensor, mask: torch.Tensor | None = None) -> Any:
    def pre_hook(
        module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if args:
            args = (cross(args[0], features.to(args[0].dtype), mask), *args[1:])
        else:
            hidden = kwargs["hidden_states"]
            attended = cross(hidden, features.to(hidden.dtype), mask)
            kwargs = {**kwargs, "hidden_states": attended}
        return args, kwargs

    return pre_hook


M = TypeVar("M", bound=nn.Module)


def _frozen(module: M) -> M:
    module.eval()
    module.requires_grad_(False)
    return module


def _decoder_dir(source: str) -> Path:
    if source == PACKAGED_DECODER:
        from mmchat.engine.default_decoder import smollm2_dir

        return smollm2_dir()
    return Path(source)


def _encoder_dir(source: str) -> Path:
    if source == PACKAGED_ENCODER:
        from mmchat.engine.vision.encoder import encoder_dir

        return encoder_dir()
    return Path(source)


def load_default(target: Target | None = None) -> FusionModel:
    """The shipped default: packaged SmolLM2 + ViT-S, fusion layers trained on easy-vqa."""
    return FusionModel.from_pretrained(DEFAULT_DIR, target)
