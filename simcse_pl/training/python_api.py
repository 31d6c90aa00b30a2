"""``train(...)``: a training run from Python, the same job as ``python train.py ...`` (issue 24, item 13).

    from simcse_pl.training import train          # or simcse_pl.train

    result = train(["experiment=quickstart", "loss.tau=0.1"])
    result.best, result.metric                    # 81.7, 'val/stsb_spearman'
    result.run_dir, result.export_dir             # outputs/quickstart/<date>_<time>, .../model

    from simcse_pl.config import compose_config   # or a config built and edited in Python
    cfg = compose_config("experiment=quickstart")
    cfg.loss.tau = 0.1
    train(cfg)

The overrides compose the packaged ``conf/train.yaml`` through Hydra's compose API, as the command line does, and
Hydra's own ``run_job`` runs ``simcse_pl.training.run.run`` in the run folder it makes: ``.hydra/``, ``train.log``,
``results.json`` and ``model/`` are what the command line writes, so ``simcse-report`` and ``simcse-eval`` read the
run the same way. ``run_job`` puts Hydra's global state back afterwards, so ``train`` can be called again in the same
process (a notebook, a loop over settings); each call's run folder is ``hydra.run.dir`` (by default
``outputs/<task_name>/<second it started>``: give ``hydra.run.dir=...`` to two runs that start in the same second).

It lives in ``training`` (floor 5): it needs the job (``training.run``) and the config (floor 1), nothing above. The
package reaches it lazily (``simcse_pl.train``, ``simcse_pl.training.train``), so ``import simcse_pl`` and the
inference side never import Lightning.

Errors are raised, not printed: a bad value is the ``ConfigError`` (or Hydra's ``ConfigCompositionException``)
whose message ``train.py`` would print on its one line.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra._internal.callbacks import Callbacks
from hydra.core.global_hydra import GlobalHydra
from hydra.core.utils import run_job
from hydra.types import HydraContext
from omegaconf import DictConfig, open_dict

from simcse_pl.config import CONF_DIR
from simcse_pl.training.run import run

CONFIG_NAME = "train"


@dataclass(frozen=True)
class TrainResult:
    """What a run left: its folder, the metric model selection maximised and its best validated value (None when
    nothing was validated), the exported model's folder (None with ``export=false``), and ``results.json`` whole."""

    run_dir: Path
    metric: str
    best: float | None
    export_dir: Path | None
    results: dict[str, Any]

    @classmethod
    def read(cls, run_dir: Path) -> TrainResult:
        results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
        metric = results["metric"]
        export_dir = results.get("export_dir")
        return cls(run_dir=run_dir, metric=metric, best=(results.get("best") or results.get("before") or {}).get(metric),
                   export_dir=Path(export_dir) if export_dir else None, results=results)


def train(overrides: Sequence[str] | DictConfig = (), *, configure_logging: bool = True) -> TrainResult:
    """Train as ``python train.py *overrides`` would, in this process; returns the run's ``TrainResult``.

    ``overrides``: command-line overrides (``["model=minilm-l6", "data.batch_size=32"]``), or a whole composed
    config (``simcse_pl.config.compose_config(...)``, edited as needed). ``configure_logging``: Hydra's job logging,
    as the command line has it (the console and ``<run dir>/train.log``); False leaves this process's logging as
    it is."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name=CONFIG_NAME):
        config = _with_hydra(overrides)
        context = HydraContext(config_loader=GlobalHydra.instance().config_loader(), callbacks=Callbacks(config))
        job = run_job(run, config, job_dir_key="hydra.run.dir", job_subdir_key=None, hydra_context=context,
                      configure_logging=configure_logging)
    job.return_value  # noqa: B018 - raises the job's exception, if it ended in one
    return TrainResult.read(Path(job.hydra_cfg.hydra.runtime.output_dir))


def _with_hydra(overrides: Sequence[str] | DictConfig) -> DictConfig:
    """The config with its ``hydra`` node (run folder, logging, the overrides to record), which ``run_job`` needs;
    a config composed without one (``compose_config``) gets the packaged one."""
    if not isinstance(overrides, DictConfig):
        return compose(CONFIG_NAME, overrides=list(overrides), return_hydra_config=True)
    config = copy.deepcopy(overrides)
    if "hydra" not in config:
        with open_dict(config):
            config.hydra = compose(CONFIG_NAME, return_hydra_config=True).hydra
    return config
