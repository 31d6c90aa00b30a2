"""Cross-device negatives: 2 CPU processes (gloo) give the loss and gradients of 1 process on the whole batch,
for InfoNCE (the machinery, and why float64: tests/ddp_equivalence.py).

Both runs are in float64 (``precision="64-true"``): the two processes sum the gradients in another order than
the one process does, which in float32 moves single elements by ~1e-5 relative, differently on each CPU
(AVX2 vs AVX-512 kernels). In float64 the same reordering moves them by ~1e-14, so the tolerance can be tight
enough that a real mistake (a gather without gradients, a missing all-reduce) fails by many orders of
magnitude, and no CPU's rounding does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ddp_equivalence import assert_gradcache_matches_plain, assert_two_processes_match_one, make_batch
from simcse_pl.losses import InfoNCE

# the global batch of each step: triplets (hard negatives gathered too), single sentences, and a last
# step split unevenly (3 + 2 rows), as data.drop_last=false can produce
STEPS = [(make_batch(8, 3, 0), [4, 4]), (make_batch(8, 1, 1), [4, 4]), (make_batch(5, 1, 2), [3, 2])]


@pytest.mark.parametrize("mini_batch_size", [None, 3], ids=["plain", "gradcache"])
def test_two_processes_match_one_on_the_concatenated_batch(tmp_path: Path, mini_batch_size: int | None):
    """With GradCache too: its re-encoding passes must reach DDP's gradient all-reduce exactly once."""
    assert_two_processes_match_one(tmp_path, lambda: InfoNCE(tau=0.05), STEPS, mini_batch_size)


def test_gradcache_alone_matches_the_plain_step(tmp_path: Path):
    assert_gradcache_matches_plain(tmp_path, lambda: InfoNCE(tau=0.05), STEPS)
