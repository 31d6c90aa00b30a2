"""InfoNCE over cosine similarity: SimCSE's objective, unsupervised and supervised."""

from __future__ import annotations

from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from simcse_pl.checks import finite, greater
from simcse_pl.losses.base import Objective, anchor_index, cosine_matrix


class InfoNCE(Objective):
    r"""InfoNCE over cosine similarity / τ (SimCSE, Gao et al. 2021, eq. 1 and eq. 5).

    Columns of ``z``: anchors ``z1 = z[:, 0]`` (first dropout view / premise), positives ``z2 = z[:, 1]`` (second
    view / entailment), hard negatives ``z3 = z[:, 2]`` when there is a third column (contradiction). ``s`` is
    cosine similarity.

    ``negatives="cross_view"`` (the paper; default): anchor ``i`` against all ``N`` positives, its own included,
    and (supervised) all ``N`` hard negatives:

        ℓ_i = −log  e^{s(z1_i, z2_i)/τ} / ( Σ_j e^{s(z1_i, z2_j)/τ} + Σ_j α^{[j=i]} e^{s(z1_i, z3_j)/τ} )

    ``negatives="all_views"`` (SimCLR's NT-Xent): the denominator also holds the other anchors,
    ``Σ_{k≠i} e^{s(z1_i, z1_k)/τ}``, never the anchor itself.

    ``decoupled=True`` (DCL, Yeh et al. 2022, "Decoupled Contrastive Learning"): the positive term leaves the
    denominator (``j ≠ i`` in its first sum), which removes the negative-positive coupling that makes InfoNCE's
    gradient shrink with small batches: ``ℓ_i = −s(z1_i, z2_i)/τ + log(Σ_{j≠i} e^{s(z1_i, z2_j)/τ} + …)``.

    ``symmetric=True`` averages both directions (z1→z2 and z2→z1; hard negatives enter the z1→z2 one only).
    ``hard_negative_weight`` is SimCSE's ``log α``, added to the logit of the anchor's own hard negative
    (0: unweighted, the paper's choice). The loss is the mean over anchors (``per_anchor``).

    When to use: unsupervised SimCSE (text only: the two dropout views are the pair) and supervised SimCSE on
    NLI triplets or any (anchor, positive[, hard negative]) data.
    """

    def __init__(
        self,
        tau: Annotated[float, greater(0)] = 0.05,
        negatives: Literal["cross_view", "all_views"] = "cross_view",
        symmetric: bool = False,
        decoupled: bool = False,
        hard_negative_weight: Annotated[float, finite()] = 0.0,
    ) -> None:
        super().__init__()
        self.tau = float(tau)
        self.negatives = negatives
        self.symmetric = symmetric
        self.decoupled = decoupled
        self.hard_negative_weight = float(hard_negative_weight)

    def logits(self, z1: Tensor, z2: Tensor, z3: Tensor | None = None, rows: slice | None = None) -> Tensor:
        """Logits of the anchors ``z1[rows]``: columns are z2 (N), then z3 (N) and/or z1 (N) when used."""
        index = anchor_index(z1.shape[0], rows, z1.device)
        anchors = z1[index]
        blocks = [cosine_matrix(anchors, z2) / self.tau]
        if z3 is not None:
            hard = cosine_matrix(anchors, z3) / self.tau
            if self.hard_negative_weight:
                hard = hard + self.hard_negative_weight * F.one_hot(index, num_classes=z3.shape[0]).to(hard.dtype)
            blocks.append(hard)
        if self.negatives == "all_views":
            same = cosine_matrix(anchors, z1) / self.tau
            blocks.append(same.masked_fill(F.one_hot(index, num_classes=z1.shape[0]).bool(), float("-inf")))
        return torch.cat(blocks, dim=1)

    def _direction(self, z1: Tensor, z2: Tensor, z3: Tensor | None, rows: slice | None) -> Tensor:
        logits = self.logits(z1, z2, z3, rows)
        targets = anchor_index(z1.shape[0], rows, z1.device)
        if not self.decoupled:
            return F.cross_entropy(logits, targets)
        positive = logits.gather(1, targets[:, None]).squeeze(1)
        negatives = logits.scatter(1, targets[:, None], float("-inf"))
        return (torch.logsumexp(negatives, dim=1) - positive).mean()

    def forward(self, z: Tensor, labels: Tensor | None = None, rows: slice | None = None) -> Tensor:
        z1, z2 = z[:, 0], z[:, 1]
        z3 = z[:, 2] if z.shape[1] > 2 else None
        loss = self._direction(z1, z2, z3, rows)
        if self.symmetric:
            loss = (loss + self._direction(z2, z1, None, rows)) / 2
        return loss
