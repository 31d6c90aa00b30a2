import math

import pytest
import torch
import torch.nn.functional as F

from simcse_pl.losses import InfoNCE

# three 2-d anchors and positives with known cosines
Z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
Z2 = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]], dtype=torch.float64)


def cos(a, b):
    return float(a @ b / (a.norm() * b.norm()))


def hand_loss(z1, z2, tau, extra=None):
    """−mean_i log softmax over [s(z1_i, z2_j)/τ]_j (+ extra columns) at the diagonal."""
    total = 0.0
    for i in range(len(z1)):
        logits = [cos(z1[i], z2[j]) / tau for j in range(len(z2))]
        if extra:
            logits += extra(i)
        total += -(logits[i] - math.log(sum(math.exp(x) for x in logits)))
    return total / len(z1)


@pytest.mark.parametrize("tau", [0.05, 0.5, 1.0])
def test_cross_view_matches_hand_computation(tau):
    assert InfoNCE(tau=tau)(Z1, Z2).item() == pytest.approx(hand_loss(Z1, Z2, tau), rel=1e-9)


def test_positive_is_the_diagonal():
    loss = InfoNCE(tau=0.05)
    aligned = loss(Z1, Z1.clone()).item()
    shuffled = loss(Z1, Z1[[1, 2, 0]]).item()
    assert aligned < shuffled
    logits = loss.logits(Z1, Z2)
    assert torch.allclose(logits.diagonal() * 0.05, torch.tensor([cos(Z1[i], Z2[i]) for i in range(3)], dtype=torch.float64), atol=1e-6)


def test_tau_scales_logits():
    assert torch.allclose(InfoNCE(tau=0.1).logits(Z1, Z2) * 0.1, InfoNCE(tau=1.0).logits(Z1, Z2), atol=1e-6)


def test_all_views_adds_other_anchors_never_itself():
    tau = 0.5
    expected = hand_loss(Z1, Z2, tau, extra=lambda i: [cos(Z1[i], Z1[k]) / tau for k in range(3) if k != i])
    assert InfoNCE(tau=tau, negatives="all_views")(Z1, Z2).item() == pytest.approx(expected, rel=1e-9)


def test_symmetric_averages_both_directions():
    tau = 0.5
    expected = (hand_loss(Z1, Z2, tau) + hand_loss(Z2, Z1, tau)) / 2
    assert InfoNCE(tau=tau, symmetric=True)(Z1, Z2).item() == pytest.approx(expected, rel=1e-9)


def test_hard_negative_weight_only_on_own_hard_negative():
    tau, w = 0.5, math.log(2.0)
    z3 = torch.tensor([[0.0, -1.0], [1.0, -1.0], [-1.0, 0.0]], dtype=torch.float64)
    logits = InfoNCE(tau=tau, hard_negative_weight=w).logits(Z1, Z2, z3)
    plain = InfoNCE(tau=tau).logits(Z1, Z2, z3)
    assert logits.shape == (3, 6)
    assert torch.allclose(logits - plain, torch.cat([torch.zeros(3, 3), w * torch.eye(3)], dim=1).double(), atol=1e-6)
    expected = hand_loss(
        Z1, Z2, tau, extra=lambda i: [cos(Z1[i], z3[j]) / tau + (w if j == i else 0.0) for j in range(3)]
    )
    assert InfoNCE(tau=tau, hard_negative_weight=w)(Z1, Z2, z3).item() == pytest.approx(expected, rel=1e-9)


def test_anchor_rows_equal_full_batch_loss_when_averaged():
    z1, z2 = torch.randn(6, 4, dtype=torch.float64), torch.randn(6, 4, dtype=torch.float64)
    loss = InfoNCE(tau=0.1)
    halves = (loss(z1, z2, anchor_rows=slice(0, 3)) + loss(z1, z2, anchor_rows=slice(3, 6))) / 2
    assert halves.item() == pytest.approx(loss(z1, z2).item(), rel=1e-9)


def test_loss_is_cross_entropy_of_scaled_cosines():
    z1, z2 = torch.randn(5, 8, dtype=torch.float64), torch.randn(5, 8, dtype=torch.float64)
    sims = F.cosine_similarity(z1.unsqueeze(1), z2.unsqueeze(0), dim=-1) / 0.05
    assert InfoNCE()(z1, z2).item() == pytest.approx(F.cross_entropy(sims, torch.arange(5)).item(), rel=1e-9)


@pytest.mark.parametrize("kwargs, message", [({"tau": 0}, "loss.tau must be > 0"), ({"negatives": "x"}, "loss.negatives")])
def test_bad_settings_name_the_key(kwargs, message):
    with pytest.raises(ValueError, match=message):
        InfoNCE(**kwargs)
