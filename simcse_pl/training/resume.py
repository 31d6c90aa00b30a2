"""Resuming safely: the checkpoint must exist, be whole, belong to this model, and have been written with the
settings the data position and the LR schedule depend on; the optimizer settings given now are the ones used.

A run resumed with another ``data.batch_size``, another data file or another schedule would not fail: it would
skip the wrong data or train with a finished schedule, silently. So the checkpoint carries a fingerprint of
those settings (``ResumeGuard``) and a resumed run refuses any difference, naming the key.

The optimizer's own settings (``optim.lr``, ``weight_decay``, ``betas``, ``eps``) are another matter: Lightning
restores the optimizer and LR scheduler from the checkpoint, settings included, so a resume with a lower
``optim.lr`` (the cure for a diverging run) used to train on with the old one while the log showed the new one.
Changing them between two steps is legitimate, so ``ResumeGuard`` applies the configured values to the restored
optimizer and scheduler (the schedule's position and the optimizer's moments are kept) and logs each change.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

from simcse_pl.data.files import file_sha256
from simcse_pl.errors import CheckpointError

log = logging.getLogger(__name__)


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
    """The checkpoint's weights have this module's names and shapes (else it is another model's, or a setting
    that sizes a buffer, which a module names in its ``sized_by``, changed)."""
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
            owner, _, leaf = name.rpartition(".")
            key = getattr(module.get_submodule(owner), "sized_by", {}).get(leaf)
            if key is not None:  # a setting, not the model: a queue of another size
                raise CheckpointError(f"{path}: saved with {key}={saved[name].shape[0]}, configured "
                                      f"{tensor.shape[0]}: resume with the saved {key.rsplit('.', 1)[1]}")
            raise CheckpointError(
                f"{path}: a checkpoint of another model: {name} is {list(saved[name].shape)} there and "
                f"{list(tensor.shape)} in the configured model"
            )


class ResumeGuard(Callback):
    """Writes what the data position and the LR schedule depend on into every checkpoint, and refuses to resume
    when any of it changed: the saved position counts steps of a given batch size over a given file in a given
    order, and the schedule's length and warmup were fixed when it started. The optimizer settings configured now
    replace the ones Lightning restores from the checkpoint (``apply_optimizer_settings``)."""

    def __init__(self) -> None:
        self._saved: dict[str, Any] | None = None
        self._current: dict[str, Any] | None = None
        self._configured: list[list[dict[str, Any]]] | None = None
        self._resumed_step: int | None = None  # the checkpoint's step, until the resume is announced

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Runs once the optimizers are configured and before Lightning restores their state from the checkpoint."""
        self._current = fingerprint(trainer)
        self._configured = optimizer_settings(trainer.optimizers) if trainer.ckpt_path else None
        saved, self._saved = self._saved, None
        if saved is not None:
            for key, value in saved.items():
                now = self._current.get(key)
                if now != value and not (key == PATH_KEY and _same_content(saved, self._current)):
                    raise CheckpointError(_mismatch(key, value, now))
        self._announce(trainer)

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        """Lightning reads the checkpoint before ``on_fit_start`` (after it, for strategies that restore once set
        up): whichever comes second says what the resume does."""
        self._resumed_step = int(checkpoint["global_step"])
        self._announce(trainer)

    def _announce(self, trainer: pl.Trainer) -> None:
        """One line, once the checkpoint's step and this run's schedule are both known and the settings checked:
        ``resuming from step 27 of 186 (<path>)``, or, for a run that had finished, that only validation and
        testing are left (Lightning then trains no step, silently)."""
        if self._resumed_step is None or self._current is None or not trainer.ckpt_path:
            return
        step, total = self._resumed_step, self._current.get(SCHEDULE_KEY)
        self._resumed_step = None
        if total is not None and step >= total:
            log.info("already trained (%d of %d steps): validating and testing only", step, total)
        else:
            log.info("resuming from step %d%s (%s)", step, f" of {total}" if total is not None else "", trainer.ckpt_path)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """The checkpoint's optimizer and scheduler are restored by now: put the configured settings back."""
        configured, self._configured = self._configured, None
        if configured is None:
            return
        for line in apply_optimizer_settings(trainer, configured):
            log.warning("resuming from step %d with %s", trainer.global_step, line)

    def state_dict(self) -> dict[str, Any]:
        return dict(self._current or {})

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._saved = dict(state_dict) or None


# a param group's entry -> the config key that sets it (simcse_pl/module.py: SimCSEModule.configure_optimizers);
# "initial_lr" is the lr the scheduler scales (its base_lrs), "lr" the scaled value of the current step
OPTIMIZER_SETTINGS = {"initial_lr": "optim.lr", "weight_decay": "optim.weight_decay", "betas": "optim.betas",
                      "eps": "optim.eps"}


def optimizer_settings(optimizers: Sequence[torch.optim.Optimizer]) -> list[list[dict[str, Any]]]:
    """Each param group's settings (``OPTIMIZER_SETTINGS``) as the optimizers hold them now."""
    return [
        [{key: group[key] for key in OPTIMIZER_SETTINGS if key in group} for group in optimizer.param_groups]
        for optimizer in optimizers
    ]


def _same(a: Any, b: Any) -> bool:
    """Settings compared as values: betas come back from a checkpoint as a list or a tuple."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


def apply_optimizer_settings(trainer: pl.Trainer, configured: list[list[dict[str, Any]]]) -> list[str]:
    """Give the restored optimizers the ``configured`` settings, one line per changed config key (empty when none
    changed; nothing is touched then, so an unchanged resume stays exact).

    A new ``optim.lr`` becomes the scheduler's base: the current LR is rescaled by new / old, so the run continues
    at the same point of its schedule, at the new height. The optimizer's moments are kept."""
    changes: dict[str, tuple[Any, Any]] = {}
    lr_before: float | None = None
    for optimizer, groups in zip(trainer.optimizers, configured):
        for group, wanted in zip(optimizer.param_groups, groups):
            for key, value in wanted.items():
                if _same(group[key], value):
                    continue
                changes.setdefault(OPTIMIZER_SETTINGS[key], (group[key], value))
                if key == "initial_lr":
                    lr_before = group["lr"] if lr_before is None else lr_before
                    group["lr"] = group["lr"] * value / group[key]
                group[key] = value
    if not changes:
        return []
    for config in trainer.lr_scheduler_configs:  # LambdaLR & co. compute the next LR from base_lrs
        scheduler = config.scheduler
        groups = scheduler.optimizer.param_groups
        scheduler.base_lrs = [group.get("initial_lr", group["lr"]) for group in groups]
        scheduler._last_lr = [group["lr"] for group in groups]
    lines = []
    for key, (saved, now) in changes.items():
        line = f"{key}={_shown(now)} (the checkpoint's was {_shown(saved)}): applied"
        if key == "optim.lr" and lr_before is not None:
            lr_now = trainer.optimizers[0].param_groups[0]["lr"]
            line += f"; the LR at this point of the schedule is {lr_now:g} instead of {lr_before:g}"
        lines.append(line)
    return lines


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else repr(value)


def _same_content(saved: dict[str, Any], now: dict[str, Any]) -> bool:
    """The data file has moved (a copied run folder, a data root mounted elsewhere) but is the same file: its size
    and SHA-256 are the saved ones, so the saved position still means the same data."""
    return saved.get(DIGEST_KEY) is not None and all(saved.get(k) == now.get(k) for k in (SIZE_KEY, DIGEST_KEY))


def _mismatch(key: str, saved: Any, now: Any) -> str:
    if key == SCHEDULE_KEY:
        return (
            f"cannot resume: the LR schedule ({key}) was {saved} steps long when the checkpoint was written and is "
            f"{now} now; a started schedule cannot be changed. Resume with the original trainer.max_steps / "
            "trainer.max_epochs, or train further in a new run from the export (model.name_or_path=<run dir>/model)"
        )
    if key == WARMUP_KEY:
        return (
            f"cannot resume: {key} was {saved!r} when the checkpoint was written and is {now!r} now; a started LR "
            f"schedule cannot be changed. Resume with {key}={saved!r}, or start a new run without ckpt_path (from "
            "the export: model.name_or_path=<run dir>/model)"
        )
    return (
        f"cannot resume: {key} was {saved!r} when the checkpoint was written and is {now!r} now; the saved data "
        "position only means the same data under the same settings. Resume with the run's original settings "
        "(<run dir>/.hydra/overrides.yaml), or start a new run"
    )


SCHEDULE_KEY = "trainer.max_steps / trainer.max_epochs"
PATH_KEY = "data.source.path"
SIZE_KEY = "the data file's size in bytes"
DIGEST_KEY = "the data file's SHA-256"
WARMUP_KEY = "optim.warmup_ratio"  # the warmup's length is the schedule's shape too (LambdaLR does not save it)


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
    settings: dict[str, Any] = {PATH_KEY: os.path.abspath(path) if local else path}
    if local:
        settings[SIZE_KEY] = os.path.getsize(path)
        settings[DIGEST_KEY] = file_sha256(path)
    if source is not None and hasattr(source, "__len__"):
        settings["the number of training examples"] = len(source)
    for key in ("batch_size", "max_samples", "shuffle", "drop_last", "seed"):
        settings[f"data.{key}"] = getattr(data, key, None)
    settings["the number of processes (trainer.devices × trainer.num_nodes)"] = trainer.world_size
    settings["trainer.accumulate_grad_batches"] = trainer.accumulate_grad_batches
    settings[SCHEDULE_KEY] = _schedule_steps(trainer)
    optim = getattr(trainer.lightning_module, "optim", None)
    if isinstance(optim, dict) and "warmup_ratio" in optim:
        settings[WARMUP_KEY] = float(optim["warmup_ratio"])
    return settings
