"""CoSENT and AnglE against numpy references written from the formulas (value and gradients, several label
patterns with ties), against sentence-transformers' CoSENTLoss / AnglELoss on the same batch, and under the
2-process gloo gather and GradCache (tests/ddp_equivalence.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ddp_equivalence import assert_gradcache_matches_plain, assert_two_processes_match_one, make_batch
from objective_checks import check_value_and_gradients, cos
from simcse_pl.losses.angle import AnglE
from simcse_pl.losses.cosent import CoSENT


def ranking(similarities: list[float], labels: np.ndarray, scale: float) -> float:
    """log(1 + Σ_{(i, j): y_i > y_j} exp(scale (s_j − s_i))), by explicit loops."""
    total = 1.0
    for i in range(len(labels)):
        for j in range(len(labels)):
            if labels[i] > labels[j]:
                total += math.exp(scale * (similarities[j] - similarities[i]))
    return math.log(total)


def angle_sim(u: np.ndarray, v: np.ndarray) -> float:
    """|Re + Im| of Σ_k u_k · conj(v_k) / (|u| |v|), the vectors read as complex (first half real, second
    half imaginary; an odd length gets a zero appended)."""
    if len(u) % 2:
        u, v = np.append(u, 0.0), np.append(v, 0.0)
    half = len(u) // 2
    cu, cv = u[:half] + 1j * u[half:], v[:half] + 1j * v[half:]
    quotient = np.sum(cu * np.conj(cv)) / (np.linalg.norm(u) * np.linalg.norm(v))
    return abs(quotient.real + quotient.imag)


def cosent_reference(scale: float = 20.0):
    def loss(z: np.ndarray, labels: np.ndarray, rows) -> float:
        return ranking([cos(z[i, 0], z[i, 1]) for i in range(len(z))], labels, scale)

    return loss


def ibn_reference(z: np.ndarray, labels: np.ndarray, scale: float, threshold: float) -> float:
    """Σ over the sentences k of positive pairs of −log(e^{λ cos(x_k, partner)} / Σ_{l≠k} e^{λ cos(x_k, x_l)}),
    divided by the number of sentences 2N."""
    n = len(z)
    sentences = [z[i, c] for c in range(2) for i in range(n)]  # column 0 then column 1
    total = 0.0
    for k in range(2 * n):
        pair = k % n
        if labels[pair] < threshold:
            continue
        partner = (k + n) % (2 * n)
        logits = {l: scale * cos(sentences[k], sentences[l]) for l in range(2 * n) if l != k}
        total += -logits[partner] + math.log(sum(math.exp(x) for x in logits.values()))
    return total / (2 * n)


def angle_reference(cosine_weight=1.0, ibn_weight=1.0, angle_weight=1.0, cosine_scale=20.0, ibn_scale=20.0,
                    angle_scale=1.0, positive_threshold=1.0):
    def loss(z: np.ndarray, labels: np.ndarray, rows) -> float:
        n = len(z)
        cosine = ranking([cos(z[i, 0], z[i, 1]) for i in range(n)], labels, cosine_scale)
        angle = ranking([angle_sim(z[i, 0], z[i, 1]) for i in range(n)], labels, angle_scale)
        ibn = ibn_reference(z, labels, ibn_scale, positive_threshold)
        return cosine_weight * cosine + ibn_weight * ibn + angle_weight * angle

    return loss


LABELS = {
    "distinct": [0.2, 4.8, 3.1, 1.7, 2.5, 0.9],
    "ties": [1.0, 3.0, 3.0, 0.0, 1.0, 3.0],
    "binary": [1, 0, 1, 1, 0, 0],
    "all_tied": [2.0] * 6,
    "negative_scale": [-1.0, 0.5, -0.25, 1.0, 0.0, -1.0],
}


def pairs(seed: int, n: int = 6, d: int = 4) -> torch.Tensor:
    return torch.randn(n, 2, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("pattern", list(LABELS))
@pytest.mark.parametrize("scale", [20.0, 1.5])
def test_cosent_value_and_gradients(pattern, scale):
    labels = torch.tensor(LABELS[pattern], dtype=torch.float64)
    check_value_and_gradients(CoSENT(scale), cosent_reference(scale), pairs(0), labels)


ANGLE_VARIANTS = {
    "paper": {},
    "sentence_transformers": {"cosine_weight": 0.0, "ibn_weight": 0.0, "angle_scale": 20.0},
    "later_angle_emb": {"cosine_weight": 0.0, "ibn_weight": 1.0, "angle_weight": 0.02, "angle_scale": 20.0},
    "threshold_half": {"positive_threshold": 0.5, "ibn_scale": 5.0},
}


@pytest.mark.parametrize("pattern", list(LABELS))
@pytest.mark.parametrize("variant", list(ANGLE_VARIANTS))
def test_angle_value_and_gradients(pattern, variant):
    kwargs = ANGLE_VARIANTS[variant]
    labels = torch.tensor(LABELS[pattern], dtype=torch.float64)
    check_value_and_gradients(AnglE(**kwargs), angle_reference(**kwargs), pairs(1), labels)


def test_angle_with_an_odd_dimension_pads_a_zero():
    labels = torch.tensor(LABELS["distinct"], dtype=torch.float64)
    check_value_and_gradients(AnglE(), angle_reference(), pairs(2, d=5), labels)


def test_integer_labels_work_as_scores():
    z = pairs(3)
    ints = torch.tensor([2, 0, 1, 1, 0, 2])
    assert CoSENT()(z, ints).item() == pytest.approx(CoSENT()(z, ints.double()).item(), rel=1e-12)
    assert AnglE()(z, ints).item() == pytest.approx(AnglE()(z, ints.double()).item(), rel=1e-12)


def test_cosent_sees_only_the_order_of_the_scores():
    z, labels = pairs(4), torch.tensor(LABELS["ties"], dtype=torch.float64)
    base = CoSENT()(z, labels).item()
    for rescaled in (labels / 5, 3 * labels - 7, labels.exp()):
        assert CoSENT()(z, rescaled).item() == pytest.approx(base, rel=1e-12)


def test_ranking_terms_ignore_rows():
    """One loss for the whole batch (per_anchor = False): what a process owns does not change it."""
    z, labels = pairs(5), torch.tensor(LABELS["distinct"], dtype=torch.float64)
    for objective in (CoSENT(), AnglE()):
        assert objective.per_anchor is False
        assert objective(z, labels, slice(0, 3)).item() == objective(z, labels).item()


def sentence_transformers_loss(name: str):
    from sentence_transformers.sentence_transformer import losses

    return getattr(losses, name)(model=None)


@pytest.mark.parametrize("pattern", ["distinct", "ties", "binary"])
def test_same_loss_as_sentence_transformers_on_the_same_batch(pattern):
    """CoSENT is sentence-transformers' CoSENTLoss; AnglE with only its angle term at λ = 20 is its AnglELoss."""
    z = torch.randn(32, 2, 384, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    labels = torch.tensor((LABELS[pattern] * 6)[:32], dtype=torch.float64)
    st_cosent = sentence_transformers_loss("CoSENTLoss").compute_loss_from_embeddings([z[:, 0], z[:, 1]], labels)
    assert CoSENT()(z, labels).item() == pytest.approx(st_cosent.item(), rel=1e-12)
    st_angle = sentence_transformers_loss("AnglELoss").compute_loss_from_embeddings([z[:, 0], z[:, 1]], labels)
    only_angle = AnglE(cosine_weight=0.0, ibn_weight=0.0, angle_scale=20.0)
    assert only_angle(z, labels).item() == pytest.approx(st_angle.item(), rel=1e-12)


def test_terms_are_what_the_weights_combine():
    z, labels = pairs(7), torch.tensor(LABELS["ties"], dtype=torch.float64)
    objective = AnglE(cosine_weight=0.5, ibn_weight=2.0, angle_weight=0.25)
    terms = objective.terms(z, labels)
    expected = 0.5 * terms["cosine"] + 2.0 * terms["ibn"] + 0.25 * terms["angle"]
    assert objective(z, labels).item() == pytest.approx(expected.item(), rel=1e-12)


def test_needs_labels_and_pairs():
    with pytest.raises(ValueError, match="loss=cosent needs a score or label per example"):
        CoSENT()(pairs(0))
    with pytest.raises(ValueError, match="loss=angle needs a score or label per example"):
        AnglE()(pairs(0))
    triplets = torch.randn(4, 3, 4)
    with pytest.raises(ValueError, match="loss=cosent scores sentence pairs: each example must have 2 sentences, not 3"):
        CoSENT()(triplets, torch.ones(4))
    with pytest.raises(ValueError, match="cosine_weight, ibn_weight and angle_weight are all 0"):
        AnglE(cosine_weight=0, ibn_weight=0, angle_weight=0)


def test_half_precision_vectors_are_scored_in_float32():
    z, labels = pairs(8).to(torch.bfloat16), torch.tensor(LABELS["distinct"])
    for objective in (CoSENT(), AnglE()):
        assert objective(z, labels).dtype == torch.float32


# labelled pair batches: float scores in [0, 5] and {0, 1} classes, and a last step split unevenly (3 + 2 rows)
STEPS = [
    (make_batch(8, 2, 0, labels="float"), [4, 4]),
    (make_batch(8, 2, 1, labels="int"), [4, 4]),
    (make_batch(5, 2, 2, labels="float"), [3, 2]),
]
OBJECTIVES = {"cosent": lambda: CoSENT(), "angle": lambda: AnglE()}


@pytest.mark.parametrize("name", list(OBJECTIVES))
@pytest.mark.parametrize("mini_batch_size", [None, 3], ids=["plain", "gradcache"])
def test_two_processes_match_one_on_the_concatenated_batch(tmp_path: Path, name: str, mini_batch_size: int | None):
    assert_two_processes_match_one(tmp_path, OBJECTIVES[name], STEPS, mini_batch_size)


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_gradcache_alone_matches_the_plain_step(tmp_path: Path, name: str):
    assert_gradcache_matches_plain(tmp_path, OBJECTIVES[name], STEPS)
