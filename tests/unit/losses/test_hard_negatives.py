"""Supervised InfoNCE (SimCSE eq. 5): the logits matrix with hard negatives and the log α weighting, checked
entry by entry against cosines worked out by hand on fixed 2-d vectors."""

from __future__ import annotations

import math

import pytest
import torch

from simcse_pl.losses import InfoNCE

# anchors, positives, hard negatives; cosines are exact fractions of √2 by construction
Z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
Z2 = torch.tensor([[2.0, 0.0], [1.0, 1.0], [0.0, 3.0]], dtype=torch.float64)
Z3 = torch.tensor([[0.0, -1.0], [-1.0, 0.0], [1.0, -1.0]], dtype=torch.float64)
R = 1 / math.sqrt(2)
# cos(z1_i, z2_j) and cos(z1_i, z3_j), by hand
COS_POS = [[1.0, R, 0.0], [0.0, R, 1.0], [R, 1.0, R]]
COS_NEG = [[0.0, -1.0, R], [-1.0, 0.0, -R], [-R, -R, 0.0]]


def hand_logits(tau: float, weight: float) -> list[list[float]]:
    return [
        [c / tau for c in COS_POS[i]] + [c / tau + (weight if j == i else 0.0) for j, c in enumerate(COS_NEG[i])]
        for i in range(3)
    ]


def hand_loss(tau: float, alpha: float) -> float:
    """−mean_i log( e^{s_ii/τ} / (Σ_j e^{s(z1_i,z2_j)/τ} + Σ_j α^{[j=i]} e^{s(z1_i,z3_j)/τ}) )."""
    total = 0.0
    for i in range(3):
        denominator = sum(math.exp(c / tau) for c in COS_POS[i])
        denominator += sum((alpha if j == i else 1.0) * math.exp(c / tau) for j, c in enumerate(COS_NEG[i]))
        total -= math.log(math.exp(COS_POS[i][i] / tau) / denominator)
    return total / 3


@pytest.mark.parametrize(("tau", "alpha"), [(0.05, 1.0), (0.5, 1.0), (0.5, 2.0), (1.0, 0.5)])
def test_logits_matrix_is_positives_then_weighted_hard_negatives(tau, alpha):
    logits = InfoNCE(tau=tau, hard_negative_weight=math.log(alpha)).logits(Z1, Z2, Z3)
    assert logits.shape == (3, 6)
    assert torch.allclose(logits, torch.tensor(hand_logits(tau, math.log(alpha)), dtype=torch.float64), atol=1e-5)


@pytest.mark.parametrize(("tau", "alpha"), [(0.05, 1.0), (0.5, 1.0), (0.5, 2.0), (1.0, 0.5), (0.2, 10.0)])
def test_loss_weights_only_the_own_hard_negative_by_alpha(tau, alpha):
    loss = InfoNCE(tau=tau, hard_negative_weight=math.log(alpha))(torch.stack([Z1, Z2, Z3], 1))
    assert loss.item() == pytest.approx(hand_loss(tau, alpha), rel=1e-9)


def test_larger_alpha_pushes_harder_on_own_hard_negative():
    z = torch.stack([Z1, Z2, Z3], 1)
    losses = [InfoNCE(tau=0.5, hard_negative_weight=math.log(a))(z).item() for a in (0.5, 1.0, 2.0, 4.0)]
    assert losses == sorted(losses) and losses[0] < losses[-1]


def test_hard_negatives_add_to_the_denominator():
    assert InfoNCE(tau=0.5)(torch.stack([Z1, Z2, Z3], 1)).item() > InfoNCE(tau=0.5)(torch.stack([Z1, Z2], 1)).item()


def test_anchor_rows_weight_each_anchors_own_hard_negative_in_the_global_batch():
    """Under DDP a rank holds anchors 1..2 of the gathered batch: its weighted column is still N + i."""
    loss = InfoNCE(tau=0.5, hard_negative_weight=math.log(3.0))
    full = loss.logits(Z1, Z2, Z3)
    assert torch.allclose(loss.logits(Z1, Z2, Z3, rows=slice(1, 3)), full[1:3], atol=1e-6)
    per_row = torch.nn.functional.cross_entropy(full, torch.arange(3), reduction="none")
    assert per_row.mean().item() == pytest.approx(hand_loss(0.5, 3.0), rel=1e-9)
    assert loss(torch.stack([Z1, Z2, Z3], 1), rows=slice(1, 3)).item() == pytest.approx(per_row[1:].mean().item(), rel=1e-9)


def test_symmetric_adds_hard_negatives_only_to_the_anchor_direction():
    tau = 0.5
    backward = InfoNCE(tau=tau)(torch.stack([Z2, Z1], 1)).item()
    expected = (hand_loss(tau, 1.0) + backward) / 2
    assert InfoNCE(tau=tau, symmetric=True)(torch.stack([Z1, Z2, Z3], 1)).item() == pytest.approx(expected, rel=1e-9)
