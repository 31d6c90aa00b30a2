"""The untrained model's validation: computed once per sweep, and once per run across resumes.

Every job of a sweep that shares the model and the validation settings starts from the same untrained weights,
so its pre-training validation is the same number: the first job computes it and stores it under
``<sweep dir>/.cache/``, keyed by what it depends on; the others read it (in the quickstart's 2-job sweep it was
5 of 7 minutes). Outside a sweep, or when nothing matches, the validation runs as usual.

Each run also records it in its own folder (``untrained_validation.json``). A resumed run (``ckpt_path``) reads
it from there instead of validating the untrained weights again: the number is the same, the loggers already
hold it at step 0 (a second step-0 point after step N would go back in time: wandb drops it), and on a large
model the validation is minutes of every restart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import lightning.pytorch as pl
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from simcse_pl.console import metric_title

log = logging.getLogger(__name__)

RECORD_FILE = "untrained_validation.json"  # in the run folder


def _key(cfg: DictConfig) -> str:
    """What the untrained model's validation depends on: the model, the validation tasks and their files'
    root, the evaluation batch settings and the precision."""
    depends = {
        "model": OmegaConf.to_container(cfg.model, resolve=True),
        "tasks": list(cfg.data.val_tasks),
        "data_dir": os.path.abspath(cfg.data.data_dir),
        "eval": [cfg.data.eval_batch_size, cfg.data.eval_max_len],
        "precision": str(cfg.trainer.precision),
    }
    return hashlib.sha256(json.dumps(depends, sort_keys=True).encode()).hexdigest()[:16]


def _cache_file(cfg: DictConfig) -> Path | None:
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return Path(HydraConfig.get().sweep.dir) / ".cache" / f"untrained-validation-{_key(cfg)}.json"


def untrained_validation(
    cfg: DictConfig, trainer: pl.Trainer, module: pl.LightningModule, datamodule: pl.LightningDataModule,
    out_dir: str, resuming: bool = False,
) -> dict[str, float]:
    """``val/*`` metrics of the untrained model: this run's record when resuming, the sweep's cache, or validated
    (and cached); recorded in ``out_dir`` either way."""
    record = Path(out_dir) / RECORD_FILE
    if resuming and record.is_file():
        metrics = json.loads(record.read_text())
        _log_metric(cfg, metrics, f"recorded before the interruption: {record}")
        return metrics
    cache = _cache_file(cfg)
    if cache is not None and cache.is_file():
        metrics = json.loads(cache.read_text())
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=0)
        _log_metric(cfg, metrics, f"computed once for this sweep: {cache}")
    else:
        # the first job of a sweep (and every single run) validates: minutes on a large model, once per sweep
        log.info("step 0 (untrained): validating on %s", ", ".join(cfg.data.val_tasks))
        trainer.validate(module, datamodule=datamodule, verbose=False)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
        if cache is not None:
            _write_atomically(cache, metrics)
    _write_atomically(record, metrics)
    return metrics


def _log_metric(cfg: DictConfig, metrics: dict[str, float], source: str) -> None:
    value = metrics.get(cfg.optimized_metric)
    log.info("step 0 (untrained): %s %.2f (%s)", metric_title(cfg.optimized_metric),
             float("nan") if value is None else value, source)


def _write_atomically(path: Path, metrics: dict[str, float]) -> None:
    """Written whole or not at all: a second job or a resume never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(json.dumps(metrics))
    os.replace(partial, path)
