"""Test-only fault injection for train.py subprocesses, added with Hydra overrides (``+callbacks.x._target_=...``,
``trainer.plugins=[...]``): a run freezes at a chosen moment and announces it in a marker file, and the test
then kills it with SIGKILL, as a preempted node would be."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback

from simcse_pl.training.checkpointing import AtomicCheckpointIO


def freeze(marker: str) -> None:
    Path(marker).write_text("frozen")
    time.sleep(600)


class FreezeAtStep(Callback):
    """Freezes before training step ``step`` (the checkpoints of earlier steps are written by then)."""

    def __init__(self, step: int, marker: str) -> None:
        self.step = step
        self.marker = marker

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            freeze(self.marker)


class RecordSteps(Callback):
    """Appends each training step this process runs to ``path`` (shows where a resumed run started)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        with open(self.path, "a") as f:
            f.write(f"{trainer.global_step}\n")


class FreezeMidSave(AtomicCheckpointIO):
    """On save number ``save`` (1-based), writes half of the temporary file and freezes before the rename."""

    def __init__(self, save: int, marker: str) -> None:
        super().__init__()
        self.save = save
        self.marker = marker
        self.saves = 0

    def _write(self, checkpoint: dict[str, Any], partial: Path) -> None:
        self.saves += 1
        super()._write(checkpoint, partial)
        if self.saves == self.save:
            data = partial.read_bytes()
            partial.write_bytes(data[: len(data) // 2])
            freeze(self.marker)


class SignalAtStep(Callback):
    """Sends ``signal`` to this run's whole process group (the main process and its dataloader workers, as
    ``docker stop`` of a shell, Kubernetes or SLURM do) as training step ``step`` starts: the step is under way
    when it arrives."""

    def __init__(self, step: int, signal: str = "SIGTERM") -> None:
        self.step = step
        self.signal = signal

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            os.killpg(os.getpgid(0), getattr(signal, self.signal))


class InterruptMidSave(AtomicCheckpointIO):
    """Sends SIGINT to this run's whole process group while ``last.ckpt`` is being written (the data written, not
    yet renamed): a second Ctrl-C during the save that the first one started."""

    def _write(self, checkpoint: dict[str, Any], partial: Path) -> None:
        super()._write(checkpoint, partial)
        if partial.name == "last.ckpt.partial":
            os.killpg(os.getpgid(0), signal.SIGINT)
            time.sleep(0.1)  # the signal is handled while this save is still under way


class SignalAtEpochEnd(Callback):
    """Sends SIGTERM to this process at the end of training epoch ``epoch``: after the epoch's last step was
    taken and its save point passed, before the next epoch starts."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            os.kill(os.getpid(), signal.SIGTERM)


class CountValidations(Callback):
    """Appends the step of every validation this process runs to ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        with open(self.path, "a") as f:
            f.write(f"{trainer.global_step}\n")


class _SlowToCollect:
    """Part of a reference cycle whose finalizer takes ``seconds``: only the garbage collector frees it, and the
    interpreter's shutdown collection runs it, standing in for the minutes that collection took over the millions
    of objects a full-size run leaves."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.sleep, self.cycle = seconds, time.sleep, self

    def __del__(self) -> None:
        self.sleep(self.seconds)


_LEFT_FOR_SHUTDOWN: list[_SlowToCollect] = []


class SignalAtStepSlowToExit(SignalAtStep):
    """``SignalAtStep`` (SIGTERM), having first left an object that the interpreter's shutdown takes ``seconds``
    to collect; the signal's wall-clock time goes to ``marker``."""

    def __init__(self, step: int, marker: str, seconds: float = 600) -> None:
        super().__init__(step)
        self.marker, self.seconds = Path(marker), seconds

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            _LEFT_FOR_SHUTDOWN.append(_SlowToCollect(self.seconds))
            self.marker.write_text(repr(time.time()))
        super().on_train_batch_start(trainer, pl_module, batch, batch_idx)
