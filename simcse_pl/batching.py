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

from simcse_pl.sources import DataError, HFText

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

    Global step ``k`` of an epoch uses the permuted items ``[k·B·W, (k+1)·B·W)`` (``W`` ranks); rank ``r``
    takes the ``r``-th block of ``B``. Worker ``w`` of ``n`` produces steps ``w, w+n, …``, which the
    DataLoader interleaves back in order, so the stream is the same for any number of workers and every
    item is seen exactly once per epoch. A last step with fewer than ``B·W`` items is dropped when
    ``drop_last`` (counted), otherwise split evenly across ranks.
    """

    epoch = SharedInt()
    start_step = SharedInt()

    def __init__(
        self,
        source: Sequence[tuple[str, ...]],
        batch_size: int,
        collate: Callable[[list[tuple[str, ...]]], dict[str, torch.Tensor]],
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = True,
    ) -> None:
        self.source = source
        self.batch_size = batch_size
        self.collate = collate
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0
        self.start_step = 0  # steps of this epoch already trained (set when resuming)
        per_step = batch_size * world_size
        self.full_steps, self.remainder = divmod(len(source), per_step)
        self.keep_partial = not drop_last and self.remainder >= world_size
        if self.full_steps == 0 and not self.keep_partial:
            raise DataError(
                f"{len(source)} sentences are fewer than one step of data.batch_size={batch_size} × {world_size} "
                "rank(s); lower the batch size or set data.drop_last=false"
            )

    @property
    def dropped(self) -> int:
        """Items left out of every epoch by ``drop_last``."""
        return 0 if self.keep_partial else self.remainder

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.full_steps + int(self.keep_partial)

    def order(self) -> np.ndarray:
        n = len(self.source)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, self.epoch]).permutation(n)

    def step_items(self, order: np.ndarray, step: int) -> np.ndarray:
        per_step = self.batch_size * self.world_size
        if step < self.full_steps:
            start = step * per_step + self.rank * self.batch_size
            return order[start : start + self.batch_size]
        return np.array_split(order[self.full_steps * per_step :], self.world_size)[self.rank]

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        order = self.order()
        for step in range(self.start_step + worker, len(self), workers):
            yield self.collate([self.source[int(i)] for i in self.step_items(order, step)])


class StreamedBatches(IterableDataset):
    """Batches of an ``HFText`` stream for one rank; ``datasets`` splits the stream's shards over workers."""

    epoch = SharedInt()

    def __init__(
        self,
        source: HFText,
        batch_size: int,
        collate: Callable[[list[tuple[str, ...]]], dict[str, torch.Tensor]],
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
        batch: list[tuple[str, ...]] = []
        for row in stream:
            example = self.source.example(row)
            if example is None:
                self.blank_lines += 1
                continue
            batch.append(example)
            if len(batch) == self.batch_size:
                yield self.collate(batch)
                batch = []
