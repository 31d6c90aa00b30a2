"""Negatives across devices: under DDP every rank's loss sees the embeddings of the whole global batch.

As the official SimCSE does, each rank gathers all ranks' embeddings and scores its own anchors against all
of them. The gather keeps gradients (``sync_grads``): its backward sums every rank's gradient for a slice
onto the rank that computed it, so once DDP has averaged the parameter gradients over ranks they are those
of one process training on the concatenated batch (tests/unit/test_ddp_gather.py).
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import Tensor


def gather_batch(module: pl.LightningModule, z: Tensor) -> tuple[Tensor, slice, float]:
    """All ranks' ``z`` (``[B_r, ...]``) concatenated in rank order, the rows this rank owns, and the weight
    of this rank's mean loss that makes the mean over ranks the mean over all anchors.

    Ranks hold equal batches except on the last step with ``data.drop_last=false``: then rows are padded
    to the largest rank's for the gather, dropped after it, and each rank's loss is weighted ``W·B_r/ΣB``.
    """
    sizes = module.all_gather(torch.tensor(z.shape[0], device=z.device)).tolist()
    largest, rank = max(sizes), module.global_rank
    padded = F.pad(z, (0, 0) * (z.dim() - 1) + (0, largest - z.shape[0]))
    gathered = module.all_gather(padded, sync_grads=True)
    start = sum(sizes[:rank])
    everyone = torch.cat([gathered[r, :n] for r, n in enumerate(sizes)])
    return everyone, slice(start, start + sizes[rank]), len(sizes) * sizes[rank] / sum(sizes)
