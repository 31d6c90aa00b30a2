"""Mixed precision trains (the loss computes its similarities in float32), attention runs on SDPA, and
``model.compile`` compiles the encoder in place."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader

from simcse_pl.losses import InfoNCE
from simcse_pl.training.module import SimCSEModule
from tiny_model import TINY_MODEL



def batch(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"input_ids": torch.randint(5, 60, (8, 1, 12), generator=g), "attention_mask": torch.ones(8, 1, 12, dtype=torch.long)}


# on CPU Lightning runs "16-mixed" as bf16 (CPU autocast has no fp16 grad scaler); a GPU runs it in fp16
@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed", "16-mixed"])
def test_trains_in_each_precision(precision: str):
    torch.manual_seed(0)
    module = SimCSEModule(model=TINY_MODEL, loss=InfoNCE(), optim={"lr": 1e-3})
    before = module.pooler.mlp.dense.weight.detach().clone()
    trainer = pl.Trainer(
        accelerator="cpu", precision=precision, max_steps=2, log_every_n_steps=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )
    trainer.fit(module, train_dataloaders=DataLoader([batch(1), batch(2)], batch_size=None))
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    assert module.pooler.mlp.dense.weight.dtype == torch.float32  # mixed precision keeps float32 weights
    assert not torch.equal(module.pooler.mlp.dense.weight, before)


def test_similarities_are_float32_under_autocast():
    z = torch.randn(4, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = InfoNCE().logits(z.bfloat16(), z.bfloat16())
    assert logits.dtype == torch.float32


def test_attention_uses_sdpa():
    module = SimCSEModule(model=TINY_MODEL, loss=InfoNCE())
    assert module.encoder.config._attn_implementation == "sdpa"


def test_compile_wraps_the_encoder_in_place():
    plain = SimCSEModule(model=TINY_MODEL, loss=InfoNCE())
    compiled = SimCSEModule(model={**TINY_MODEL, "compile": True}, loss=InfoNCE())
    assert compiled.encoder._compiled_call_impl is not None and plain.encoder._compiled_call_impl is None
    assert compiled.state_dict().keys() == plain.state_dict().keys()  # checkpoints and export unchanged
