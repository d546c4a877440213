"""The transformers backend: loads a model and streams its answers.

It runs inside the engine process (mmchat.engine.worker); it can also run in-process for
scripts and tests. It knows nothing about the TUI or the store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from mmchat.engine.base import (
    ChatMessage,
    Delta,
    EngineError,
    Event,
    Failed,
    Finished,
    GenerationRequest,
    ModelInfo,
    Progress,
    ProgressCallback,
    Started,
    open_picture,
)
from mmchat.engine.context import fit_messages
from mmchat.engine.generate import CausalLMStep, FastStep, Step, generate
from mmchat.engine.markers import defuse_messages, marker_strings
from mmchat.engine.placement import Target, gpu_target
from mmchat.engine.quant import bnb_config, quantize_int8_dynamic, resolve_quant
from mmchat.engine.refusal_guard import guard
from mmchat.engine.registry import ModelSpec
from mmchat.engine.sampling import model_sampling

# The tokens a chat template puts after an answer and before the next message starts
# (SmolLM2's "<|im_end|>", "\n", "<|im_start|>", "assistant", "\n"; a few more elsewhere).
TEMPLATE_TAIL = 8


class HFEngine:
    """A Hugging Face causal LM, or mmchat's fusion model, behind the Engine protocol."""

    def __init__(
        self,
        spec: ModelSpec,
        *,
        quant: str = "auto",
        threads: int | None = None,
        allow_pickle: bool = False,
    ) -> None:
        self.spec = spec
        self.requested_quant = quant
        self.threads = threads
        self.allow_pickle = allow_pickle
        self._model: Any = None
        self.tokenizer: Any = None
        self._fusion: Any = None  # mmchat.engine.fusion.FusionModel for the default model
        self.processor: Any = None  # for Hugging Face image-text-to-text models
        self.info: ModelInfo | None = None
        self.fast: Any = None  # mmchat.engine.fastpath.FastLlama: int8 text turns on the CPU
        self.last_path: str | None = None  # how the last answer ran: "fast-int8" / "transformers"
        self._image_turns: Any = None  # mmchat.engine.image_turn.ImageTurns, for fusion models
        self.last_plan: Any = None  # the last turn's image_turn.TurnPlan, for benchmarks
        self._cancel = threading.Event()
        # A fusion model whose text turns run from the int8 cache (fastcache.lean_llama): its
        # transformers decoder, vision encoder and image turns load on first use.
        self._deferred = False
        self._lean: dict[str, Any] = {}  # the decoder's config and generation config, as read
        self._tools: list[dict[str, Any]] = []  # the current request's tools, for the template
        # After a turn in a chat with a picture: its plan, the chat it read and the answer's
        # pieces, for prepare_next
        self._next_form: tuple[Any, list[ChatMessage], list[str]] | None = None

    # The parts a text turn on the fast path does without: loaded on first use when deferred.

    @property
    def model(self) -> Any:
        self._load_deferred()
        return self._model

    @model.setter
    def model(self, value: Any) -> None:
        self._model = value

    @property
    def fusion(self) -> Any:
        self._load_deferred()
        return self._fusion

    @fusion.setter
    def fusion(self, value: Any) -> None:
        self._fusion = value

    @property
    def image_turns(self) -> Any:
        self._load_deferred()
        return self._image_turns

    @image_turns.setter
    def image_turns(self, value: Any) -> None:
        self._image_turns = value

    # -- loading ---------------------------------------------------------------------------

    def load(self, progress: ProgressCallback | None = None) -> ModelInfo:
        if self.threads:
            torch.set_num_threads(self.threads)
        fusion_kind = self.spec.kind in ("default", "fusion")
        # `--quant int8` is the CPU's path: for the fusion model (the default) it keeps the
        # model on the CPU where a GPU is present; other models refuse it there (quant.py).
        gpu = torch.cuda.is_available() and not (fusion_kind and self.requested_quant == "int8")
        device = "cuda" if gpu else "cpu"
        if fusion_kind and gpu and self.requested_quant == "auto":
            # The default is 135M parameters: bf16 fits any GPU, and bitsandbytes' 4-bit
            # kernels would only slow it (bench/gpu.py). `--quant 4bit` still asks for them.
            quant = "none"
        else:
            quant = resolve_quant(self.requested_quant, device)
        if progress:
            progress(Progress(f"loading {self.spec.name}", 0.0))
        if fusion_kind:
            if device == "cuda":
                self._load_fusion(gpu_target(bnb_config(quant)))
            elif not (quant == "int8" and self._load_text_first()):
                self._load_fusion()
        elif quant == "int8" and self._load_gguf_int8(progress):
            pass
        elif not self._load_gguf_layered(quant, device, progress):
            folder = self._folder(progress)
            self._load_causal_lm(folder, quant, device)
        if quant == "int8" and self.fast is None:
            quant = self._prepare_int8()
        if self._model is not None:
            self._model.eval()
        where, form = ("cpu", "int8") if self.fast is not None else self._placement()
        self.info = ModelInfo(
            name=self.spec.name,
            device=where,
            quant=form,
            context_window=self._context_window(),
            vision=self._deferred or self._fusion is not None or self.processor is not None,
        )
        if progress:
            progress(Progress("ready", 1.0))
        return self.info

    def _load_gguf_layered(
        self, quant: str, device: str, progress: ProgressCallback | None
    ) -> bool:
        """A GGUF file of a Llama or Qwen2 decoder for a GPU, or in bitsandbytes' forms:
        read tensor by tensor into the form that runs (gguf_bnb.py), never dequantized whole
        to fp32. False for other files, which go through the fp32 conversion."""
        if self.spec.kind != "gguf" or self.spec.location.startswith("packaged:"):
            return False
        if device != "cuda" and quant not in ("4bit", "8bit"):
            return False
        from mmchat.engine import gguf_bnb

        path = Path(self.spec.location)
        if not path.is_file() or not gguf_bnb.supported(path):
            return False
        dtype = torch.float32
        if device == "cuda":  # half precision where the GPU runs it, as _load_causal_lm
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.model, self.tokenizer = gguf_bnb.load(path, bnb_config(quant), device, dtype, progress)
        return True

    def _placement(self) -> tuple[str, str]:
        """The device and weight form of the model as loaded: what the parameters hold, not
        what was asked for."""
        from mmchat.engine.placement import device_of, weight_form

        return device_of(self._model), weight_form(self._model)

    def _folder(self, progress: ProgressCallback | None) -> str:
        from mmchat.engine.gguf import converted_gguf_dir, packaged_gguf_dir

        if self.spec.location.startswith("packaged:"):
            return str(packaged_gguf_dir(self.spec.location, progress))
        if self.spec.kind == "gguf":
            return str(converted_gguf_dir(Path(self.spec.location), progress=progress))
        return self.spec.location  # a local folder or a hub id

    def _load_causal_lm(self, folder: str, quant: str, device: str) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        kwargs: dict[str, Any] = {"use_safetensors": None if self.allow_pickle else True}
        quantization = bnb_config(quant)
        if device == "cuda":
            # Half precision where the GPU runs it; bitsandbytes keeps this as compute dtype.
            kwargs["dtype"] = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if quantization is not None:
            kwargs["quantization_config"] = quantization
            kwargs["device_map"] = "auto" if device == "cuda" else {"": "cpu"}
        from mmchat.engine import vlm

        try:
            if vlm.is_vision_language_folder(folder):
                self.model, self.processor = vlm.load(folder, **kwargs)
                self.tokenizer = self.processor.tokenizer
            else:
                self.tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
                self.model = AutoModelForCausalLM.from_pretrained(
                    folder, trust_remote_code=False, **kwargs
                )
        except OSError as exc:
            raise EngineError(_explain_load_error(folder, exc, self.spec.kind)) from None
        except ValueError as exc:
            raise EngineError(f"cannot load {folder}: {_first_line(exc)}") from None
        if quantization is None and device == "cuda":
            self.model.to(device)

    def _fusion_folder(self) -> Path:
        from mmchat.engine import fusion

        return fusion.DEFAULT_DIR if self.spec.kind == "default" else Path(self.spec.location)

    def _load_text_first(self) -> bool:
        """A fusion model's text turns from the int8 cache alone: no transformers model, no
        vision encoder until a turn needs them (a start in seconds, docs/PERFORMANCE.md).
        False when the cache cannot serve it (the first start, an unusual decoder)."""
        import json

        from mmchat.engine import fastcache, fusion

        try:
            raw = json.loads((self._fusion_folder() / "config.json").read_text())
            config = fusion.FusionConfig.from_dict(raw)
        except (OSError, ValueError, TypeError):
            return False  # the full load reports it properly
        if config.decoder == fusion.PACKAGED_DECODER:
            from mmchat.engine.default_decoder import smollm2_dir

            decoder_dir = smollm2_dir()
        else:
            decoder_dir = Path(config.decoder)
        if not decoder_dir.is_dir() or (fast := fastcache.lean_llama(decoder_dir)) is None:
            return False
        from mmchat.engine.lean_tokenizer import LeanTokenizer

        # The packaged decoder's tokenizer without transformers (tests/test_lean_tokenizer.py
        # shows the same prompts, ids and text); any other decoder keeps transformers' own.
        lean = (
            LeanTokenizer.open(decoder_dir) if config.decoder == fusion.PACKAGED_DECODER else None
        )
        if lean is not None:
            self.tokenizer = lean
        else:
            from transformers import AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(decoder_dir, trust_remote_code=False)
        self._lean = {"config": json.loads((decoder_dir / "config.json").read_text())}
        generation = decoder_dir / "generation_config.json"
        if generation.is_file():
            self._lean["generation"] = json.loads(generation.read_text())
        self.fast, self._deferred = fast, True
        return True

    def _load_gguf_int8(self, progress: ProgressCallback | None) -> bool:
        """A GGUF file of a Llama or Qwen2 decoder on the CPU: packed to int8 tensor by tensor
        once (gguf_int8.py), then run from that alone, without transformers' model. False for
        other files: the fp32 conversion runs them."""
        if self.spec.kind != "gguf" or self.spec.location.startswith("packaged:"):
            return False  # packaged models keep their converted folders (the default shares one)
        import json

        from mmchat.engine import gguf_int8

        folder = gguf_int8.int8_gguf_dir(Path(self.spec.location), progress)
        if folder is None:
            return False
        try:
            self.fast = gguf_int8.lean_gguf(folder)
        except (ValueError, KeyError, OSError) as exc:
            raise EngineError(
                f"the int8 form of {self.spec.location} in {folder} is damaged "
                f"({_first_line(exc)}); delete that folder to rebuild it"
            ) from None
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        self._lean = {"config": json.loads((folder / "config.json").read_text())}
        generation = folder / "generation_config.json"
        if generation.is_file():
            self._lean["generation"] = json.loads(generation.read_text())
        return True

    def _load_deferred(self) -> None:
        """The fusion model behind a text-first load, its decoder sharing the fast path's
        weights (its norms and embedding, read from the same file, and its int8 rows) rather
        than holding a copy."""
        if not self._deferred:
            return
        self._deferred = False
        self._load_fusion()
        decoder = self._model
        shared = self.fast.parts.tensors
        state = {name: shared[name] for name in decoder.state_dict()}
        decoder.load_state_dict(state, assign=True)
        # Its projections rebuild their weights from the fast path's int8 rows, as the text
        # prompts do: the fp32 ones (~425 MB of pages) are never read. The picture answers
        # measured the same (docs/PERFORMANCE.md), and the engine's peak fell by ~400 MB.
        from mmchat.engine.fastpath import rows_projections

        for name, module in rows_projections(self.fast).items():
            decoder.set_submodule(name, module)
        decoder.eval()

    def _load_fusion(self, target: Target | None = None) -> None:
        """The fusion model, on the CPU in fp32 unless `target` says otherwise (a GPU)."""
        from mmchat.engine import fusion

        try:
            if self.spec.kind == "default":
                self.fusion = fusion.load_default(target)
            else:
                self.fusion = fusion.FusionModel.from_pretrained(Path(self.spec.location), target)
        except OSError as exc:
            raise EngineError(_explain_load_error(self.spec.location, exc, "fusion")) from None
        self.model = self.fusion.decoder
        self.tokenizer = self.fusion.tokenizer
        from mmchat.engine.image_turn import ImageTurns
        from mmchat.engine.vision.perceive import Perception

        self.image_turns = ImageTurns(self.fusion, Perception(), reader=self._gate_states)

    def _gate_states(self, ids: list[int], blocks: int) -> torch.Tensor | None:
        """The relevance gate's states from the int8 fast path (what the shipped gate was
        trained on), or None where there is none (a GPU, `--quant none`): then transformers'."""
        return None if self.fast is None else self.fast.states(ids, blocks)

    def _prepare_int8(self) -> str:
        """CPU int8: text turns run FastLlama (fastpath.py), which packs its own int8 weights
        and reads prompts with the model's fp32 ones, so the model itself stays fp32."""
        from mmchat.engine import fastcache, fastpath

        if self.processor is None and fastpath.supports(self.model) is None:
            # A fusion decoder also answers the turns with an image, on the transformers path
            # with the cross-attention hooks and in fp32: int8 cost easy-vqa accuracy there
            # (docs/PERFORMANCE.md). The int8 weights come from the cache after the first load.
            folder = Path(str(getattr(self.model, "name_or_path", "") or ""))
            parts = fastpath.LlamaParts.of(self.model)
            self.fast = fastcache.fast_llama(parts, folder if folder.is_dir() else None)
            return "int8"
        if self.requested_quant == "auto" or self.fusion is not None:
            # torch.ao's int8 over whole prompts derails answers (fastpath.FastLlama says why);
            # without the fast path, `auto` and fusion decoders keep fp32. `--quant int8` on a
            # plain model still asks for it.
            return "none"
        quantize_int8_dynamic(self.model)
        return "int8"

    def _context_window(self) -> int:
        config: Any = getattr(self._model, "config", None)
        if config is None and "config" in self._lean:
            from types import SimpleNamespace

            config = SimpleNamespace(**self._lean["config"])
        for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
            value = getattr(config, name, None)
            if isinstance(value, int) and value > 0:
                return value
        return 2048

    # -- generation --------------------------------------------------------------------------

    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        self._model = None
        self.fast = None
        self._fusion = None
        self._image_turns = None
        self._deferred = False

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return len(self._encode_prompt(messages))

    def plain_text(self, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
        """The messages with every control-token string in their text made plain text.

        All of it, the system prompt included: documents, history, file names and persona
        variables all reach the prompt as message text, and the chat template alone may add
        control tokens.
        """
        return defuse_messages(messages, marker_strings(self.tokenizer))

    def prompt_ids(self, messages: Sequence[ChatMessage]) -> list[int]:
        """The token ids the model is given for `messages` (without fitting the window)."""
        return self._encode_prompt(self.plain_text(messages))

    def takes_tools(self) -> bool:
        """Whether the model's chat template renders tools (Qwen2.5, Llama 3.x, Hermes...)."""
        template = getattr(self.tokenizer, "chat_template", None)
        if isinstance(template, dict):  # named templates: the "tool_use" one, or the default
            template = template.get("tool_use") or template.get("default")
        return self.processor is None and isinstance(template, str) and "tools" in template

    def _encode_prompt(self, messages: Sequence[ChatMessage]) -> list[int]:
        chat: list[dict[str, Any]] = []
        for m in messages:
            entry: dict[str, Any] = {"role": m.role, "content": m.content}
            if m.tool_calls:
                entry["tool_calls"] = m.tool_calls
            chat.append(entry)
        text = self._with_tools(chat) if self._tools and self.takes_tools() else None
        if text is None:
            text = self._without_tools(messages, chat)
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _without_tools(self, messages: Sequence[ChatMessage], chat: list[dict[str, Any]]) -> str:
        if self.processor is not None:
            from mmchat.engine.vlm import chat_for_processor

            # Counts text tokens; each image's own tokens are added by the processor later.
            return str(
                self.processor.apply_chat_template(
                    chat_for_processor(messages), add_generation_prompt=True, tokenize=False
                )
            )
        if getattr(self.tokenizer, "chat_template", None):
            return str(
                self.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
            )
        # base models: a plain transcript
        return "".join(f"{m['role']}: {m['content']}\n" for m in chat) + "assistant:"

    def _with_tools(self, chat: list[dict[str, Any]]) -> str | None:
        """The prompt with the tools on offer; None, and no tools for this answer (the turn says
        the model has no tool support), when the model's template fails with them."""
        try:
            return str(
                self.tokenizer.apply_chat_template(
                    chat, tools=self._tools, add_generation_prompt=True, tokenize=False
                )
            )
        except Exception:  # jinja's errors, raised from the model's own template
            self._tools = []
            return None

    def _generation_config(self) -> Any:
        """The decoder's generation config, read from its file while the model is deferred
        (touching `self.model` here would load it for a text turn)."""
        if self._model is None and "generation" in self._lean:
            from types import SimpleNamespace

            return SimpleNamespace(**self._lean["generation"])
        return getattr(self._model, "generation_config", None)

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (self.tokenizer, self._generation_config()):
            value = getattr(source, "eos_token_id", None)
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, list):
                ids.update(v for v in value if isinstance(v, int))
        return ids

    def stream(self, request: GenerationRequest) -> Iterator[Event]:
        if self.info is None or (self._model is None and self.fast is None):
            yield Failed("the model is not loaded")
            return
        self._cancel.clear()
        started = time.perf_counter()
        self.last_plan, self._next_form = None, None
        self._tools = list(request.tools)
        try:
            budget = self.info.context_window - request.max_new_tokens
            untrusted = self.plain_text(request.messages)
            messages, dropped = fit_messages(untrusted, self.count_tokens, budget)
            # Images first: `image_turns` loads a deferred fusion model.
            if any(m.images for m in messages) and self.image_turns is not None:
                self.last_plan = plan = self.image_turns.plan(messages)
                self._next_form = (plan, messages, [])
                # The note holds text read from the picture: untrusted like the rest.
                messages, features = self.plain_text(plan.messages), plan.features
            else:
                self._refuse_images(messages)
                features = None
            images = self._open_images(messages) if self.processor is not None else []
            prompt = self._encode_prompt(messages)
        except EngineError as exc:
            yield Failed(str(exc))
            return
        offered = bool(self._tools) and self.takes_tools()
        yield Started(prompt_tokens=len(prompt), dropped_messages=dropped, tools_offered=offered)
        plan = self.last_plan
        events: Iterator[Event]
        if plan is not None and plan.reply is not None:  # answered without the decoder
            finished = Finished("stop", 0, time.perf_counter() - started, None)
            events = iter((Delta(plan.reply), finished))
        else:
            prefix, limit = (plan.prefix, plan.limit) if plan is not None else ("", None)
            step, prompt = self._step(prompt, features, messages, images, request.max_new_tokens)
            events = generate(
                step,
                prompt,
                request,
                tokenizer=self.tokenizer,
                eos_ids=self._eos_ids(),
                cancel=self._cancel,
                started=started,
                prefix=prefix,
                limit=limit,
                model_sampling=model_sampling(self._generation_config()),
            )
            if plan is not None and plan.way == "words" and plan.words is not None:
                from mmchat.engine.image_turn import text_instead

                if (instead := text_instead(plan.words)) is not None:
                    events = guard(events, prefix=prefix, fallback=instead, started=started)
        for event in events:
            if isinstance(event, Delta) and self._next_form is not None:
                self._next_form[2].append(event.text)
            yield event

    def _other_form(self, plan: Any, messages: list[ChatMessage]) -> list[ChatMessage]:
        """The chat as the next turn of the other kind would read it: after a turn that read
        the picture, as a text turn (no picture); after a text turn, as a follow-up about the
        picture with the last note it was given (none: as a text turn, which holds already)."""
        from mmchat.engine.image_turn import without_pictures

        if plan.way == "text" and self.image_turns is not None:
            if (noted := self.image_turns.with_last_note(messages)) is not None:
                return self.plain_text(noted)
        return without_pictures(messages)

    def prepare_next(self) -> int:
        """Idle work for the engine process, after an answer has been sent, in a chat with a
        picture: read the chat, that answer included, as the next turn of the other kind
        would (_other_form) into the fast path's aside sequence (FastLlama.read_aside), so
        that turn reads only its new message. A turn about the picture puts its note in the
        system message and a text turn leaves it out, so without this the first turn of
        the other kind read the whole chat again. A new request or a cancel stops it within
        a chunk. Returns the tokens read."""
        pending, self._next_form = self._next_form, None
        if pending is None or self.fast is None or self._cancel.is_set():
            return 0
        plan, messages, answer = pending
        chat = self._other_form(plan, messages)  # here, not before the answer: off its path
        ids = self._encode_prompt([*chat, ChatMessage("assistant", "".join(answer))])
        # Held already (the turn left the picture out): all but the template's last tokens.
        if self.fast.held(ids) >= len(ids) - TEMPLATE_TAIL:
            return 0
        return int(self.fast.read_aside(ids, self._cancel.is_set))

    def _step(
        self,
        prompt: list[int],
        features: torch.Tensor | None,
        messages: Sequence[ChatMessage],
        images: list[Any],
        room: int,
    ) -> tuple[Step, list[int]]:
        """The step for this answer, and the prompt it reads: a VLM's processor places the
        pictures' tokens itself; text turns take the fast path where it was built."""
        if self.processor is not None:
            from mmchat.engine import vlm

            self.last_path = "transformers-generate"
            step = vlm.GenerateStep(self.model, self.processor, messages, images, room)
            return step, step.prompt
        if self.fast is not None and features is None:
            self.last_path = "fast-int8"
            return FastStep(self.fast, room), prompt
        self.last_path = "transformers"
        return CausalLMStep(self.model, self._vision(features)), prompt

    # -- images ------------------------------------------------------------------------------

    def _vision(self, features: torch.Tensor | None) -> Any:
        from contextlib import nullcontext

        if self.fusion is None or features is None:
            return nullcontext()
        return self.fusion.attend_to(features)

    def _refuse_images(self, messages: Sequence[ChatMessage]) -> None:
        """Pictures reach models that read them (fusion: image_turn.py; VLMs: vlm.py)."""
        if self.processor is None and any(m.images for m in messages):
            raise EngineError(f"{self.spec.name} is a text-only model; it cannot read images")

    def _open_images(self, messages: Sequence[ChatMessage]) -> list[Any]:
        return [open_picture(blob) for m in messages for blob in m.images]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:240] if text else type(exc).__name__


def _explain_load_error(folder: str, exc: OSError, kind: str) -> str:
    text = str(exc)
    if kind == "hub":
        if "connect" in text.lower() or "offline" in text.lower() or "resolve" in text.lower():
            return (
                f"cannot reach the Hugging Face hub to download {folder}: download it where "
                "there is internet (huggingface-cli download) or pass a local folder"
            )
        return (
            f"{folder} was not found on the Hugging Face hub "
            "(check the id, or log in for gated models)"
        )
    if ".bin" in text or "safetensors" in text.lower():
        return (
            f"{folder} has no safetensors weights; pickle (.bin) files can run code when loaded, "
            "so they load only with --allow-pickle, for a model you trust"
        )
    return f"cannot load {folder}: {_first_line(exc)}"
