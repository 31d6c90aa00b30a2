"""The untrained model's validation, computed once per sweep.

Every job of a sweep that shares the model and the validation settings starts from the same untrained weights,
so its pre-training validation is the same number: the first job computes it and stores it under
``<sweep dir>/.cache/``, keyed by what it depends on; the others read it (in the quickstart's 2-job sweep it was
5 of 7 minutes). Outside a sweep, or when nothing matches, the validation runs as usual.
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
    cfg: DictConfig, trainer: pl.Trainer, module: pl.LightningModule, datamodule: pl.LightningDataModule
) -> dict[str, float]:
    """``val/*`` metrics of the untrained model: from the sweep's cache, or validated (and cached)."""
    cache = _cache_file(cfg)
    if cache is not None and cache.is_file():
        metrics = json.loads(cache.read_text())
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=0)
        value = metrics.get(cfg.optimized_metric)
        log.info("step 0 (untrained): %s %.2f (computed once for this sweep: %s)", metric_title(cfg.optimized_metric),
                 float("nan") if value is None else value, cache)
        return metrics
    trainer.validate(module, datamodule=datamodule, verbose=False)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps(metrics))
        os.replace(partial, cache)
    return metrics
