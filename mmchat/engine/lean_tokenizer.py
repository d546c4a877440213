"""A model folder's tokenizer and chat template, without importing transformers.

Importing transformers and building its tokenizer took most of a text-first start (about
2 of its seconds idle, 15 at load 8: `AutoTokenizer` pulls in the model-loading machinery).
The text path needs four things from a tokenizer: token ids for a rendered prompt, text for
ids, the chat template rendered, and the strings of its control tokens. This class does those
with `tokenizers` (the same Rust tokenizer transformers wraps) and jinja2 set up as
transformers sets it up for chat templates (a sandbox, trim_blocks and lstrip_blocks, the
loop controls, `raise_exception`, `strftime_now`, a `tojson` that keeps non-ASCII text).

It is used only where tests show it gives the same prompts, ids and text as transformers' own
tokenizer (`tests/test_lean_tokenizer.py`); `open` returns None for anything it does not know
(a template that needs another extension, a slow tokenizer, a missing file), and the caller
then uses transformers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

# Keys of tokenizer_config.json whose values are the special tokens templates may read.
_SPECIAL_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token")


def _token_text(value: Any) -> str | None:
    """A special token as the config writes it: a string, or an AddedToken-style dict."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return str(value["content"])
    return None


def _compile(template: str) -> Any:
    """The template compiled as transformers compiles chat templates; jinja's errors raise."""
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(
        value: Any,
        ensure_ascii: bool = False,
        indent: int | None = None,
        separators: tuple[str, str] | None = None,
        sort_keys: bool = False,
    ) -> str:
        return json.dumps(
            value,
            ensure_ascii=ensure_ascii,
            indent=indent,
            separators=separators,
            sort_keys=sort_keys,
        )

    def strftime_now(format: str) -> str:
        return datetime.now().strftime(format)

    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    environment.filters["tojson"] = tojson
    environment.globals["raise_exception"] = raise_exception
    environment.globals["strftime_now"] = strftime_now
    return environment.from_string(template)


class LeanTokenizer:
    """The parts of a transformers fast tokenizer the text path calls, with the same results."""

    def __init__(self, backend: Any, config: dict[str, Any], chat_template: str | None) -> None:
        self.backend = backend
        self.chat_template = chat_template
        self.special_tokens = {
            key: text for key in _SPECIAL_KEYS if (text := _token_text(config.get(key)))
        }
        extra = config.get("extra_special_tokens") or config.get("additional_special_tokens")
        extras = extra.values() if isinstance(extra, dict) else extra or []
        self.all_special_tokens = list(
            dict.fromkeys([*self.special_tokens.values(), *filter(None, map(_token_text, extras))])
        )
        self.added_tokens_encoder = {
            token.content: index for index, token in backend.get_added_tokens_decoder().items()
        }
        eos = self.special_tokens.get("eos_token")
        self.eos_token_id = backend.token_to_id(eos) if eos else None
        self.clean_up_spaces = bool(config.get("clean_up_tokenization_spaces", False))
        self._template = _compile(chat_template) if chat_template else None

    @classmethod
    def open(cls, folder: Path) -> LeanTokenizer | None:
        """The folder's tokenizer, or None when this class cannot stand in for transformers'."""
        try:
            from tokenizers import Tokenizer

            config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
            if config.get("clean_up_tokenization_spaces") or config.get("add_bos_token"):
                return None  # transformers' own post-processing: not reproduced here
            template = config.get("chat_template")
            template_file = folder / "chat_template.jinja"
            if template is None and template_file.is_file():
                template = template_file.read_text(encoding="utf-8")
            if template is not None and not isinstance(template, str):
                return None  # named templates (a dict or list): left to transformers
            backend = Tokenizer.from_file(str(folder / "tokenizer.json"))
            return cls(backend, config, template)
        except Exception:  # noqa: BLE001  any surprise: transformers' tokenizer does the work
            return None

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        ids = self.backend.encode(text, add_special_tokens=add_special_tokens).ids
        return {"input_ids": list(ids)}

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return self(text, add_special_tokens)["input_ids"]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        return str(self.backend.decode(list(ids), skip_special_tokens=skip_special_tokens))

    def apply_chat_template(
        self,
        conversation: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        add_generation_prompt: bool = False,
        tokenize: bool = False,
    ) -> str | list[int]:
        if self._template is None:
            raise ValueError("this tokenizer has no chat template")
        text = str(
            self._template.render(
                messages=[dict(message) for message in conversation],
                tools=tools,
                documents=None,
                add_generation_prompt=add_generation_prompt,
                **self.special_tokens,
            )
        )
        return self.encode(text) if tokenize else text
