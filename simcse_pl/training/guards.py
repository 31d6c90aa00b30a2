"""Guards against training going wrong silently: a non-finite loss stops the run (or its step is skipped and
counted), and sentences cut at ``data.max_len`` are counted and reported."""

from __future__ import annotations

import logging
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from torch import Tensor
from simcse_pl.data.collate import TRUNCATED_KEY
from simcse_pl.errors import NonFiniteLossError

log = logging.getLogger(__name__)


class NonFiniteGuard(Callback):
    """Stops the run at the first optimizer step whose loss is NaN/inf, before the update reaches the weights
    (so the last checkpoint is still good), or with ``skip=True`` drops that step's update and counts it.

    It checks the loss, not the gradients: with fp16 the grad scaler already skips steps whose gradients
    overflow, which is routine there. A skipped step leaves weights and optimizer moments untouched (AdamW
    passes over parameters without gradients); the LR schedule still advances, as for a scaler skip. Under
    DDP the ranks agree: one rank's bad loss skips (or stops) the step on all of them.
    """

    def __init__(self, skip: bool = False) -> None:
        self.skip = skip
        self.skipped = 0
        self._bad: Tensor | None = None  # the step's first non-finite loss (micro-batches accumulate)

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: Tensor) -> None:
        if self._bad is None and not bool(torch.isfinite(loss.detach()).all()):
            self._bad = loss.detach()

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        bad, self._bad = self._bad, None
        if trainer.strategy.reduce_boolean_decision(bad is None, all=True):
            return
        where = f"step {trainer.global_step} (epoch {trainer.current_epoch})"
        shown = "on another rank" if bad is None else f"{float(bad.float().mean()):g}"
        if not self.skip:
            raise NonFiniteLossError(
                f"non-finite training loss ({shown}) at {where}; the weights were not updated. Lower optim.lr, "
                "or set callbacks.nonfinite_guard.skip=true to skip such steps"
            )
        optimizer.zero_grad(set_to_none=True)
        self.skipped += 1
        log.warning("non-finite training loss (%s) at %s: step skipped (%d so far)", shown, where, self.skipped)
        pl_module.log("train/skipped_nonfinite", float(self.skipped), on_step=True, on_epoch=False, rank_zero_only=True)

    def state_dict(self) -> dict[str, Any]:
        return {"skipped": self.skipped}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.skipped = int(state_dict.get("skipped", 0))


class TruncationCounter(Callback):
    """Counts training sentences longer than ``data.max_len`` tokens (the collator cuts them and records how
    many per batch); logs the running total and a summary at the end of training."""

    def __init__(self) -> None:
        self.truncated = 0
        self.sentences = 0

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if not isinstance(batch, dict) or TRUNCATED_KEY not in batch:
            return
        self.truncated += int(batch.pop(TRUNCATED_KEY))
        self.sentences += batch["input_ids"].shape[0] * batch["input_ids"].shape[1]
        pl_module.log("train/truncated_sentences", float(self.truncated), on_step=True, on_epoch=False)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.truncated:
            log.warning(
                "%d of %d training sentences (%.2f%%) were longer than data.max_len tokens and were truncated",
                self.truncated, self.sentences, 100 * self.truncated / self.sentences,
            )

    def state_dict(self) -> dict[str, Any]:
        return {"truncated": self.truncated, "sentences": self.sentences}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.truncated = int(state_dict.get("truncated", 0))
        self.sentences = int(state_dict.get("sentences", 0))
