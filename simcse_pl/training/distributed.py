"""Negatives across devices: under DDP every process's objective sees the vectors of the whole global batch.

As the official SimCSE does, each process gathers all processes' vectors and scores its own anchors against all
of them. The gather keeps gradients (``sync_grads``): its backward sums every process's gradient for a slice
onto the process that computed it, so once DDP has averaged the parameter gradients they are those of one
process training on the concatenated batch (tests/unit/training/test_ddp_gather.py). Labels travel along (no gradients).
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import Tensor


def _gather_rows(module: pl.LightningModule, x: Tensor, sizes: list[int], sync_grads: bool) -> Tensor:
    """All processes' ``x`` (``[B_r, ...]``) concatenated in rank order; rows are padded to the largest
    process's count for the collective and dropped after it."""
    padded = F.pad(x, (0, 0) * (x.dim() - 1) + (0, max(sizes) - x.shape[0]))
    gathered = module.all_gather(padded, sync_grads=sync_grads)
    return torch.cat([gathered[r, :n] for r, n in enumerate(sizes)])


def gather_batch(
    module: pl.LightningModule, z: Tensor, labels: Tensor | None = None
) -> tuple[Tensor, Tensor | None, slice, float]:
    """The global batch's vectors and labels, the rows this process owns, and the weight of this process's
    per-anchor mean that makes the mean over processes the mean over all anchors.

    Processes hold equal batches except on the last step with ``data.drop_last=false``: then each mean is
    weighted ``W·B_r/ΣB``.
    """
    sizes = module.all_gather(torch.tensor(z.shape[0], device=z.device)).tolist()
    rank = module.global_rank
    everyone = _gather_rows(module, z, sizes, sync_grads=True)
    all_labels = _gather_rows(module, labels, sizes, sync_grads=False) if labels is not None else None
    start = sum(sizes[:rank])
    return everyone, all_labels, slice(start, start + sizes[rank]), len(sizes) * sizes[rank] / sum(sizes)
