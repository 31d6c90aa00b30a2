"""Callbacks that add run-level metrics to every logger: the best value of the sweep objective so far, and
training throughput in sentences per second."""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback


class BestMetric(Callback):
    """Logs ``<monitor>_best``, the running best (``mode``) of ``monitor`` over validations of trained weights,
    so a dashboard shows what a sweep ranks by (model selection keeps the best checkpoint, not the last)."""

    def __init__(self, monitor: str, mode: str = "max") -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.monitor = monitor
        self.mode = mode
        self.best: float | None = None

    @property
    def name(self) -> str:
        return f"{self.monitor}_best"

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # runs after the module's on_validation_epoch_end has logged `monitor` (callback epoch-end hooks run
        # before the module's), hence the direct logger call; step 0 is the untrained model, reported apart
        value = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or trainer.global_step == 0 or value is None or not math.isfinite(value):
            return
        value = float(value)
        if self.best is None or (value > self.best if self.mode == "max" else value < self.best):
            self.best = value
        trainer.callback_metrics[self.name] = torch.tensor(self.best)
        # the step Lightning logs validation metrics at (LearningRateMonitor uses it too): same row/point
        step = trainer.fit_loop.epoch_loop._batches_that_stepped
        for logger in trainer.loggers:
            logger.log_metrics({self.name: self.best}, step=step)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = state_dict["best"]


class Throughput(Callback):
    """Logs ``train/sentences_per_sec``: input sentences (all ranks) per wall-clock second over the last
    ``window`` batches, data loading included and validation excluded, so runs on different hardware or
    batch sizes compare on one axis."""

    def __init__(self, window: int = 10) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window = window
        self._marks: deque[tuple[float, int]] = deque(maxlen=window + 1)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._marks.clear()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._marks.clear()  # the window restarts at the next batch: validation and checkpointing excluded

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if not self._marks:
            self._marks.append((time.perf_counter(), 0))

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        ids = batch["input_ids"]  # [B, S, L]: B examples of S sentences each
        self._marks.append((time.perf_counter(), ids.shape[0] * ids.shape[1] * trainer.world_size))
        elapsed = self._marks[-1][0] - self._marks[0][0]
        # only on the steps loggers write (global_step already counts this batch): self.log costs ~1 ms
        if elapsed > 0 and trainer.log_every_n_steps and trainer.global_step % trainer.log_every_n_steps == 0:
            sentences = sum(n for _, n in list(self._marks)[1:])
            pl_module.log(
                "train/sentences_per_sec", sentences / elapsed, on_step=True, on_epoch=False, batch_size=ids.shape[0]
            )
