"""The extending guide's objective example (docs/guides/extending.md) is a real objective: its math against a plain
computation, its gradients, and DDP / GradCache equivalence, like every other objective."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ddp_equivalence import assert_gradcache_matches_plain, assert_two_processes_match_one, make_batch
from doc_blocks import blocks
from objective_checks import check_value_and_gradients
from simcse_pl.losses.align_uniform import AlignUniform

REPO = Path(__file__).resolve().parents[3]


def reference(alpha: float, t: float, weight: float):
    def loss(z: np.ndarray, labels, rows) -> float:
        unit = z[:, :2] / np.linalg.norm(z[:, :2], axis=-1, keepdims=True)
        align = np.mean([np.linalg.norm(unit[i, 0] - unit[i, 1]) ** alpha for i in range(len(z))])
        u = unit.reshape(-1, z.shape[-1])
        pairs = [math.exp(-t * np.sum((u[j] - u[k]) ** 2)) for j in range(len(u)) for k in range(j + 1, len(u))]
        return align + weight * math.log(np.mean(pairs))

    return loss


def test_value_and_gradients_against_a_plain_computation():
    z = torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(0))
    check_value_and_gradients(AlignUniform(), reference(2.0, 2.0, 1.0), z)
    check_value_and_gradients(AlignUniform(alpha=1.0, t=0.5, weight=3.0), reference(1.0, 0.5, 3.0), z, rows=slice(1, 3))


STEPS = [(make_batch(6, 2, 0), [3, 3]), (make_batch(5, 1, 1), [3, 2])]


def test_two_processes_match_one(tmp_path: Path):
    assert_two_processes_match_one(tmp_path, AlignUniform, STEPS)


def test_gradcache_matches_the_plain_step(tmp_path: Path):
    assert_gradcache_matches_plain(tmp_path, AlignUniform, STEPS)


def test_the_extending_guide_shows_this_file_and_its_yaml_verbatim():
    shown = [b.code for b in blocks("docs/guides/extending.md") if b.heading == "A new objective"]
    assert (REPO / "simcse_pl" / "losses" / "align_uniform.py").read_text() in shown
    assert (REPO / "conf" / "loss" / "align_uniform.yaml").read_text() in shown
