"""GradCache (``step.mini_batch_size``): the gradients of the uncached loss, with the memory of one chunk.

Dropout stays on, to prove the RNG restore: the re-encoding pass must reuse the dropout masks of the first
pass. The uncached reference therefore encodes the same chunks in the same order (with gradients kept) from
the same seed, so it draws the same masks; encoding all rows at once would draw different ones.

The equivalence test runs in float64: GradCache sums each parameter's gradient chunk by chunk, the reference
in one backward pass, and in float32 that reordering alone moves elements by ~1e-6, CPU-dependently.
"""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader

from simcse_pl.losses import InfoNCE
from simcse_pl.training.module import SimCSEModule
from tiny_model import TINY_MODEL

CHUNK = 3  # rows per chunk: 8 sentences x 2 views = 16 rows, so the last chunk is short


def make_batch(rows: int = 8, sentences: int = 1, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 60, (rows, sentences, 12), generator=g)
    mask = (torch.arange(12) < torch.randint(4, 13, (rows, sentences, 1), generator=g)).long()
    return {"input_ids": ids * mask, "attention_mask": mask}


def make_module(mini_batch_size: int | None, dtype: torch.dtype = torch.float32) -> SimCSEModule:
    torch.manual_seed(0)
    return SimCSEModule(model=TINY_MODEL, loss=InfoNCE(tau=0.05), step={"mini_batch_size": mini_batch_size}).to(dtype)


def grads(module: SimCSEModule) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}


def loss_of(module: SimCSEModule, z: torch.Tensor) -> torch.Tensor:
    return module.objective(z)


def chunked_reference(module: SimCSEModule, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The same chunks as GradCache, encoded with gradients kept (no caching)."""
    views = 2 if batch["input_ids"].shape[1] == 1 else batch["input_ids"].shape[1]
    flat = {k: v.expand(-1, views, -1).reshape(-1, v.shape[-1]) for k, v in batch.items()}
    n = flat["input_ids"].shape[0]
    z = torch.cat([module.embed(**{k: v[i : i + CHUNK] for k, v in flat.items()}) for i in range(0, n, CHUNK)])
    return z.view(batch["input_ids"].shape[0], views, -1)


@pytest.mark.parametrize("sentences", [1, 3], ids=["unsup", "triplets"])
def test_cached_gradients_equal_the_uncached_loss(sentences: int):
    batch = make_batch(sentences=sentences)
    reference = make_module(None, torch.float64)
    torch.manual_seed(123)
    expected_loss = loss_of(reference, chunked_reference(reference, batch))
    expected_loss.backward()

    cached = make_module(CHUNK, torch.float64)
    torch.manual_seed(123)
    loss = loss_of(cached, cached(batch))
    loss.backward()

    assert loss.dtype == torch.float64
    assert loss.item() == pytest.approx(expected_loss.item(), rel=1e-12)
    expected = grads(reference)
    assert grads(cached).keys() == expected.keys()
    scale = max(g.abs().max().item() for g in expected.values())  # some gradients are rounding noise around 0
    for name, g in grads(cached).items():
        torch.testing.assert_close(g, expected[name], rtol=1e-9, atol=1e-12 * scale, msg=name)


def test_dropout_is_on_so_the_masks_matter():
    module, batch = make_module(None), make_batch()
    with torch.no_grad():
        assert not torch.allclose(module(batch), module(batch))


def saved_bytes(module: SimCSEModule, batch: dict[str, torch.Tensor]) -> int:
    """Bytes autograd keeps for the backward pass after the forward and the loss."""
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss_of(module, module(batch))
    return total


def test_cached_forward_keeps_no_encoder_activations():
    batch = make_batch(rows=32)
    assert saved_bytes(make_module(4), batch) < saved_bytes(make_module(None), batch) / 10


def test_trains_under_lightning_automatic_optimization():
    module = make_module(CHUNK)
    before = {n: p.detach().clone() for n, p in module.named_parameters() if p.requires_grad}
    trainer = pl.Trainer(
        accelerator="cpu", max_steps=2, log_every_n_steps=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )
    trainer.fit(module, train_dataloaders=DataLoader([make_batch(seed=1), make_batch(seed=2)], batch_size=None))
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    changed = [n for n, p in module.named_parameters() if p.requires_grad and not torch.equal(p, before[n])]
    assert "pooler.mlp.dense.weight" in changed and "encoder.embeddings.word_embeddings.weight" in changed
