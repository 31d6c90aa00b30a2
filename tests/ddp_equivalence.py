"""Machinery for the DDP equivalence tests: the same steps trained by 2 CPU processes (gloo) and by 1 process on
the concatenated batch, in float64, recording each step's loss and DDP-averaged gradients for comparison.
Used by tests/unit/training/test_ddp_gather.py for InfoNCE and by the tests of every other objective.

Dropout is switched off in the tiny model's config: the 1-process and 2-process runs encode the same
sentences in different processes and batch shapes, so their dropout masks could never match, and the tests
are about the gather, not dropout. The learning rate is 0 so every step sees the same weights.

The ranks are forked (``ddp_fork``), not spawned: no re-import, a few seconds instead of a minute. A forked
child must not run OpenMP-parallel ops (libgomp is not fork-safe), so each rank computes on one thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, IterableDataset

from simcse_pl.losses.base import Objective
from simcse_pl.training.module import SimCSEModule
from tiny_model import NO_DROPOUT_BERT, TINY_MODEL

TINY = {**TINY_MODEL, "random_init": NO_DROPOUT_BERT, "mlp_only_train": False}
Step = tuple[dict[str, torch.Tensor], list[int]]  # a global batch and how many rows each of 2 ranks holds


def make_batch(rows: int, sentences: int, seed: int, labels: str | None = None) -> dict[str, torch.Tensor]:
    """``[rows, sentences, 12]`` random token ids with ragged padding; ``labels`` "float" adds scores in [0, 5],
    "int" classes in {0, 1}."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 60, (rows, sentences, 12), generator=g)
    lengths = torch.randint(4, 13, (rows, sentences), generator=g)
    mask = (torch.arange(12) < lengths.unsqueeze(-1)).long()
    batch = {"input_ids": ids * mask, "attention_mask": mask}
    if labels == "float":
        batch["labels"] = torch.rand(rows, generator=g, dtype=torch.float64) * 5
    elif labels == "int":
        batch["labels"] = torch.randint(0, 2, (rows,), generator=g)
    return batch


class RankSlices(IterableDataset):
    """Each step's global batch, or this DDP rank's rows of it."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps

    def __iter__(self):
        rank = dist.get_rank() if dist.is_initialized() else None
        for batch, split in self.steps:
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


def fit(out: Path, devices: int, make_objective: Callable[[], Objective], steps: list[Step],
        mini_batch_size: int | None = None) -> None:
    torch.manual_seed(0)
    module = SimCSEModule(model=TINY, loss=make_objective(), optim={"lr": 0.0}, step={"mini_batch_size": mini_batch_size})
    trainer = pl.Trainer(
        accelerator="cpu", devices=devices, strategy="ddp_fork" if devices > 1 else "auto",
        max_steps=len(steps), precision="64-true", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, use_distributed_sampler=False, callbacks=[Record(out)],
    )
    trainer.fit(module, train_dataloaders=DataLoader(RankSlices(steps), batch_size=None))


def assert_two_processes_match_one(tmp_path: Path, make_objective: Callable[[], Objective], steps: list[Step],
                                   mini_batch_size: int | None = None) -> None:
    """2 processes (with GradCache when ``mini_batch_size``) give the mean loss and the gradients of 1 process on
    the concatenated batch, in float64, to 1e-10 relative to the step's largest gradient element."""
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    fit(tmp_path / "two", 2, make_objective, steps, mini_batch_size)
    fit(tmp_path / "one", 1, make_objective, steps)
    _assert_same(torch.load(tmp_path / "one" / "rank0.pt"), [torch.load(tmp_path / "two" / f"rank{r}.pt") for r in range(2)], steps)


def assert_gradcache_matches_plain(tmp_path: Path, make_objective: Callable[[], Objective], steps: list[Step],
                                   mini_batch_size: int = 3) -> None:
    """One process with GradCache gives the loss and gradients of one process without it (float64)."""
    (tmp_path / "plain").mkdir()
    (tmp_path / "cached").mkdir()
    fit(tmp_path / "cached", 1, make_objective, steps, mini_batch_size)
    fit(tmp_path / "plain", 1, make_objective, steps)
    _assert_same(torch.load(tmp_path / "plain" / "rank0.pt"), [torch.load(tmp_path / "cached" / "rank0.pt")], steps)


def _assert_same(one: dict, ranks: list[dict], steps: list[Step]) -> None:
    for step in range(len(steps)):
        mean_loss = sum(r["losses"][step] for r in ranks) / len(ranks)
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
