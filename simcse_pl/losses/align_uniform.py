"""Alignment + uniformity (Wang & Isola 2020), the two properties SimCSE's analysis tracks, as a loss."""

from typing import Annotated

import torch
import torch.nn.functional as F
from torch import Tensor

from simcse_pl.checks import at_least, greater
from simcse_pl.losses.base import Objective


class AlignUniform(Objective):
    r"""ℓ = E_i ‖x_i − y_i‖^α + w · log E_{j≠k} e^{−t ‖u_j − u_k‖²} over unit vectors (Wang & Isola 2020,
    "Understanding Contrastive Representation Learning through Alignment and Uniformity on the Hypersphere").

    ``x = z[:, 0]``, ``y = z[:, 1]`` are the positive pairs (two dropout views, or a pair of texts); ``u`` are all
    the batch's vectors of both columns. The uniformity term couples every vector with every other, so the
    loss is over the whole batch (``per_anchor = False``). When to use: as an alternative to InfoNCE that
    optimises the two properties directly; the paper's defaults are α = 2, t = 2, w = 1.
    """

    per_anchor = False

    def __init__(
        self,
        alpha: Annotated[float, greater(0)] = 2.0,
        t: Annotated[float, greater(0)] = 2.0,
        weight: Annotated[float, at_least(0)] = 1.0,
    ) -> None:
        super().__init__()
        self.alpha, self.t, self.weight = float(alpha), float(t), float(weight)

    def forward(self, z: Tensor, labels: Tensor | None = None, rows: slice | None = None) -> Tensor:
        unit = F.normalize(z[:, :2].to(torch.promote_types(z.dtype, torch.float32)), dim=-1)
        align = (unit[:, 0] - unit[:, 1]).norm(dim=-1).pow(self.alpha).mean()
        everyone = unit.reshape(-1, unit.shape[-1])
        uniform = torch.pdist(everyone).pow(2).mul(-self.t).exp().mean().log()
        return align + self.weight * uniform
