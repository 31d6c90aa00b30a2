"""Which examples form each step: the plan of an epoch, separate from reading and from sharding over processes.

A sampler turns (epoch, seed) into the epoch's global steps, each an array of example indices (``per_step`` =
batch size × processes; ``ShardedBatches`` gives each process its block). It must be a pure function of its
arguments: a resumed run rebuilds the same plan and skips the steps already trained, so resume stays exact.
A new sampler is one file with a ``Sampler`` subclass plus a YAML under conf/data/sampler/.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class Sampler:
    """The default plan: a permutation of all examples per epoch (``shuffle``; the paper's random sampler), cut
    into steps of ``per_step``; a last partial step is dropped (``drop_last``) or kept when every process can
    get at least one example of it."""

    def __init__(self, shuffle: bool = True) -> None:
        self.shuffle = shuffle

    def num_steps(self, n: int, per_step: int, world_size: int, drop_last: bool) -> int:
        """Steps per epoch, known before any epoch is planned (the LR schedule needs it)."""
        full, remainder = divmod(n, per_step)
        return full + int(not drop_last and remainder >= world_size)

    def order(self, source: Sequence[Any], epoch: int, seed: int) -> np.ndarray:
        n = len(source)
        return np.random.default_rng([seed, epoch]).permutation(n) if self.shuffle else np.arange(n)

    def steps(
        self, source: Sequence[Any], epoch: int, seed: int, per_step: int, world_size: int, drop_last: bool
    ) -> list[np.ndarray]:
        """The epoch's global steps, in training order."""
        order = self.order(source, epoch, seed)
        count = self.num_steps(len(order), per_step, world_size, drop_last)
        return [order[k * per_step : (k + 1) * per_step] for k in range(count)]
