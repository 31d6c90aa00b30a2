"""Batches for one DDP rank from a source, split across dataloader workers without duplicating or dropping
items: ``ShardedBatches`` for indexed sources (exact shuffle, resumable position), ``StreamedBatches`` for
``datasets`` streams."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from simcse_pl.data.samplers.base import Sampler
from simcse_pl.errors import DataError
from simcse_pl.data.sources.base import Example
from simcse_pl.data.sources.hf import HFText

log = logging.getLogger(__name__)


class SharedInt:
    """An int attribute kept in shared memory. The training loader's workers persist across epochs with a
    copy of the dataset made when they started; through shared memory they still read the epoch and resume
    position the main process set since (``set_epoch``, ``start_step``), not the ones they started with."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_shared_{name}"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return self if obj is None else int(obj.__dict__[self.slot])

    def __set__(self, obj: Any, value: int) -> None:
        if self.slot in obj.__dict__:
            obj.__dict__[self.slot].fill_(int(value))
        else:
            obj.__dict__[self.slot] = torch.tensor(int(value), dtype=torch.int64).share_memory_()


class ShardedBatches(IterableDataset):
    """Batches of an indexed source for one DDP rank; dataloader workers take turns by step.

    The ``sampler`` plans the epoch's global steps (simcse_pl/samplers.py: a permutation by default, exact per
    epoch); global step ``k`` holds ``B·W`` items (``W`` ranks) and rank ``r`` takes the ``r``-th block of ``B``
    (a last partial step is split evenly). Worker ``w`` of ``n`` produces steps ``w, w+n, …``, which the
    DataLoader interleaves back in order, so the stream is the same for any number of workers and every item is
    seen exactly once per epoch. Each step's collation gets a random generator seeded by (seed, epoch, step),
    so data views that draw (word repetition) draw the same after a resume.
    """

    epoch = SharedInt()
    start_step = SharedInt()

    def __init__(
        self,
        source: Sequence[Example],
        batch_size: int,
        collate: Callable[..., dict[str, torch.Tensor]],
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = True,
        sampler: Sampler | None = None,
    ) -> None:
        self.source = source
        self.batch_size = batch_size
        self.collate = collate
        self.rank = rank
        self.world_size = world_size
        self.seed = seed
        self.drop_last = drop_last
        self.sampler = sampler or Sampler(shuffle)
        self.epoch = 0
        self.start_step = 0  # steps of this epoch already trained (set when resuming)
        self.steps = self.sampler.num_steps(len(source), batch_size * world_size, world_size, drop_last)
        if self.steps == 0:
            raise DataError(
                f"{len(source)} sentences are fewer than one step of data.batch_size={batch_size} × {world_size} "
                "rank(s); lower the batch size or set data.drop_last=false"
            )

    @property
    def dropped(self) -> int:
        """Items left out of every epoch (``drop_last``)."""
        return max(0, len(self.source) - self.steps * self.batch_size * self.world_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.steps

    def plan(self) -> list[np.ndarray]:
        per_step = self.batch_size * self.world_size
        return self.sampler.steps(self.source, self.epoch, self.seed, per_step, self.world_size, self.drop_last)

    def step_items(self, plan: list[np.ndarray], step: int) -> np.ndarray:
        items = plan[step]
        if len(items) == self.batch_size * self.world_size:
            return items[self.rank * self.batch_size : (self.rank + 1) * self.batch_size]
        return np.array_split(items, self.world_size)[self.rank]

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        plan = self.plan()
        for step in range(self.start_step + worker, len(self), workers):
            rng = np.random.default_rng([self.seed, self.epoch, step, self.rank])
            yield self.collate([self.source[int(i)] for i in self.step_items(plan, step)], rng)


class StreamedBatches(IterableDataset):
    """Batches of an ``HFText`` stream for one rank; ``datasets`` splits the stream's shards over workers."""

    epoch = SharedInt()

    def __init__(
        self,
        source: HFText,
        batch_size: int,
        collate: Callable[..., dict[str, torch.Tensor]],
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        max_samples: int | None = None,
    ) -> None:
        self.source = source
        self.batch_size = batch_size
        self.collate = collate
        self.rank = rank
        self.world_size = world_size
        self.seed = seed
        self.max_samples = max_samples
        self.epoch = 0
        self.blank_lines = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        stream = self.source.stream(self.rank, self.world_size, self.seed, self.epoch, self.max_samples)
        batch: list[Example] = []
        produced = 0
        for row in stream:
            example = self.source.example(row)
            if example is None:
                self.blank_lines += 1
                continue
            batch.append(example)
            if len(batch) == self.batch_size:
                yield self.collate(batch, np.random.default_rng([self.seed, self.epoch, self.rank, produced]))
                batch = []
                produced += 1
