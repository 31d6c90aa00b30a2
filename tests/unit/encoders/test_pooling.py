import pytest
import torch

from simcse_pl.errors import NotExportable
from simcse_pl.encoders.poolers import build_pooler

# batch of 2, length 3, dim 2; the second sentence has one padding token
MASK = torch.tensor([[1, 1, 1], [1, 1, 0]])
LAYER0 = torch.tensor([[[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]])
LAYER1 = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [[2.0, 2.0], [4.0, 4.0], [100.0, 100.0]]])
LAYER2 = torch.tensor([[[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]], [[3.0, 3.0], [5.0, 5.0], [-50.0, -50.0]]])
LAST = torch.tensor([[[7.0, 8.0], [9.0, 10.0], [11.0, 12.0]], [[6.0, 0.0], [2.0, 4.0], [999.0, 999.0]]])
HIDDEN = (LAYER0, LAYER1, LAYER2, LAST)


def pool(kind, **kw):
    return build_pooler(kind, hidden_size=2, **kw).eval()(LAST, MASK, HIDDEN)


def test_cls_before_pooler_takes_first_token():
    assert torch.equal(pool("cls_before_pooler"), torch.tensor([[7.0, 8.0], [6.0, 0.0]]))


def test_avg_ignores_padding():
    assert torch.allclose(pool("avg"), torch.tensor([[9.0, 10.0], [4.0, 2.0]]))


def test_avg_first_last_uses_first_transformer_layer_and_last():
    # ((LAYER1 + LAST) / 2) averaged over real tokens
    expected = torch.tensor([[(1 + 7 + 3 + 9 + 5 + 11) / 6, (2 + 8 + 4 + 10 + 6 + 12) / 6], [(2 + 6 + 4 + 2) / 4, (2 + 0 + 4 + 4) / 4]])
    assert torch.allclose(pool("avg_first_last"), expected)


def test_avg_top2_uses_last_two_layers():
    expected = torch.tensor([[(1 + 7 + 1 + 9 + 1 + 11) / 6, (1 + 8 + 1 + 10 + 1 + 12) / 6], [(3 + 6 + 5 + 2) / 4, (3 + 0 + 5 + 4) / 4]])
    assert torch.allclose(pool("avg_top2"), expected)


def test_cls_applies_mlp_head():
    pooler = build_pooler("cls", hidden_size=2).eval()
    expected = torch.tanh(pooler.mlp.dense(LAST[:, 0]))
    assert torch.allclose(pooler(LAST, MASK, HIDDEN), expected)


def test_mlp_only_in_training():
    pooler = build_pooler("cls", hidden_size=2, mlp_only_train=True)
    with_head = torch.tanh(pooler.mlp.dense(LAST[:, 0]))
    assert torch.allclose(pooler.train()(LAST, MASK, HIDDEN), with_head)
    assert torch.equal(pooler.eval()(LAST, MASK, HIDDEN), LAST[:, 0])
    assert not pooler.uses_mlp_at_inference
    assert build_pooler("cls", hidden_size=2, mlp_only_train=False).uses_mlp_at_inference


def test_unknown_pooler_names_the_key():
    with pytest.raises(ValueError, match="model.pooler='max'"):
        build_pooler("max", hidden_size=2)


def test_mean_is_avg_by_another_name():
    assert torch.equal(pool("mean"), pool("avg"))


def test_last_token_takes_the_last_real_token_with_either_padding():
    assert torch.equal(pool("last_token"), torch.tensor([[11.0, 12.0], [2.0, 4.0]]))
    left_mask = torch.tensor([[1, 1, 1], [0, 1, 1]])
    left = build_pooler("last_token", hidden_size=2).eval()(LAST, left_mask, HIDDEN)
    assert torch.equal(left, torch.tensor([[11.0, 12.0], [999.0, 999.0]]))


def test_mask_pooler_takes_the_given_positions_and_needs_them():
    pooler = build_pooler("mask", hidden_size=2, mlp_only_train=True).eval()  # PromptBERT's head: in training only
    assert torch.equal(pooler(LAST, MASK, HIDDEN, positions=torch.tensor([1, 0])), torch.tensor([[9.0, 10.0], [6.0, 0.0]]))
    with pytest.raises(ValueError, match="pooler 'mask' reads the mask token of a prompt template"):
        pooler(LAST, MASK, HIDDEN)


@pytest.mark.parametrize("kind, modes", [
    ("cls", ["cls", "Dense"]), ("cls_before_pooler", ["cls"]), ("avg", ["mean"]), ("mean", ["mean"]),
    ("last_token", ["lasttoken"]),
])
def test_each_pooler_names_its_sentence_transformers_modules(kind, modes):
    modules = build_pooler(kind, hidden_size=2).sentence_transformers(2)
    names = [getattr(m, "pooling_mode", type(m).__name__) for m in modules]
    assert names == modes


@pytest.mark.parametrize("kind, reason", [
    ("avg_first_last", "averages two layers"), ("avg_top2", "averages two layers"),
    ("mask", "takes the mask token inside the prompt template"),
])
def test_poolers_without_a_sentence_transformers_equivalent_say_why(kind, reason):
    with pytest.raises(NotExportable, match=reason):
        build_pooler(kind, hidden_size=2).sentence_transformers(2)
