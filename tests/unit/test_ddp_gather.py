"""Cross-device negatives: 2 CPU processes (gloo) give the loss and gradients of 1 process on the whole batch.

Both runs are in float64 (``precision="64-true"``): the two processes sum the gradients in another order than
the one process does, which in float32 moves single elements by ~1e-5 relative, differently on each CPU
(AVX2 vs AVX-512 kernels). In float64 the same reordering moves them by ~1e-14, so the tolerance below can be
tight enough that a real mistake (a gather without gradients, a missing all-reduce) fails by many orders of
magnitude, and no CPU's rounding does.

Dropout is switched off in the tiny model's config: the 1-process and 2-process runs encode the same
sentences in different processes and batch shapes, so their dropout masks could never match, and the test
is about the gather, not dropout. The learning rate is 0 so every step sees the same weights.

The ranks are forked (``ddp_fork``), not spawned: no re-import, a few seconds instead of a minute. A forked
child must not run OpenMP-parallel ops (libgomp is not fork-safe), so each rank computes on one thread.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, IterableDataset

from simcse_pl.losses import InfoNCE
from simcse_pl.module import SimCSEModule

TINY = {
    "name_or_path": None,
    "random_init": {
        "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
        "max_position_embeddings": 64, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
    },
    "pooler": "cls",
    "mlp_only_train": False,
}


def make_batch(rows: int, sentences: int, seed: int) -> dict[str, torch.Tensor]:
    """``[rows, sentences, 12]`` random token ids with ragged padding."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 60, (rows, sentences, 12), generator=g)
    lengths = torch.randint(4, 13, (rows, sentences), generator=g)
    mask = (torch.arange(12) < lengths.unsqueeze(-1)).long()
    return {"input_ids": ids * mask, "attention_mask": mask}


# the global batch of each step: triplets (hard negatives gathered too), single sentences, and a last
# step split unevenly (3 + 2 rows), as data.drop_last=false can produce
STEPS = [(make_batch(8, 3, 0), [4, 4]), (make_batch(8, 1, 1), [4, 4]), (make_batch(5, 1, 2), [3, 2])]


class RankSlices(IterableDataset):
    """Each step's global batch, or this DDP rank's rows of it."""

    def __iter__(self):
        rank = dist.get_rank() if dist.is_initialized() else None
        for batch, split in STEPS:
            if rank is None:
                yield batch
            else:
                start = sum(split[:rank])
                yield {k: v[start : start + split[rank]] for k, v in batch.items()}


class Record(pl.Callback):
    """Saves each step's loss and (DDP-averaged) parameter gradients to ``<out>/rank<r>.pt``."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.losses: list[torch.Tensor] = []
        self.grads: list[dict[str, torch.Tensor]] = []

    def setup(self, trainer, pl_module, stage) -> None:
        if trainer.world_size > 1:
            torch.set_num_threads(1)  # see the module docstring: forked ranks stay single-threaded

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.grads.append({n: p.grad.clone() for n, p in pl_module.named_parameters() if p.grad is not None})

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(outputs["loss"].detach().clone())

    def on_train_end(self, trainer, pl_module) -> None:
        torch.save({"losses": self.losses, "grads": self.grads}, self.out / f"rank{trainer.global_rank}.pt")


def fit(out: Path, devices: int, mini_batch_size: int | None = None) -> None:
    torch.manual_seed(0)
    module = SimCSEModule(
        model=TINY, loss=InfoNCE(tau=0.05), optim={"lr": 0.0}, step={"mini_batch_size": mini_batch_size}
    )
    trainer = pl.Trainer(
        accelerator="cpu", devices=devices, strategy="ddp_fork" if devices > 1 else "auto",
        max_steps=len(STEPS), precision="64-true", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, use_distributed_sampler=False, callbacks=[Record(out)],
    )
    trainer.fit(module, train_dataloaders=DataLoader(RankSlices(), batch_size=None))


@pytest.mark.parametrize("mini_batch_size", [None, 3], ids=["plain", "gradcache"])
def test_two_processes_match_one_on_the_concatenated_batch(tmp_path: Path, mini_batch_size: int | None):
    """With GradCache too: its re-encoding passes must reach DDP's gradient all-reduce exactly once."""
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    fit(tmp_path / "two", devices=2, mini_batch_size=mini_batch_size)
    fit(tmp_path / "one", devices=1)
    one = torch.load(tmp_path / "one" / "rank0.pt")
    ranks = [torch.load(tmp_path / "two" / f"rank{r}.pt") for r in range(2)]
    for step in range(len(STEPS)):
        mean_loss = sum(r["losses"][step] for r in ranks) / 2
        assert one["losses"][step].dtype == torch.float64
        assert mean_loss.item() == pytest.approx(one["losses"][step].item(), rel=1e-10), f"step {step}"
        assert one["grads"][step].keys() == ranks[0]["grads"][step].keys()
        # the step's largest gradient element sets the absolute tolerance: some gradients are exactly zero in
        # theory (a key bias does not change a softmax) and hold only rounding noise
        scale = max(g.abs().max().item() for g in one["grads"][step].values())
        for name, expected in one["grads"][step].items():
            assert expected.dtype == torch.float64, name
            for r in ranks:
                torch.testing.assert_close(
                    r["grads"][step][name], expected, rtol=1e-8, atol=1e-10 * scale, msg=f"step {step} {name}"
                )
