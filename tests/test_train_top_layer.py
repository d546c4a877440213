"""The second training stage: a layer after the last block learns what the image decides."""

from __future__ import annotations

import random

import torch
from test_fusion import tiny_model

from mmchat.training.top_layer import Row, Vocabulary, _optimise, accuracy, cell


def test_cells_split_yes_no_by_whether_the_wording_gives_the_answer() -> None:
    assert cell("is there a red shape?", "no") == "from wording"
    assert cell("is there a red shape?", "yes") == "from picture"
    assert cell("does the image not contain a circle?", "yes") == "from wording"
    assert cell("is no triangle present?", "no") == "from picture"
    assert cell("what color is the shape?", "teal") == "color"
    assert cell("what shape is in the image?", "circle") == "shape"


def test_only_the_top_layer_trains_and_it_learns_an_answer_only_the_image_gives() -> None:
    model = tiny_model()
    layer = model.adapter.cross[model.add_top_layer()]
    below = {k: v.clone() for k, v in model.adapter.state_dict().items() if ".4." not in k}
    torch.manual_seed(3)
    # Eight images; the same text for all; the right answer token depends on the image alone.
    vision = {i: model.project(torch.randn(1, 5, 32))[0].detach() for i in range(8)}
    text = torch.randn(2, 64) * 3
    rows = [
        Row(text, torch.tensor([10 + i % 2, 2]), i, "from picture" if i % 2 else "from wording")
        for i in range(8)
    ]
    before = accuracy(model, layer, vision, rows)
    assert before["all"] <= 0.5  # one text, two answers: at most half without the image
    # Trained on a sampled softmax (the answers and 20 other tokens of 128); checked on all 128.
    figures = _optimise(model, layer, vision, rows, rows, 150, 16, 1e-2, lambda _: None, 20)
    assert figures["held_out_after"]["all"] == 1.0
    assert all(torch.equal(v, model.adapter.state_dict()[k]) for k, v in below.items())


def test_the_sampled_softmax_keeps_every_answer_and_its_targets_point_into_it() -> None:
    rng = random.Random(0)
    first = Vocabulary.sample({2, 10, 11}, 128, 20, rng)
    second = Vocabulary.sample({2, 10, 11}, 128, 20, rng)
    for vocabulary in (first, second):
        tokens = vocabulary.tokens.tolist()
        assert {2, 10, 11} <= set(tokens) and len(tokens) <= 23 and tokens == sorted(tokens)
        answers = torch.tensor([2, 10, 11])
        assert torch.equal(vocabulary.tokens[vocabulary.position[answers]], answers)
        assert (vocabulary.position >= 0).sum() == len(tokens)
    assert not torch.equal(
        first.tokens, second.tokens
    )  # drawn afresh: every token gets pushed down
