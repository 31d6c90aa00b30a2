"""Matryoshka: value and gradients against a numpy reference (of InfoNCE, supervised InfoNCE and a labelled
whole-batch loss), the 2-process gather and GradCache, its config (the inner objective chosen by Hydra's
package override, every conf/loss option) and its errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from ddp_equivalence import assert_gradcache_matches_plain, assert_two_processes_match_one, make_batch
from objective_checks import check_value_and_gradients, cos
from simcse_pl.config import CONF_DIR, ConfigError, check_config, compose_config
from simcse_pl.losses import InfoNCE, Objective
from simcse_pl.losses.base import pair_cosines, require_labels
from simcse_pl.losses.matryoshka import Matryoshka


class RankedPairs(Objective):
    """A labelled whole-batch objective for the tests (CoSENT's form, Su 2022): every pair of scored pairs
    with ``y_i > y_j`` should rank ``cos_i`` above ``cos_j``: ``log(1 + Σ_{y_i > y_j} e^{λ(cos_j − cos_i)})``."""

    per_anchor = False

    def __init__(self, scale: float = 20.0) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, z, labels=None, rows=None):
        labels = require_labels(labels, "ranked_pairs")
        s = pair_cosines(z[:, 0], z[:, 1]) * self.scale
        diff = s[None, :] - s[:, None]  # [i, j] = λ(cos_j − cos_i)
        ordered = labels[:, None] > labels[None, :]
        diff = diff.masked_fill(~ordered, float("-inf"))
        return torch.logsumexp(torch.cat([diff.new_zeros(1), diff.flatten()]), dim=0)


def infonce_reference(z: np.ndarray, tau: float, rows) -> float:
    """SimCSE's InfoNCE written with loops: anchors z[:,0], positives z[:,1], hard negatives z[:,2] if any."""
    n = len(z)
    anchors = range(n)[rows or slice(0, n)]
    total = 0.0
    for i in anchors:
        terms = [cos(z[i, 0], z[j, 1]) / tau for j in range(n)]
        if z.shape[1] > 2:
            terms += [cos(z[i, 0], z[j, 2]) / tau for j in range(n)]
        total += -cos(z[i, 0], z[i, 1]) / tau + math.log(sum(math.exp(t) for t in terms))
    return total / len(anchors)


def ranked_pairs_reference(z: np.ndarray, labels: np.ndarray, scale: float) -> float:
    c = [cos(z[i, 0], z[i, 1]) * scale for i in range(len(z))]
    terms = [c[j] - c[i] for i in range(len(z)) for j in range(len(z)) if labels[i] > labels[j]]
    return math.log(1 + sum(math.exp(t) for t in terms))


def matryoshka_reference(inner, dims, weights):
    """Σ_k w_k · inner(z[..., :d_k])."""
    return lambda z, labels, rows: sum(w * inner(z[..., :d], labels, rows) for d, w in zip(dims, weights))


@pytest.mark.parametrize("rows", [None, slice(1, 4)], ids=["all_rows", "rows_1_4"])
@pytest.mark.parametrize("columns", [2, 3], ids=["pairs", "triplets"])
def test_infonce_value_and_gradients(rows, columns):
    z = torch.randn(5, columns, 6, generator=torch.Generator().manual_seed(0))
    dims, weights = [6, 4, 2], [1.0, 0.5, 2.0]
    inner = lambda z, labels, rows: infonce_reference(z, 0.1, rows)  # noqa: E731
    check_value_and_gradients(Matryoshka(InfoNCE(tau=0.1), dims, weights), matryoshka_reference(inner, dims, weights),
                              z, rows=rows)


def test_labelled_loss_value_and_gradients():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(6, 2, 5, generator=g)
    labels = torch.tensor([0.5, 4.0, 2.5, 2.5, 1.0, 3.2], dtype=torch.float64)
    inner = lambda z, labels, rows: ranked_pairs_reference(z, labels, 5.0)  # noqa: E731
    check_value_and_gradients(Matryoshka(RankedPairs(scale=5.0), [5, 3]), matryoshka_reference(inner, [5, 3], [1, 1]),
                              z, labels=labels)


def test_of_the_shipped_cosent():
    cosent = pytest.importorskip("simcse_pl.losses.cosent")
    z = torch.randn(5, 2, 6, generator=torch.Generator().manual_seed(2))
    labels = torch.tensor([1.0, 3.5, 0.2, 4.8, 3.5], dtype=torch.float64)
    inner = lambda z, labels, rows: ranked_pairs_reference(z, labels, 20.0)  # noqa: E731
    objective = Matryoshka(cosent.CoSENT(scale=20.0), [6, 4, 2])
    assert objective.per_anchor is False
    check_value_and_gradients(objective, matryoshka_reference(inner, [6, 4, 2], [1, 1, 1]), z, labels=labels)


def test_default_weights_are_one_and_each_term_sees_only_its_prefix():
    z = torch.randn(4, 2, 8, dtype=torch.float64)
    inner = InfoNCE(tau=0.2)
    expected = inner(z) + inner(z[..., :4]) + inner(z[..., :2])
    assert Matryoshka(inner, [8, 4, 2])(z).item() == pytest.approx(expected.item(), rel=1e-12)
    z.requires_grad_(True)
    Matryoshka(inner, [4, 2])(z).backward()
    assert z.grad[..., 4:].abs().max() == 0  # coordinates outside every prefix get no gradient


def test_per_anchor_follows_the_inner_objective():
    assert Matryoshka(InfoNCE(), [4]).per_anchor is True
    assert Matryoshka(RankedPairs(), [4]).per_anchor is False


def test_dims_larger_than_the_vectors_fail_at_the_first_step_naming_loss_dims():
    objective = Matryoshka(InfoNCE(), [384, 256, 64])
    with pytest.raises(ValueError) as info:
        objective(torch.randn(4, 2, 256))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("loss.dims=[384, 256, 64]: 384 is larger than the model's sentence vectors (256 dims)")


def test_dims_below_the_vector_size_warn_that_the_rest_is_untrained(caplog: pytest.LogCaptureFixture):
    objective = Matryoshka(InfoNCE(), [16, 8])
    with caplog.at_level("WARNING"):
        objective(torch.randn(4, 2, 32))
        objective(torch.randn(4, 2, 32))
    warnings = [r.getMessage() for r in caplog.records if "not trained" in r.getMessage()]
    assert warnings == [
        "loss.dims=[16, 8]: the last 16 of the 32 coordinates are not trained (put 32 first to train them)"
    ]


@pytest.mark.parametrize("dims, weights, message", [
    ([64, 128], None, "loss.dims=[64, 128]: must be a non-empty, strictly descending list of positive integers"),
    ([64, 64], None, "loss.dims=[64, 64]: must be"),
    ([], None, "loss.dims=[]: must be"),
    ([64, 0], None, "loss.dims=[64, 0]: must be"),
    ([64, 32], [1.0], "loss.weights=[1.0]: needs one weight per size of loss.dims=[64, 32] (2)"),
])
def test_constructor_refuses_bad_dims_and_weights(dims, weights, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        Matryoshka(InfoNCE(), dims, weights)


# --- DDP and GradCache: the tiny model of tests/ddp_equivalence.py has 32-dimensional vectors

INFONCE_STEPS = [(make_batch(8, 3, 0), [4, 4]), (make_batch(8, 1, 1), [4, 4]), (make_batch(5, 1, 2), [3, 2])]
LABELLED_STEPS = [(make_batch(8, 2, 3, labels="float"), [4, 4]), (make_batch(5, 2, 4, labels="float"), [3, 2])]


def matryoshka_infonce() -> Objective:
    return Matryoshka(InfoNCE(tau=0.05), [32, 16, 8], [1.0, 0.5, 0.25])


def matryoshka_ranked_pairs() -> Objective:
    return Matryoshka(RankedPairs(scale=20.0), [32, 8])


@pytest.mark.parametrize("mini_batch_size", [None, 3], ids=["plain", "gradcache"])
@pytest.mark.parametrize("objective, steps", [(matryoshka_infonce, INFONCE_STEPS),
                                              (matryoshka_ranked_pairs, LABELLED_STEPS)], ids=["infonce", "labelled"])
def test_two_processes_match_one(tmp_path: Path, objective, steps, mini_batch_size):
    assert_two_processes_match_one(tmp_path, objective, steps, mini_batch_size)


def test_gradcache_alone_matches_the_plain_step(tmp_path: Path):
    assert_gradcache_matches_plain(tmp_path, matryoshka_ranked_pairs, LABELLED_STEPS)


# --- config

INNER_OPTIONS = sorted(p.stem for p in (CONF_DIR / "loss").glob("*.yaml") if p.stem != "matryoshka")


def test_default_wraps_infonce():
    cfg = compose_config("model=minilm-l6", "loss=matryoshka")
    check_config(cfg)
    objective = instantiate(cfg.loss)
    assert isinstance(objective, Matryoshka) and isinstance(objective.inner, InfoNCE)
    assert (objective.dims, objective.weights) == ([384, 256, 128, 64], [1.0] * 4)


def test_inner_objective_chosen_by_package_override():
    cfg = compose_config("model=minilm-l6", "loss=matryoshka", "loss@loss.inner=infonce_hard_negatives",
                         "loss.inner.tau=0.1", "loss.inner.hard_negative_weight=0.5", "loss.dims=[384,64]",
                         "loss.weights=[1.0,2.0]")
    check_config(cfg)
    objective = instantiate(cfg.loss)
    assert (objective.inner.tau, objective.inner.hard_negative_weight) == (0.1, 0.5)
    assert (objective.dims, objective.weights) == ([384, 64], [1.0, 2.0])


@pytest.mark.parametrize("option", INNER_OPTIONS)
def test_every_loss_option_can_be_the_inner_objective(option: str):
    """CoSENT, AnglE … included as soon as their YAML exists: the option composes, passes the typed check and
    builds the same objective as ``loss=<option>`` alone."""
    cfg = compose_config("model=minilm-l6", "loss=matryoshka", f"loss@loss.inner={option}")
    check_config(cfg)
    objective = instantiate(cfg.loss)
    alone = instantiate(compose_config("model=minilm-l6", f"loss={option}").loss)
    assert type(objective.inner) is type(alone)
    assert objective.per_anchor == alone.per_anchor


@pytest.mark.parametrize("override, message", [
    ("loss.dims=[64,128]", "loss.dims=[64, 128]: must be a non-empty, strictly descending list of positive integers"),
    ("loss.weights=[1.0,-1.0,1.0,1.0]",
     "loss.weights=[1.0, -1.0, 1.0, 1.0]: must be null or a list whose elements are all >= 0"),
    ("loss.inner.tau=-1.0", "loss.inner.tau=-1.0: must be > 0"),
])
def test_config_check_names_the_key(override: str, message: str):
    cfg = compose_config("model=minilm-l6", "loss=matryoshka", override)
    with pytest.raises(ConfigError) as info:
        check_config(cfg)
    assert str(info.value) == message


def test_inner_override_without_matryoshka_fails():
    with pytest.raises(Exception, match="loss@loss.inner"):
        compose_config("loss@loss.inner=infonce")


def test_normalised_prefix_is_what_the_inner_objective_scores():
    """A cosine objective normalises each prefix itself: scaling the coordinates outside a prefix changes nothing."""
    z = torch.randn(4, 2, 8, dtype=torch.float64)
    scaled = z.clone()
    scaled[..., 4:] *= 10
    objective = Matryoshka(InfoNCE(), [4, 2])
    assert objective(z).item() == pytest.approx(objective(scaled).item(), rel=1e-12)
