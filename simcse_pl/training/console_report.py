"""``ConsoleReport``: one line per validation of the monitored metric, and plain progress lines off a terminal
(nohup, SLURM, CI), where a progress bar would be printed only once, at the end (simcse_pl/console.py says what
else a run prints and what it silences)."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback

from simcse_pl.console import duration, interactive, metric_title

log = logging.getLogger(__name__)


class ConsoleReport(Callback):
    """One log line per validation of ``monitor``; and, when ``progress_lines`` (stdout is not a terminal),
    a plain progress line every ``every_seconds`` of training and at its last step."""

    def __init__(self, monitor: str, mode: str = "max", every_seconds: float = 30.0, progress_lines: bool | None = None) -> None:
        self.monitor = monitor
        self.better = max if mode == "max" else min
        self.every_seconds = every_seconds
        self.progress_lines = not interactive() if progress_lines is None else progress_lines
        self.best: tuple[float, int] | None = None
        self._start = 0.0
        self._start_step = 0
        self._last_line = 0.0

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or value is None:
            return
        value, step = float(value), trainer.global_step
        if step == 0:
            log.info("step 0 (untrained): %s %.2f", metric_title(self.monitor), value)
            return
        if math.isfinite(value) and (self.best is None or self.better(value, self.best[0]) == value):
            self.best = (value, step)
        best = f"best {self.best[0]:.2f} at step {self.best[1]}" if self.best else "no finite value yet"
        log.info("step %d: %s %.2f (%s)", step, metric_title(self.monitor), value, best)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = self._last_line = time.monotonic()
        self._start_step = trainer.global_step

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not self.progress_lines:
            return
        now, step, total = time.monotonic(), trainer.global_step, int(trainer.estimated_stepping_batches)
        if now - self._last_line < self.every_seconds and step < total:
            return
        self._last_line = now
        done, elapsed = step - self._start_step, now - self._start
        per_step = elapsed / max(done, 1)
        ids = batch["input_ids"]
        sentences = done * ids.shape[0] * ids.shape[1] * trainer.world_size / max(elapsed, 1e-9)
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        log.info(
            "step %d/%d (%d%%), %.0f sentences/s, loss %.4f, ETA %s", step, total, 100 * step // max(total, 1),
            sentences, float(loss), duration(per_step * (total - step)),
        )

    def state_dict(self) -> dict[str, Any]:
        return {"best": list(self.best) if self.best else None}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        best = state_dict.get("best")
        self.best = (float(best[0]), int(best[1])) if best else None
