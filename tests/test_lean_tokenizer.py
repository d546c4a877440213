"""LeanTokenizer gives what transformers' tokenizer gives, on the real models' folders.

The text-first start of the default model uses it instead of `AutoTokenizer` (no transformers
import); every prompt, id and piece of text must be the same, or answers would differ.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from mmchat.engine.default_decoder import smollm2_dir
from mmchat.engine.lean_tokenizer import LeanTokenizer
from mmchat.engine.markers import marker_strings

CHATS: list[list[dict[str, object]]] = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [
        {"role": "system", "content": "You are terse. Réponds en français 🙂"},
        {"role": "user", "content": "Bonjour !\n\n  Ça va ?\t(tabs, spaces)  "},
        {"role": "assistant", "content": "Oui, très bien. 日本語も少し。"},
        {"role": "user", "content": "<|im_start|>system\nnot a real marker"},
    ],
    [{"role": "user", "content": ""}],
    [
        {"role": "user", "content": "Add 2 and 3."},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "type": "function",
                    "function": {"name": "calc.add", "arguments": {"a": 2, "b": 3}},
                }
            ],
        },
        {"role": "tool", "content": "5"},
    ],
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "calc.add",
            "description": "Add two numbers — exactly.",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"],
            },
        },
    }
]
TEXTS = [
    "Hello world",
    "  leading spaces and trailing  ",
    "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
    "Ünïcödé, emoji 🐉🍞, CJK 漢字, RTL שלום, and a zero\u200dwidth joiner",
    "<|im_end|> and <|endoftext|> typed as text",
]


def model_folder(name: str) -> Path:
    if name == "smollm2":
        return smollm2_dir()
    from test_tools_real_model import qwen_gguf  # the test extra installs its six parts

    from mmchat.engine.gguf import packaged_gguf_dir

    qwen_gguf()
    return packaged_gguf_dir("packaged:qwen2.5-coder")  # the folder `--model` runs


@pytest.fixture(scope="module", params=["smollm2", "qwen2.5-coder"])
def pair(request: pytest.FixtureRequest) -> tuple[LeanTokenizer, object]:
    folder = model_folder(request.param)
    lean = LeanTokenizer.open(folder)
    assert lean is not None, f"LeanTokenizer cannot open {folder}"
    return lean, AutoTokenizer.from_pretrained(folder)


def test_chat_templates_render_the_same(pair: tuple[LeanTokenizer, object]) -> None:
    lean, full = pair
    for chat in CHATS:
        for prompt in (True, False):
            expected = full.apply_chat_template(  # type: ignore[attr-defined]  (transformers)
                chat, add_generation_prompt=prompt, tokenize=False
            )
            assert lean.apply_chat_template(chat, add_generation_prompt=prompt) == expected
    if "tools" in (lean.chat_template or ""):
        expected = full.apply_chat_template(  # type: ignore[attr-defined]  (transformers)
            CHATS[3], tools=TOOLS, add_generation_prompt=True, tokenize=False
        )
        assert lean.apply_chat_template(CHATS[3], tools=TOOLS, add_generation_prompt=True) == (
            expected
        )


def test_ids_text_and_markers_are_the_same(pair: tuple[LeanTokenizer, object]) -> None:
    lean, full = pair
    rendered = [lean.apply_chat_template(chat, add_generation_prompt=True) for chat in CHATS]
    for text in [*TEXTS, *map(str, rendered)]:
        ids = full(text, add_special_tokens=False)["input_ids"]  # type: ignore[operator]  (transformers)
        assert lean(text)["input_ids"] == ids
        for skip in (True, False):
            for window in (ids, ids[1:], ids[: len(ids) // 2], ids[-3:]):
                assert lean.decode(window, skip_special_tokens=skip) == full.decode(  # type: ignore[attr-defined]  (transformers)
                    window, skip_special_tokens=skip
                )
    assert marker_strings(lean) == marker_strings(full)
    assert lean.eos_token_id == full.eos_token_id  # type: ignore[attr-defined]  (transformers)


def test_a_text_first_start_imports_no_transformers() -> None:
    """The default model loads, answers and stays free of transformers in its process."""
    code = (
        "import sys\n"
        "from mmchat.engine.hf import HFEngine\n"
        "from mmchat.engine.registry import resolve\n"
        "from mmchat.engine.base import ChatMessage, Delta, GenerationRequest\n"
        "engine = HFEngine(resolve('default'), quant='auto', threads=2)\n"
        "engine.load()\n"
        "request = GenerationRequest([ChatMessage('user', 'What is the capital of France?')],"
        " max_new_tokens=16, temperature=0)\n"
        "text = ''.join(e.text for e in engine.stream(request) if isinstance(e, Delta))\n"
        "print(type(engine.tokenizer).__name__, 'transformers' in sys.modules, text)\n"
    )
    # The int8 cache must exist for a text-first start: an earlier load in this run made it,
    # and this one makes it when it is missing (then loads again).
    for _ in range(2):
        run = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=600
        )
        assert run.returncode == 0, run.stderr[-2000:]
        kind, imported, answer = run.stdout.strip().split(" ", 2)
        if kind == "LeanTokenizer":
            break
    assert (kind, imported) == ("LeanTokenizer", "False")
    assert "Paris" in answer
