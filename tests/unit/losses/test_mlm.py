"""The auxiliary MLM objective: BERT's masking, the pretrained head (tied to the encoder), the module switch."""

from __future__ import annotations

import logging

import lightning.pytorch as pl
import pytest
import torch
from transformers import BertConfig, BertForMaskedLM, BertModel

from simcse_pl.losses import InfoNCE
from simcse_pl.losses.mlm import IGNORE, MaskedLM, load_mlm_head, mask_tokens
from simcse_pl.training.module import SimCSEModule
from tiny_model import TINY_BERT, TINY_MODEL

CONFIG = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, vocab_size=50)
TINY = {**TINY_MODEL, "random_init": {k: v for k, v in TINY_BERT.items() if k != "max_position_embeddings"}
        | {"num_hidden_layers": 1}, "mlp_only_train": False}


def test_masking_follows_bert_80_10_10_on_maskable_tokens_only():
    torch.manual_seed(0)
    ids = torch.randint(10, 50, (400, 50))
    maskable = torch.ones_like(ids, dtype=torch.bool)
    maskable[:, 0] = maskable[:, -5:] = False  # [CLS], padding / [SEP]
    masked, labels = mask_tokens(ids, maskable, mask_token_id=4, vocab_size=50, probability=0.15)
    chosen = labels != IGNORE
    assert not chosen[~maskable].any() and torch.equal(masked[~maskable], ids[~maskable])
    assert torch.equal(labels[chosen], ids[chosen])
    assert chosen.sum().item() / maskable.sum().item() == pytest.approx(0.15, abs=0.01)
    assert torch.equal(masked[~chosen], ids[~chosen])
    to_mask = (masked[chosen] == 4).float().mean().item()
    kept = (masked[chosen] == ids[chosen]).float().mean().item()
    assert to_mask == pytest.approx(0.8, abs=0.02)
    assert kept == pytest.approx(0.1 + 0.1 / 50, abs=0.02)  # 10% kept, plus random draws of the same id


def test_pretrained_head_is_loaded_and_tied_to_the_encoder(tmp_path, caplog):
    torch.manual_seed(0)
    BertForMaskedLM(BertConfig(**CONFIG)).save_pretrained(tmp_path / "with_head")
    reference = BertForMaskedLM.from_pretrained(tmp_path / "with_head")
    encoder = BertModel.from_pretrained(tmp_path / "with_head")
    with caplog.at_level(logging.WARNING):
        head = load_mlm_head(encoder, str(tmp_path / "with_head"))
    assert "no pretrained MLM head" not in caplog.text
    assert torch.equal(head.predictions.transform.dense.weight, reference.cls.predictions.transform.dense.weight)
    assert head.predictions.decoder.weight is encoder.get_input_embeddings().weight


def test_checkpoint_without_head_warns_and_starts_a_random_head(tmp_path, caplog):
    BertModel(BertConfig(**CONFIG)).save_pretrained(tmp_path / "encoder_only")
    encoder = BertModel.from_pretrained(tmp_path / "encoder_only")
    with caplog.at_level(logging.WARNING):
        load_mlm_head(encoder, str(tmp_path / "encoder_only"))
    assert "no pretrained MLM head" in caplog.text


def test_mlm_loss_trains_encoder_and_head():
    torch.manual_seed(0)
    encoder = BertModel(BertConfig(**CONFIG))
    objective = MaskedLM()
    objective.head, objective.mask_token_id, objective.vocab_size = load_mlm_head(encoder, None), 4, 50
    objective.special_ids = torch.tensor([0, 2, 3])
    ids = torch.randint(5, 50, (8, 12))
    loss = objective.masked_lm_loss(encoder, ids, torch.ones_like(ids))
    assert loss.item() == pytest.approx(torch.log(torch.tensor(50.0)).item(), rel=0.2)  # untrained: ~uniform
    loss.backward()
    assert encoder.embeddings.word_embeddings.weight.grad.abs().sum() > 0
    assert objective.head.predictions.transform.dense.weight.grad.abs().sum() > 0


def test_module_adds_the_weighted_mlm_as_an_auxiliary_objective():
    assert len(SimCSEModule(model=TINY, loss=InfoNCE()).auxiliaries) == 0
    module = SimCSEModule(model=TINY, loss=InfoNCE(), auxiliaries={"mlm": MaskedLM(weight=0.1, probability=0.3)})
    assert (module.auxiliaries["mlm"].weight, module.auxiliaries["mlm"].probability) == (0.1, 0.3)
    # the head's output layer is the encoder's embedding matrix: one parameter, trained by both objectives
    assert sum(p is module.encoder.get_input_embeddings().weight for p in module.parameters()) == 1
    module.trainer = pl.Trainer(accelerator="cpu", logger=False, log_every_n_steps=1, enable_progress_bar=False)
    logged = {}
    module.log = lambda name, value, **_: logged.setdefault(name, value.detach())
    ids = torch.randint(5, 40, (4, 3, 10))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}
    module.training_step(batch, 0)
    assert logged["train/mlm_loss"] > 0
