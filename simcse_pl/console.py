"""What a run prints: the lines a user needs, and none of the libraries' chatter.

Kept: a config summary, the data summary, one line per validation (``step 125: STS-B dev Spearman 83.17 (best
83.17 at step 125)``), the test table and where everything was written. When stdout is not a terminal (nohup,
SLURM, CI) a progress bar would only be printed once at the end, so ``ConsoleReport`` logs plain progress lines
instead (steps, sentences/s, loss, ETA) every ``every_seconds``.

Silenced (``quiet_libraries``): Lightning's info lines (GPU/TPU available, the litlogger tip, "Loading
train_dataloader ...", "Trainer.fit stopped ..."), known-harmless warnings (a torch pytree deprecation inside
Lightning, the IterableDataset ``__len__`` note, "directory exists and is not empty" on a resume), the
weight-loading and shard-writing bars of transformers / huggingface_hub, sentence-transformers' info lines and
Optuna's alembic lines. Warnings that matter (truncation counts, NaN metrics, skipped rows) stay.
"""

from __future__ import annotations

import logging
import math
import re
import sys
import time
import warnings
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback

log = logging.getLogger(__name__)

QUIET_LOGGERS = ("lightning.pytorch", "lightning.fabric", "sentence_transformers", "alembic", "httpx")
HARMLESS_WARNINGS = (
    r".*isinstance\(treespec, LeafSpec\)",
    r"Your `IterableDataset` has `__len__` defined",
    r"Experiment logs directory .* exists and is not empty",
    r"Checkpoint directory .* exists and is not empty",
    r"The number of training batches \(\d+\) is smaller than the logging interval",
    r"The '(train|val|test)_dataloader' does not have many workers",
)
TASK_TITLES = {"stsb": "STS-B", "sickr": "SICK-R", "avg": "average"}


def quiet_libraries() -> None:
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    import huggingface_hub.utils
    import transformers.utils.logging

    transformers.utils.logging.disable_progress_bar()
    huggingface_hub.utils.disable_progress_bars()


def config_summary(cfg: Any) -> list[str]:
    """The run in four lines: model, objective, data, schedule (and where it goes)."""
    model, data, trainer = cfg.model, cfg.data, cfg.trainer
    name = model.name_or_path or f"random BERT {dict(model.random_init or {})}"
    head = " (MLP head in training only)" if model.pooler == "cls" and model.mlp_only_train else ""
    loss = cfg.loss
    arguments = ", ".join(f"{k}={loss[k]}" for k in loss if k != "_target_" and not isinstance(loss[k], dict))
    auxiliary = "".join(f" + {a.get('weight', 1)} x {n}" for n, a in (cfg.get("auxiliary") or {}).items())
    source = data.source.get("path", data.source.get("_target_", "?")) if data.source else "?"
    length = f"max_steps {trainer.max_steps}" if trainer.max_steps and trainer.max_steps > 0 else f"{trainer.max_epochs} epoch(s)"
    return [
        f"model: {name}, pooler {model.pooler}{head}",
        f"objective: {loss._target_.rsplit('.', 1)[-1]}({arguments}){auxiliary}",
        f"data: {source}" + (f" (first {data.max_samples})" if data.max_samples else "")
        + f", batch {data.batch_size}, max_len {data.max_len}; validation {', '.join(data.val_tasks) or 'none'}",
        f"training: {length}, lr {cfg.optim.lr:g}, precision {trainer.precision}; run folder {cfg.paths.output_dir}",
    ]


def interactive() -> bool:
    """A progress bar only helps on a terminal; elsewhere it is printed once, at the end."""
    return sys.stdout.isatty()


def metric_title(key: str) -> str:
    """``val/stsb_spearman`` -> ``STS-B dev Spearman``; other keys as they are."""
    match = re.fullmatch(r"(val|test)/(\w+?)_(spearman|pearson)", key)
    if not match:
        return key
    stage, task, statistic = match.groups()
    title = TASK_TITLES.get(task, task.upper() if re.fullmatch(r"sts\d\d", task) else task)
    return f"{title} {'dev' if stage == 'val' else 'test'} {statistic.capitalize()}"


def duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


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
