"""run(cfg): the whole job — validate the untrained model, fit, export the best checkpoint, test it, and
write ``results.json``. Returns the metric a sweep maximises."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import hydra
import lightning.pytorch as pl
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from simcse_pl.encoder import load_tokenizer
from simcse_pl.errors import user_errors_reported
from simcse_pl.export import export_model
from simcse_pl.loggers import finish_wandb, log_exported_model, log_test_table
from simcse_pl.module import SimCSEModule
from simcse_pl.tracking import record_run

log = logging.getLogger(__name__)

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")


def _metrics(trainer: pl.Trainer, prefix: str) -> dict[str, float]:
    return {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(prefix)}


def _instantiate_all(group: DictConfig | None) -> list[Any]:
    return [instantiate(c) for c in (group or {}).values() if c is not None and "_target_" in c]


def run(cfg: DictConfig) -> float | None:
    """The job; its wandb run is closed even when it fails, so each multirun job gets its own."""
    failed = True
    try:
        value = _run(cfg)
        failed = False
        return value
    finally:
        finish_wandb(failed)


def _run(cfg: DictConfig) -> float | None:
    out_dir = cfg.paths.output_dir
    pl.seed_everything(cfg.seed, workers=True)
    # cheap checks first: a bad loss / data setting fails before any model is loaded
    loss = instantiate(cfg.loss)
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    datamodule = instantiate(cfg.data, tokenizer=None)  # checks batch size / max_len; tokenizer set below
    datamodule.tokenizer = tokenizer = load_tokenizer(**model_cfg)
    module = SimCSEModule(model=model_cfg, loss=loss, optim=OmegaConf.to_container(cfg.optim, resolve=True))

    loggers = _instantiate_all(cfg.get("logger"))
    # LearningRateMonitor refuses a Trainer without loggers (logger=none)
    callbacks = [c for c in _instantiate_all(cfg.get("callbacks")) if loggers or not isinstance(c, LearningRateMonitor)]
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    record_run(cfg, out_dir, trainer.loggers)
    checkpoint = next((c for c in callbacks if isinstance(c, ModelCheckpoint) and c.monitor), None)
    metric = cfg.optimized_metric
    results: dict[str, Any] = {"run_dir": out_dir, "metric": metric}

    if cfg.validate_before:
        trainer.validate(module, datamodule=datamodule, verbose=False)
        results["before"] = _metrics(trainer, "val/")
        log.info("before training: %s = %.2f", metric, results["before"].get(metric, float("nan")))

    if cfg.train:
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
        results["train"] = _metrics(trainer, "train/")  # last logged values; a later validate() clears them
        if module.last_validated_step != trainer.global_step:
            trainer.validate(module, datamodule=datamodule, verbose=False)
        results["final"] = {"step": trainer.global_step, **_metrics(trainer, "val/")}
        results["best"] = _select_best(module, checkpoint, results["final"], metric)
        log.info(
            "after training: %s = %.2f (final, step %d), best %.2f at step %d",
            metric, results["final"].get(metric, float("nan")), trainer.global_step,
            results["best"].get(metric, float("nan")), results["best"]["step"],
        )

    if cfg.export:
        results["export_dir"] = export_model(
            module.encoder, module.pooler, tokenizer, os.path.join(out_dir, "model"), datamodule.eval_max_len
        )
        log.info("model exported to %s (Hugging Face + sentence-transformers format)", results["export_dir"])
        log_exported_model(trainer.loggers, results["export_dir"])

    if cfg.test:
        trainer.test(module, datamodule=datamodule, verbose=False)
        results["test"] = _metrics(trainer, "test/")
        log.info("test: %s", ", ".join(f"{k} = {v:.2f}" for k, v in results["test"].items()))
        log_test_table(trainer.loggers, results["test"])

    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    return results.get("best", results.get("before", {})).get(metric)


def _select_best(
    module: SimCSEModule, checkpoint: ModelCheckpoint | None, final: dict[str, float], metric: str
) -> dict[str, Any]:
    """Keep the best validated weights in ``module``: the best checkpoint, or the final weights if better."""
    if checkpoint is None or not checkpoint.best_model_path or checkpoint.best_model_score is None:
        return {**final, "checkpoint": None}
    best_score = float(checkpoint.best_model_score)
    if final.get(metric, float("-inf")) > best_score:
        return {**final, "checkpoint": None}
    state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)
    module.load_state_dict(state["state_dict"])
    return {"step": state["global_step"], metric: best_score, "checkpoint": checkpoint.best_model_path}


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Console script ``simcse-train`` (same as ``python train.py``)."""
    with user_errors_reported():
        return run(cfg)
