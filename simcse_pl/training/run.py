"""run(cfg): the whole job — validate the untrained model, fit, export the best checkpoint, test it, and
write ``results.json``. Returns the metric a sweep maximises.

Everything cheap is checked before anything expensive: config ranges, then the run folder's lock, the
trainer's arguments and the checkpoint to resume, then the model (its position limit against
``data.max_len``, the checkpoint's shapes against it), and only then the data and the training.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shlex
import sys
from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf

from simcse_pl.training.baseline import untrained_validation
from simcse_pl.training.checkpointing import ResumeCheckpoint, checkpoint_sizes
from simcse_pl.config import ConfigError, check_config
from simcse_pl.console import config_summary, interactive, quiet_libraries
from simcse_pl.encoders.backbone import check_max_len, load_tokenizer
from simcse_pl.evaluation.registry import default_monitor
from simcse_pl.export.writer import export_model, formats_written
from simcse_pl.training.loggers import CSVLogger, WandbLogger, finish_wandb, log_exported_model, log_test_table
from simcse_pl.losses.cosent import refuse_unranked_data
from simcse_pl.export.model_card import RunFacts, write_card
from simcse_pl.training.module import SimCSEModule
from simcse_pl.errors import Preempted
from simcse_pl.training.preemption import StopSignals, not_started, signal_name
from simcse_pl.training.resume import check_matches_model, resolve_checkpoint
from simcse_pl.export.checkpoint import read_checkpoint
from simcse_pl.training.run_lock import RunLock
from simcse_pl.training.tracking import hydra_files, record_run, write_hydra_files

log = logging.getLogger(__name__)


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
    quiet_libraries()
    composed = hydra_files(cfg)  # the job's .hydra/ record, written once the folder is ours
    check_config(cfg)  # ranges; Hydra checked the types while composing
    if cfg.optimized_metric is None:
        cfg.optimized_metric = default_monitor(list(cfg.data.val_tasks), cfg.data.data_dir)
    out_dir = cfg.paths.output_dir
    # DDP ranks started by the launcher share the folder: only global rank 0 takes it
    lock = RunLock(out_dir) if rank_zero_only.rank == 0 else contextlib.nullcontext()
    with lock, StopSignals() as stop:
        write_hydra_files(out_dir, composed)
        try:
            job = _build(cfg, out_dir)
        except Exception:
            # the handler's Preempted can surface wrapped by whatever library was running (Hydra locating or
            # calling a target, OmegaConf resolving a value): once a stop was received, that is what happened
            if stop.received is None:
                raise
            raise Preempted(stop.received, stop.outside_training(stop.received)) from None
        try:
            return _phases(cfg, job, stop)
        except (SIGTERMException, Exception):  # Lightning's stop is a SystemExit
            if stop.received is None:
                raise
            # stopped inside a validation, Lightning tears down that loop only: shut the training loader's
            # persistent workers down too, or the interpreter would wait for them at exit
            job.trainer.fit_loop.teardown()
            raise _preempted(stop, job.resume, out_dir) from None


@dataclass
class Job:
    trainer: pl.Trainer
    module: SimCSEModule
    datamodule: Any
    tokenizer: Any
    callbacks: list[Any]
    resume: ResumeCheckpoint | None
    ckpt_path: str | None
    out_dir: str


def _build(cfg: DictConfig, out_dir: str) -> Job:
    """Every part of the job, cheap checks first: a bad loss / data / trainer setting or checkpoint path fails
    before the model is loaded, and the model's limits and the checkpoint's shapes before any data is read."""
    pl.seed_everything(cfg.seed, workers=True)
    loss = instantiate(cfg.loss)
    auxiliaries = {name: instantiate(node) for name, node in (cfg.get("auxiliary") or {}).items()}
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    datamodule = instantiate(cfg.data, tokenizer=None)  # tokenizer set below
    if loss.needs_labels and not getattr(datamodule.source, "labelled", False):
        raise ConfigError(
            f"loss={type(loss).__name__} needs a score or label per example, which {type(datamodule.source).__name__} "
            "(data.source) does not give: train it on labelled pairs (data=pairs)"
        )
    loggers = _instantiate_all(cfg.get("logger"))
    # LearningRateMonitor refuses a Trainer without loggers (logger=none)
    callbacks = [c for c in _instantiate_all(cfg.get("callbacks")) if loggers or not isinstance(c, LearningRateMonitor)]
    trainer = _trainer(cfg.trainer, callbacks, loggers)
    resume = next((c for c in callbacks if isinstance(c, ResumeCheckpoint)), None)
    ckpt_path = resolve_checkpoint(cfg.ckpt_path, str(resume.dirpath) if resume else os.path.join(out_dir, "checkpoints"))

    # the waits of a first start (minutes on a loaded machine: a large file, a model read from disk, wandb's
    # service) each say what they are, so a silent console never looks like a hung job
    if cfg.train:
        log.info("reading the training data: %s", getattr(datamodule.source, "path", type(datamodule.source).__name__))
        datamodule.check_training_data()
        refuse_unranked_data([loss, *auxiliaries.values()], datamodule.source)
    log.info("loading the model: %s", model_cfg.get("name_or_path") or "random BERT")
    # the run's one tokenizer: the data, the encoder and any auxiliary (masked-LM) share it
    datamodule.tokenizer = tokenizer = load_tokenizer(**model_cfg)
    datamodule.prompts = model_cfg.get("prompts") or {}
    module = SimCSEModule(
        model=model_cfg, loss=loss, optim=OmegaConf.to_container(cfg.optim, resolve=True),
        step=OmegaConf.to_container(cfg.step, resolve=True), auxiliaries=auxiliaries, tokenizer=tokenizer,
    )
    lengths = {"data.max_len": datamodule.max_len, "data.document_max_len": datamodule.document_max_len,
               "data.eval_max_len": datamodule.eval_max_len}
    check_max_len(module.encoder, tokenizer, lengths)
    if ckpt_path is not None:
        state = read_checkpoint(ckpt_path, mmap=True)
        check_matches_model(state, module, ckpt_path)
        for logger in loggers:
            if isinstance(logger, CSVLogger):  # the history continues from the checkpoint's step
                logger.keep_until(int(state["global_step"]))
    if any(isinstance(logger, WandbLogger) for logger in loggers):
        log.info("starting wandb (WANDB_MODE=%s)", os.environ.get("WANDB_MODE", "online"))
    record_run(cfg, out_dir, trainer.loggers)
    for line in config_summary(cfg):
        log.info(line)
    return Job(trainer, module, datamodule, tokenizer, callbacks, resume, ckpt_path, out_dir)


def _phases(cfg: DictConfig, job: Job, stop: StopSignals) -> float | None:
    """Validate the untrained model, fit, keep the best weights, export, test, write ``results.json``, then the
    export's model card from it. ``stop`` learns when training begins (a stop before has nothing to resume)."""
    trainer, module, datamodule = job.trainer, job.module, job.datamodule
    checkpoint = next((c for c in job.callbacks if isinstance(c, ModelCheckpoint) and c.monitor), None)
    metric = cfg.optimized_metric
    results: dict[str, Any] = {"run_dir": job.out_dir, "metric": metric}

    if cfg.validate_before:
        results["before"] = untrained_validation(cfg, trainer, module, datamodule, job.out_dir,
                                                 resuming=job.ckpt_path is not None)

    if cfg.train:
        stop.training_started = True
        trainer.fit(module, datamodule=datamodule, ckpt_path=job.ckpt_path)
        results["train"] = _metrics(trainer, "train/")  # last logged values; a later validate() clears them
        if hasattr(datamodule.source, "__len__"):  # a streamed source has no length
            results["train_examples"] = len(datamodule.source)
        if module.last_validated_step != trainer.global_step:
            trainer.validate(module, datamodule=datamodule, verbose=False)
        results["final"] = {"step": trainer.global_step, **_metrics(trainer, "val/")}
        last = job.resume.last_path if job.resume is not None and os.path.isfile(job.resume.last_path) else None
        results["best"] = _select_best(module, checkpoint, results["final"], metric, last)
        log.info(
            "after training: %s = %.2f (final, step %d), best %.2f at step %d",
            metric, results["final"].get(metric, float("nan")), trainer.global_step,
            results["best"].get(metric, float("nan")), results["best"]["step"],
        )

    if cfg.export:
        results["export_dir"] = export_model(
            module.sentence_encoder, os.path.join(job.out_dir, "model"), datamodule.eval_max_len,
            objective=module.objective,
        )

    if cfg.test:
        trainer.test(module, datamodule=datamodule, verbose=False)
        results["test"] = _metrics(trainer, "test/")
        log.info("test: %s", ", ".join(f"{k} = {v:.2f}" for k, v in results["test"].items()))
        log_test_table(trainer.loggers, results["test"])

    with open(os.path.join(job.out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    if cfg.export:  # the card is the run's once results.json holds its scores, and the upload has it
        write_card(results["export_dir"], RunFacts.read(job.out_dir))
        log_exported_model(trainer.loggers, results["export_dir"])
    log.info("written to %s: results.json%s, checkpoints/, metrics in csv/ (or the configured loggers)", job.out_dir,
             f", model/ ({formats_written(results['export_dir'])})" if cfg.export else "")
    sizes = checkpoint_sizes(os.path.join(job.out_dir, "checkpoints"), _weight_bytes(module))
    if sizes is not None:
        log.info(sizes)
    return results.get("best", results.get("before", {})).get(metric)


def _select_best(
    module: SimCSEModule, checkpoint: ModelCheckpoint | None, final: dict[str, float], metric: str, last: str | None
) -> dict[str, Any]:
    """Keep the best validated weights in ``module``: the best checkpoint, or the final weights if better. A NaN
    metric never selects anything (``BestCheckpoint`` keeps no such checkpoint; a NaN final loses to any number).
    ``checkpoint`` in the returned record is the file holding the selected weights: the final weights are
    ``last.ckpt``'s (written as training ends; None only when ``callbacks.resume_checkpoint`` is off), so a run with
    no ``best-*.ckpt`` (no validation during training beat the final one) names that file rather than nothing."""
    if checkpoint is None or not checkpoint.best_model_path or checkpoint.best_model_score is None:
        return {**final, "checkpoint": last}
    best_score = float(checkpoint.best_model_score)
    final_score = final.get(metric, float("nan"))
    if not math.isfinite(best_score) or (math.isfinite(final_score) and final_score > best_score):
        return {**final, "checkpoint": last}
    state = read_checkpoint(checkpoint.best_model_path)
    module.load_state_dict(state["state_dict"])
    return {"step": state["global_step"], metric: best_score, "checkpoint": checkpoint.best_model_path}


def _weight_bytes(module: SimCSEModule) -> int:
    """The bytes of the weights a checkpoint holds (the module's state dict: the adapters alone under LoRA)."""
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


def _trainer(cfg: DictConfig, callbacks: list[Any], loggers: list[Any]) -> pl.Trainer:
    """``lightning.Trainer`` from the trainer group; an argument it rejects is one line naming the group. Off a
    terminal the progress bar gives way to ConsoleReport's plain lines (a bar would print once, at the end)."""
    bar = cfg.get("enable_progress_bar")
    try:
        return instantiate(cfg, callbacks=callbacks, logger=loggers or False, enable_progress_bar=interactive() and bar is not False)
    except InstantiationException as exc:
        cause = exc.__cause__ or exc
        raise ConfigError(f"trainer: {str(cause).strip().splitlines()[0]}") from None


def _preempted(stop: StopSignals, resume: ResumeCheckpoint | None, out_dir: str) -> Preempted:
    """What a stop signal left behind, and the command that continues the run."""
    signum = stop.received or 15
    name = signal_name(signum)
    if resume is not None and resume.stopped_at is not None:
        path, step = resume.stopped_at
        message = f"stopped by {name} at step {step}; the training state is in {path}. Resume with: {resume_command(out_dir)}"
    elif resume is not None and os.path.isfile(resume.last_path):
        message = f"stopped by {name}; the last checkpoint is {resume.last_path}. Resume with: {resume_command(out_dir)}"
    elif not stop.training_started:
        message = not_started(signum)
    else:
        message = f"stopped by {name} before any training step was saved: run the same command again"
    log.warning(message)
    return Preempted(signum, message)


def resume_command(out_dir: str) -> str:
    """This job's command line with the run folder fixed and ``ckpt_path=last``."""
    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    kept = [o for o in overrides if not o.startswith(("hydra.run.dir=", "ckpt_path="))]
    program = sys.argv[0] or "train.py"
    command = ["python", program] if program.endswith(".py") else [os.path.basename(program)]
    return " ".join(shlex.quote(a) for a in [*command, *kept, f"hydra.run.dir={out_dir}", "ckpt_path=last"])
