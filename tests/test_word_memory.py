"""Visual words as memory tokens: the builder (order, kinds, shapes, padding) and the fusion
model attending to them, on a tiny random model with the default decoder's real tokenizer."""

from __future__ import annotations

import pytest
import torch
from test_fusion import IDS, open_gates, tiny_model
from torch import nn

from mmchat.engine.fusion import FusionModel
from mmchat.engine.vision.words import ColorShare, Label, TextLine, VisualWords
from mmchat.engine.word_memory import (
    MAX_COLOURS,
    MAX_LINES,
    WORDS_NAME,
    WordEntry,
    WordProjector,
    WordReader,
    entry_embeddings,
    word_entries,
    word_tensors,
)


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    from mmchat.engine.default_decoder import smollm2_dir

    return AutoTokenizer.from_pretrained(smollm2_dir())


def picture_words() -> VisualWords:
    box = (0.1, 0.1, 0.9, 0.3)
    return VisualWords(
        width=100,
        height=80,
        objects=[Label("dog", 0.7), Label("wolf", 0.2), Label("cat", 0.01)],
        colors=[ColorShare(c, s) for c, s in (("brown", 0.5), ("white", 0.3), ("gray", 0.1))]
        + [ColorShare("green", 0.05)],
        text=[TextLine(f"line {i}", 0.9, box) for i in range(6)],
    )


def test_entries_come_labels_then_colours_then_text_with_their_probabilities() -> None:
    entries = word_entries(picture_words())
    kinds = [e.kind for e in entries]
    assert kinds == ["label"] * 2 + ["colour"] * MAX_COLOURS + ["text"] * MAX_LINES
    assert [e.text for e in entries[:2]] == ["dog", "wolf"]  # "cat" at 0.01 is noise
    assert entries[0].probability == 0.7
    assert entries[-1].text == "line 3"


def test_word_tensors_pad_each_row_and_mark_the_real_tokens(tokenizer) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    embed = nn.Embedding(len(tokenizer), 16)
    rows = [word_entries(picture_words()), [WordEntry("red", "colour", 0.8)]]
    embedded, kinds, probability, mask = word_tensors(embed, tokenizer, rows)
    width = len(rows[0])
    assert embedded.shape == (2, width, 16)
    assert kinds.shape == probability.shape == mask.shape == (2, width)
    assert mask[0].all() and mask[1].tolist() == [True] + [False] * (width - 1)
    assert kinds[1, 0].item() == 1 and probability[1, 0].item() == pytest.approx(0.8)
    ids = tokenizer.encode(" golden retriever", add_special_tokens=False)
    expected = embed.weight[torch.tensor(ids)].mean(0)
    assert torch.allclose(entry_embeddings(embed, tokenizer, ["golden retriever"])[0], expected)


def open_word_gates(reader: WordReader, value: float = 0.7) -> None:
    with torch.no_grad():
        for cross in reader.cross.values():
            cross.gate.fill_(value)


def word_model(tokenizer) -> FusionModel:  # type: ignore[no-untyped-def]
    model = tiny_model()
    model.decoder.resize_token_embeddings(len(tokenizer))
    model.tokenizer = tokenizer
    return model


def run(model: FusionModel, memory: object, input_ids: torch.Tensor = IDS) -> torch.Tensor:
    with torch.no_grad(), model.attend_to(memory):  # type: ignore[arg-type]
        return model.decoder(input_ids=input_ids).logits


def test_word_tokens_reach_the_decoder_and_padding_changes_nothing(tokenizer) -> None:  # type: ignore[no-untyped-def]
    model = word_model(tokenizer)
    open_gates(model)
    reader = model.new_word_reader([1, 3])
    assert isinstance(reader, WordReader)
    open_word_gates(reader)
    torch.manual_seed(2)
    patches = model.project(torch.randn(1, 5, 32)).detach()
    long = word_entries(picture_words())
    short = [WordEntry("red", "colour", 0.8), WordEntry("STOP", "text", 0.9)]

    alone = run(model, model.word_memory(patches, [short]))
    batched = run(model, model.word_memory(patches, [long, short]), IDS.expand(2, -1))
    assert torch.allclose(batched[1], alone[0], atol=1e-5)  # the padded row is the lone one
    assert not torch.allclose(run(model, patches), alone)  # the words changed the answer
    memory = model.word_memory(patches, [long])
    assert memory.words is not None
    assert memory.words.shape == (1, len(long), 2, 64)  # one token per word layer


def test_fresh_word_layers_leave_the_decoder_exact_and_bypass_the_easy_vqa_layers(
    tokenizer,
) -> None:  # type: ignore[no-untyped-def]
    model = word_model(tokenizer)
    open_gates(model)  # the easy-vqa layers, open, would change every logit they saw
    model.new_word_reader([1, 2])  # zero gates
    torch.manual_seed(2)
    patches = model.project(torch.randn(1, 5, 32)).detach()
    plain = run(model, None)
    assert not torch.allclose(run(model, patches), plain)  # patches alone: easy-vqa layers
    words = model.word_memory(patches, [word_entries(picture_words())])
    assert torch.equal(run(model, words), plain)  # words: the word layers only, still shut


def test_a_saved_reader_loads_with_its_blocks_and_an_old_projector_file_does_not(  # type: ignore[no-untyped-def]
    tokenizer, tmp_path
) -> None:
    model = word_model(tokenizer)
    reader = model.new_word_reader([0, 2])
    open_word_gates(reader, 0.3)
    torch.manual_seed(2)
    patches = model.project(torch.randn(1, 5, 32)).detach()
    entries = [word_entries(picture_words())]
    with torch.no_grad():  # saved in half precision: compare with the rounded weights
        for param in reader.parameters():
            param.copy_(param.half().float())
    before = run(model, model.word_memory(patches, entries))
    reader.save(tmp_path)
    loaded = WordReader.load(tmp_path, 64)
    assert loaded is not None and loaded.blocks == [0, 2] and loaded.heads == 4
    model.words = loaded
    assert torch.allclose(run(model, model.word_memory(patches, entries)), before, atol=1e-5)

    from safetensors.torch import save_file

    old = {k: v.contiguous() for k, v in WordProjector(64, 3).state_dict().items()}
    save_file(old, str(tmp_path / WORDS_NAME), metadata={"format": "pt"})
    assert WordReader.load(tmp_path, 64) is None  # fed the easy-vqa layers: never used
