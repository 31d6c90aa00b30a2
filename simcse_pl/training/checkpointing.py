"""Exact resume: what a checkpoint needs beyond Lightning's own state, and how it reaches the disk.

Lightning saves and restores weights, optimizer, LR scheduler and loop counters. For a run killed at any
moment to end with the same weights as an uninterrupted one, three more things are needed:

- ``ResumeCheckpoint``: ``last.ckpt`` every N steps (not only per epoch), when training stops, and when the job
  is asked to stop (SIGTERM / SIGUSR1: simcse_pl/preemption.py).
- ``AtomicCheckpointIO``: a kill during a save must leave the previous file intact, never half a file.
- ``ResumableLoader``: the position in the training data (epoch, steps taken) goes into the checkpoint, so a
  run resumed mid-epoch continues with the next unseen batch instead of replaying the epoch.
- ``ExactResume``: dropout masks are the training signal in SimCSE, so the RNG streams go into the
  checkpoint too; and the loader's position is restored even when Lightning would skip it.
"""

from __future__ import annotations

import logging
import math
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException
from torch import Tensor
from torch.utils.data import DataLoader

from simcse_pl.data.batching import ShardedBatches
from simcse_pl.training.preemption import ignore_stop_signals_in_worker
from simcse_pl.errors import CheckpointError

log = logging.getLogger(__name__)


class ResumeCheckpoint(ModelCheckpoint):
    """``last.ckpt`` every ``every_n_train_steps`` steps, once more when training stops (max_steps or the last
    epoch), and when a stop signal ends training early, so the newest state is always the one ``ckpt_path=last``
    resumes from. ``stopped_at`` is ``(path, step)`` of the save made on a stop signal."""

    def __init__(self, dirpath: str, every_n_train_steps: int) -> None:
        # no version counter: a resumed run must overwrite last.ckpt, never start a last-v1.ckpt beside it
        super().__init__(
            dirpath=dirpath, every_n_train_steps=every_n_train_steps, save_top_k=0, save_last=True,
            enable_version_counter=False,
        )
        self.stopped_at: tuple[str, int] | None = None

    @property
    def last_path(self) -> str:
        return os.path.join(str(self.dirpath), f"{self.CHECKPOINT_NAME_LAST}{self.FILE_EXTENSION}")

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """The periodic save, and the save on a stop signal: Lightning's handler sets ``received_sigterm`` at once
        and stops the loop a little later (after validation or the epoch's end); saving here, where periodic
        checkpoints are taken, gives the state its restore is built for."""
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if trainer.received_sigterm and self._last_global_step_saved != trainer.global_step:
            self._save_on_stop(trainer)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        """A stop signal that arrived after the step's save point (during a validation, at the epoch's end) is
        saved where Lightning stopped; other errors keep the last checkpoint, which precedes what went wrong."""
        if not isinstance(exception, SIGTERMException) or trainer.state.fn != TrainerFn.FITTING:
            return
        if trainer.sanity_checking or trainer.global_step == 0 or self._last_global_step_saved == trainer.global_step:
            return
        if _between_epochs(trainer):
            # Lightning stopped after completing an epoch, before starting the next; its restore expects the
            # batch counters the next epoch starts with, so record them as that epoch's start resets them
            loop = trainer.fit_loop.epoch_loop
            loop.batch_progress.reset_on_run()
            loop.scheduler_progress.reset_on_run()
            loop.automatic_optimization.optim_progress.reset_on_run()
            loop.val_loop.batch_progress.total.reset()
        self._save_on_stop(trainer)

    def _save_on_stop(self, trainer: pl.Trainer) -> None:
        self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        self._last_global_step_saved = trainer.global_step
        self.stopped_at = (self.last_path, trainer.global_step)


def _between_epochs(trainer: pl.Trainer) -> bool:
    """Every batch of the current epoch trained and the epoch itself completed."""
    epochs = trainer.fit_loop.epoch_progress.total
    batches = trainer.fit_loop.epoch_loop.batch_progress.current
    return epochs.completed == epochs.started and batches.ready >= trainer.num_training_batches


class BestCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` that never keeps a checkpoint whose monitored metric is NaN or infinite:
    Lightning ranks a NaN as the worst score, which still fills an empty top-k slot and so became "best"."""

    def _save_topk_checkpoint(self, trainer: pl.Trainer, monitor_candidates: dict[str, Tensor]) -> None:
        current = monitor_candidates.get(self.monitor) if self.monitor else None
        if current is not None and not math.isfinite(float(current)):
            log.warning(
                "%s is %s at step %d: this validation cannot select a checkpoint", self.monitor, float(current),
                trainer.global_step,
            )
            return
        super()._save_topk_checkpoint(trainer, monitor_candidates)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to ``<path>.partial``, syncs it to disk, then renames it over ``path`` (atomic on POSIX), so
    ``last.ckpt`` is always a whole checkpoint. Loads with ``weights_only=True`` unless a caller asks
    otherwise: a checkpoint is data, and unpickling arbitrary objects from a file can run code."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if "://" in str(path):  # object stores: fsspec's transaction is their atomic write
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")  # not *.ckpt: never taken for a checkpoint
        try:
            self._write(checkpoint, partial)
        except (OSError, RuntimeError) as exc:  # ENOSPC and friends; torch.save reports some as RuntimeError
            partial.unlink(missing_ok=True)
            kept = f"the previous {target.name} is intact" if target.exists() else f"no {target.name} was written"
            reason = getattr(exc, "strerror", None) or str(exc).strip().splitlines()[0]
            raise CheckpointError(f"{target}: cannot write the checkpoint ({reason}); {kept}") from None
        os.replace(partial, target)
        _fsync_dir(target.parent)

    def _write(self, checkpoint: dict[str, Any], partial: Path) -> None:
        with open(partial, "wb") as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())

    def load_checkpoint(
        self, path: Any, map_location: Callable | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        return super().load_checkpoint(path, map_location, weights_only=True if weights_only is None else weights_only)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (a power cut right after it must not bring back the old file)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ExactResume(Callback):
    """What Lightning's restore leaves out: the RNG streams, and (in one case) the data position.

    RNG: the global states (torch, CUDA, numpy, Python) are taken after every training batch and put back
    before the next one. Whatever runs between two steps (validation, the next epoch's dataloader, a save)
    thus draws from a side stream, and a resumed run, which skips that work, sees the same dropout masks as
    the run it continues. The states taken after the last batch are what the checkpoint holds.

    Data position: Lightning hands the saved state to the train loader only if it builds the loader after
    restoring the checkpoint, but ``configure_optimizers`` builds it earlier (``estimated_stepping_batches``
    for the LR schedule); and it skips ``on_train_epoch_start`` when it restarts inside an epoch, where the
    stream learns its epoch. Both are done here when training starts.
    """

    def __init__(self) -> None:
        self._states: dict[str, Any] | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trainer.fit_loop._load_combined_loader_states()  # no-op unless resuming with a state still pending
        dataset = getattr(trainer.train_dataloader, "dataset", None)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(trainer.current_epoch)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if self._states is not None:
            set_rng_states(self._states)

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._states = rng_states()

    def state_dict(self) -> dict[str, Any]:
        return self._states or {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._states = state_dict or None


def rng_states() -> dict[str, Any]:
    """This process's global RNG states as tensors and tuples, which ``weights_only`` loading accepts. CUDA: the
    current device only (asking every GPU would open a context on each of them from every DDP rank)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    states = {
        "torch": torch.get_rng_state(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
        "python": random.getstate(),
    }
    if torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    kind, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    random.setstate(states["python"])
    if "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"])


class ResumableLoader(DataLoader):
    """The training loader of a ``ShardedBatches`` stream; its state is (epoch, steps taken this epoch).

    Lightning stores ``state_dict()`` of a train loader that has one in each checkpoint and calls
    ``load_state_dict()`` before iterating again; the stream then skips the steps already trained without
    reading them. Steps are counted as training takes them from this loader, not as workers produce them
    (workers run ahead by ``prefetch_factor`` batches).
    """

    dataset: ShardedBatches

    def __init__(self, dataset: ShardedBatches, **kwargs: Any) -> None:
        kwargs.setdefault("worker_init_fn", ignore_stop_signals_in_worker)
        super().__init__(dataset, batch_size=None, **kwargs)
        self._epoch = dataset.epoch
        self._steps = 0
        self._resuming = False

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self._epoch, "steps": self._steps}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        """The saved steps are skipped if the stream is (still) in the saved epoch when iterated."""
        self._epoch, self._steps, self._resuming = int(state_dict["epoch"]), int(state_dict["steps"]), True

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        resume = self._resuming and self.dataset.epoch == self._epoch
        self.dataset.start_step = self._steps if resume else 0
        self._epoch, self._steps, self._resuming = self.dataset.epoch, self.dataset.start_step, False
        for batch in super().__iter__():
            self._steps += 1
            yield batch


def checkpoint_sizes(folder: str, weight_bytes: int) -> str | None:
    """The end-of-run line on what ``checkpoints/`` holds: each file's size and, when a file is much larger than
    the weights, why (a 22M-parameter model's ``last.ckpt`` is 261 MB, three times its 87 MB of weights: AdamW's
    two moments per weight). ``last.ckpt`` keeps that state, which ``ckpt_path=last`` needs to continue exactly;
    ``best-*.ckpt`` is only read for its weights, so ``save_weights_only`` is offered for it. None: no checkpoint."""
    files = sorted(Path(folder).glob("*.ckpt"), key=lambda p: (p.name != "last.ckpt", p.name))
    if not files:
        return None
    sizes = ", ".join(f"{p.name} {_megabytes(p.stat().st_size)}" for p in files)
    line = f"checkpoints/: {sizes}"
    if any(p.stat().st_size > 1.5 * weight_bytes for p in files):
        line += (f"; the weights are {_megabytes(weight_bytes)}, the rest is the optimizer's state, which "
                 "last.ckpt keeps for ckpt_path=last (callbacks.model_checkpoint.save_weights_only=true leaves it "
                 "out of best-*.ckpt; model/ holds the weights alone)")
    return line


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.0f} MB" if size >= 1e6 else f"{size / 1e6:.2f} MB"
