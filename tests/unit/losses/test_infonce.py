"""InfoNCE in every variant against a numpy reference written from the formulas (value and gradients):
cross_view / all_views, symmetric, decoupled, hard negatives with log α, and a process's rows of a global batch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from objective_checks import check_value_and_gradients, cos
from simcse_pl.losses import InfoNCE


def reference(tau=0.05, negatives="cross_view", symmetric=False, decoupled=False, log_alpha=0.0):
    """−mean_{i∈rows} log e^{s_ii/τ} / Σ_{columns} e^{·}, with the denominator each variant describes."""

    def direction(z1, z2, z3, rows):
        n = len(z1)
        total, anchors = 0.0, range(n)[rows or slice(0, n)]
        for i in anchors:
            positive = cos(z1[i], z2[i]) / tau
            terms = [cos(z1[i], z2[j]) / tau for j in range(n) if not (decoupled and j == i)]
            if z3 is not None:
                terms += [cos(z1[i], z3[j]) / tau + (log_alpha if j == i else 0.0) for j in range(n)]
            if negatives == "all_views":
                terms += [cos(z1[i], z1[k]) / tau for k in range(n) if k != i]
            total += -positive + math.log(sum(math.exp(t) for t in terms))
        return total / len(anchors)

    def loss(z: np.ndarray, labels, rows) -> float:
        z3 = z[:, 2] if z.shape[1] > 2 else None
        value = direction(z[:, 0], z[:, 1], z3, rows)
        return (value + direction(z[:, 1], z[:, 0], None, rows)) / 2 if symmetric else value

    return loss


VARIANTS = {
    "paper": {},
    "tau_0.5": {"tau": 0.5},
    "all_views": {"negatives": "all_views"},
    "symmetric": {"symmetric": True},
    "decoupled": {"decoupled": True},
    "decoupled_all_views_symmetric": {"decoupled": True, "negatives": "all_views", "symmetric": True},
}


@pytest.mark.parametrize("kwargs", list(VARIANTS.values()), ids=list(VARIANTS))
@pytest.mark.parametrize("rows", [None, slice(2, 5)], ids=["all_rows", "rows_2_5"])
def test_unsupervised_variants(kwargs, rows):
    z = torch.randn(6, 2, 4, generator=torch.Generator().manual_seed(0))
    check_value_and_gradients(InfoNCE(**kwargs), reference(**kwargs), z, rows=rows)


@pytest.mark.parametrize("alpha", [1.0, 2.0, 0.5])
@pytest.mark.parametrize("decoupled", [False, True])
def test_hard_negatives_with_alpha(alpha, decoupled):
    z = torch.randn(5, 3, 4, generator=torch.Generator().manual_seed(1))
    objective = InfoNCE(tau=0.1, hard_negative_weight=math.log(alpha), decoupled=decoupled)
    check_value_and_gradients(objective, reference(0.1, decoupled=decoupled, log_alpha=math.log(alpha)), z, rows=slice(1, 4))


def test_decoupled_drops_exactly_the_positive_from_the_denominator():
    z = torch.randn(4, 2, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    coupled, decoupled = InfoNCE(tau=0.5)(z), InfoNCE(tau=0.5, decoupled=True)(z)
    logits = InfoNCE(tau=0.5).logits(z[:, 0], z[:, 1])
    positive = logits.diagonal()
    # coupled ℓ = log(e^p + Σneg) − p, decoupled ℓ = log Σneg − p: their gap is log(1 + e^p / Σneg), averaged
    negatives = logits.exp().sum(1) - positive.exp()
    assert (coupled - decoupled).item() == pytest.approx(torch.log1p(positive.exp() / negatives).mean().item(), rel=1e-12)


def test_the_rows_of_every_process_average_to_the_whole_batch():
    z = torch.randn(6, 2, 4, dtype=torch.float64)
    objective = InfoNCE(tau=0.1)
    halves = (objective(z, rows=slice(0, 3)) + objective(z, rows=slice(3, 6))) / 2
    assert halves.item() == pytest.approx(objective(z).item(), rel=1e-12)
