"""Contrastive objectives. One class per loss; each docstring gives its formula.

Notation: ``z1`` anchors (first views / premises), ``z2`` positives (second dropout views / entailments),
``z3`` optional hard negatives (contradictions), all ``[N, d]``; ``s`` is cosine similarity, ``τ`` the
temperature. Under DDP the module passes the *global* batch (gathered with gradients) and ``anchor_rows``,
the slice of anchors this rank owns, so every rank's anchors see every rank's sentences as negatives.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NEGATIVES = ("cross_view", "all_views")


def cosine_matrix(a: Tensor, b: Tensor) -> Tensor:
    """Pairwise cosine similarity, computed in at least float32 so bf16/fp16 training keeps a precise softmax
    (autocast would run the matmul in half precision even on float32 inputs, so it is switched off here);
    float64 inputs stay float64 (the equivalence tests run in double precision)."""
    dtype = torch.promote_types(a.dtype, torch.float32)
    with torch.autocast(a.device.type, enabled=False):
        return F.normalize(a.to(dtype), dim=-1) @ F.normalize(b.to(dtype), dim=-1).T


class InfoNCE(nn.Module):
    r"""InfoNCE over cosine similarity (SimCSE eq. 1 and eq. 5).

    ``negatives="cross_view"`` (the paper; default): anchor ``i`` is scored against all ``N`` second views,
    its own positive included, and (supervised) all ``N`` hard negatives:

        ℓ_i = −log  e^{s(z1_i, z2_i)/τ} / ( Σ_j e^{s(z1_i, z2_j)/τ} + Σ_j α^{[j=i]} e^{s(z1_i, z3_j)/τ} )

    ``negatives="all_views"`` (SimCLR's NT-Xent): the denominator also holds the other first views,
    ``Σ_{k≠i} e^{s(z1_i, z1_k)/τ}``, never the anchor itself.

    ``symmetric=True`` averages the loss of both directions (z1→z2 and z2→z1; hard negatives only
    enter the z1→z2 direction). ``hard_negative_weight`` is SimCSE's ``log α``: it is added to the logit of
    the anchor's own hard negative only (0 = unweighted). The loss is averaged over anchors.

    ``gather`` and ``mini_batch_size`` do not change the formula, only the batch it sees; the module reads
    them. ``gather``: under DDP the batch is every rank's sentences (simcse_pl/distributed.py).
    ``mini_batch_size=K``: GradCache, the encoder's memory is that of K sentences (simcse_pl/gradcache.py).
    """

    def __init__(
        self,
        tau: float = 0.05,
        negatives: str = "cross_view",
        symmetric: bool = False,
        hard_negative_weight: float = 0.0,
        gather: bool = True,
        mini_batch_size: int | None = None,
    ) -> None:
        super().__init__()
        if not tau > 0:
            raise ValueError(f"loss.tau must be > 0 (got {tau})")
        if negatives not in NEGATIVES:
            raise ValueError(f"loss.negatives={negatives!r} is not one of {', '.join(NEGATIVES)}")
        self.tau = float(tau)
        self.negatives = negatives
        self.symmetric = symmetric
        self.hard_negative_weight = float(hard_negative_weight)
        if mini_batch_size is not None and mini_batch_size < 1:
            raise ValueError(f"loss.mini_batch_size must be >= 1 or null (got {mini_batch_size})")
        self.gather = gather
        self.mini_batch_size = mini_batch_size

    def logits(self, z1: Tensor, z2: Tensor, z3: Tensor | None = None, anchor_rows: slice | None = None) -> Tensor:
        """Logits of anchors ``z1[anchor_rows]``: columns are z2 (N), then z3 (N) or z1 (N) if used."""
        rows = anchor_rows or slice(0, z1.shape[0])
        anchors = z1[rows]
        index = torch.arange(z1.shape[0], device=z1.device)[rows]
        blocks = [cosine_matrix(anchors, z2) / self.tau]
        if z3 is not None:
            hard = cosine_matrix(anchors, z3) / self.tau
            if self.hard_negative_weight:
                own = F.one_hot(index, num_classes=z3.shape[0]).to(hard.dtype)
                hard = hard + self.hard_negative_weight * own
            blocks.append(hard)
        if self.negatives == "all_views":
            same = cosine_matrix(anchors, z1) / self.tau
            same = same.masked_fill(F.one_hot(index, num_classes=z1.shape[0]).bool(), float("-inf"))
            blocks.append(same)
        return torch.cat(blocks, dim=1)

    def forward(self, z1: Tensor, z2: Tensor, z3: Tensor | None = None, anchor_rows: slice | None = None) -> Tensor:
        rows = anchor_rows or slice(0, z1.shape[0])
        labels = torch.arange(z1.shape[0], device=z1.device)[rows]
        loss = F.cross_entropy(self.logits(z1, z2, z3, rows), labels)
        if self.symmetric:
            loss = (loss + F.cross_entropy(self.logits(z2, z1, None, rows), labels)) / 2
        return loss

