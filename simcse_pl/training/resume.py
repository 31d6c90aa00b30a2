"""Resuming safely: the checkpoint must exist, be whole, belong to this model, and have been written with the
settings the data position and the LR schedule depend on.

A run resumed with another ``data.batch_size``, another data file or another schedule would not fail: it would
skip the wrong data or train with a finished schedule, silently. So the checkpoint carries a fingerprint of
those settings (``ResumeGuard``) and a resumed run refuses any difference, naming the key.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

from simcse_pl.errors import CheckpointError


def resolve_checkpoint(ckpt_path: str | None, checkpoint_dir: str) -> str | None:
    """``ckpt_path`` as a file: ``last`` is ``<checkpoint_dir>/last.ckpt``, which must exist (a resume that finds
    nothing is an error, not a silent fresh start)."""
    if ckpt_path is None:
        return None
    if ckpt_path == "last":
        path = os.path.join(checkpoint_dir, "last.ckpt")
        if not os.path.isfile(path):
            raise CheckpointError(
                f"ckpt_path=last: no checkpoint at {path} (the run never wrote one: start it again without "
                "ckpt_path, or point hydra.run.dir at the run folder to resume)"
            )
        return path
    if not os.path.isfile(ckpt_path):
        raise CheckpointError(f"ckpt_path={ckpt_path}: no such checkpoint file")
    return ckpt_path


def check_matches_model(state: dict[str, Any], module: nn.Module, path: str) -> None:
    """The checkpoint's weights have this module's names and shapes (else it is another model's)."""
    saved: dict[str, torch.Tensor] = state["state_dict"]
    expected = module.state_dict()
    missing = [k for k in expected if k not in saved]
    unexpected = [k for k in saved if k not in expected]
    if missing or unexpected:
        details = [f"{len(missing)} weights missing (e.g. {missing[0]})"] if missing else []
        details += [f"{len(unexpected)} not in this model (e.g. {unexpected[0]})"] if unexpected else []
        raise CheckpointError(f"{path}: a checkpoint of another model: {'; '.join(details)}")
    for name, tensor in expected.items():
        if tuple(saved[name].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{path}: a checkpoint of another model: {name} is {list(saved[name].shape)} there and "
                f"{list(tensor.shape)} in the configured model"
            )


def file_digest(path: str, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks (wiki1m: ~0.3 s)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class ResumeGuard(Callback):
    """Writes what the data position and the LR schedule depend on into every checkpoint, and refuses to resume
    when any of it changed: the saved position counts steps of a given batch size over a given file in a given
    order, and the schedule's remaining length was fixed when it started."""

    def __init__(self) -> None:
        self._saved: dict[str, Any] | None = None
        self._current: dict[str, Any] | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._current = fingerprint(trainer)
        saved, self._saved = self._saved, None
        if saved is None:
            return
        for key, value in saved.items():
            now = self._current.get(key)
            if now != value:
                raise CheckpointError(_mismatch(key, value, now))

    def state_dict(self) -> dict[str, Any]:
        return dict(self._current or {})

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._saved = dict(state_dict) or None


def _mismatch(key: str, saved: Any, now: Any) -> str:
    if key == SCHEDULE_KEY:
        return (
            f"cannot resume: the LR schedule ({key}) was {saved} steps long when the checkpoint was written and is "
            f"{now} now; a started schedule cannot be changed. Resume with the original trainer.max_steps / "
            "trainer.max_epochs, or train further in a new run from the export (model.name_or_path=<run dir>/model)"
        )
    return (
        f"cannot resume: {key} was {saved!r} when the checkpoint was written and is {now!r} now; the saved data "
        "position only means the same data under the same settings. Resume with the run's original settings "
        "(<run dir>/.hydra/overrides.yaml), or start a new run"
    )


SCHEDULE_KEY = "trainer.max_steps / trainer.max_epochs"


def _schedule_steps(trainer: pl.Trainer) -> int | None:
    steps = trainer.estimated_stepping_batches
    return int(steps) if steps != float("inf") else None


def fingerprint(trainer: pl.Trainer) -> dict[str, Any]:
    """The settings a resumed run must share with the saved one, keyed by what a user would have changed; the
    data first (its file, then how it is cut into steps), then the processes and the schedule."""
    data = trainer.datamodule
    source = getattr(data, "source", None)
    path = getattr(source, "path", None)
    local = isinstance(path, str) and os.path.isfile(path)
    settings: dict[str, Any] = {"data.source.path": os.path.abspath(path) if local else path}
    if local:
        settings["the data file's size in bytes"] = os.path.getsize(path)
        settings["the data file's SHA-256"] = file_digest(path)
    if source is not None and hasattr(source, "__len__"):
        settings["the number of training examples"] = len(source)
    for key in ("batch_size", "max_samples", "shuffle", "drop_last", "seed"):
        settings[f"data.{key}"] = getattr(data, key, None)
    settings["the number of processes (trainer.devices × trainer.num_nodes)"] = trainer.world_size
    settings["trainer.accumulate_grad_batches"] = trainer.accumulate_grad_batches
    settings[SCHEDULE_KEY] = _schedule_steps(trainer)
    return settings
