"""The record of a run: the resolved config, the overrides and the git commit, written to
``<run dir>/run_info.json`` and logged as the run config of every logger, with secrets redacted first."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import lightning
import torch
import transformers
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

REDACTED = "<redacted>"
# names of keys and environment variables whose values are credentials (WANDB_API_KEY, HF_TOKEN, api_key, ...);
# whole name segments only, so `tokenizer` or `max_tokens` are kept
SECRET_NAME = re.compile(
    r"(?:^|[_.\-])(?:api[_-]?key|token|secret|passw(?:or)?d|credentials?|private[_-]?key)(?:$|[_.\-])", re.IGNORECASE
)
# a "key=value" string (argv, Hydra overrides)
ASSIGNMENT = re.compile(r"([^=\s]+)=(.*)", re.DOTALL)
REPO_ROOT = Path(__file__).resolve().parents[2]  # the checkout (simcse_pl/training/tracking.py)


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    """Values of secret-looking environment variables (e.g. WANDB_API_KEY): a config may interpolate them
    under an innocent key (``${oc.env:...}``), so values are matched as well as key names."""
    env = os.environ if environ is None else environ
    return sorted({v for k, v in env.items() if SECRET_NAME.search(k) and len(v) >= 8}, key=len, reverse=True)


def redact(obj: Any, secrets: list[str]) -> Any:
    """``obj`` with values under secret-looking keys or in ``secret_key=value`` strings, and any occurrence of a
    secret value, replaced."""
    if isinstance(obj, dict):
        return {k: REDACTED if SECRET_NAME.search(str(k)) else redact(v, secrets) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact(v, secrets) for v in obj]
    if isinstance(obj, str):
        assignment = ASSIGNMENT.fullmatch(obj)
        if assignment and SECRET_NAME.search(assignment.group(1)):
            return f"{assignment.group(1)}={REDACTED}"
        for secret in secrets:
            obj = obj.replace(secret, REDACTED)
    return obj


def git_info(root: Path = REPO_ROOT) -> dict[str, Any]:
    """Commit of the code that ran and whether the tree had uncommitted changes (then the commit alone does
    not reproduce the run); nulls outside a git checkout, and for an installed wheel (no pyproject.toml beside
    the package): its site-packages may lie inside another project's git tree, whose commit is not this code's."""
    if not (root / "pyproject.toml").is_file():
        return {"commit": None, "dirty": None}

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def hydra_overrides() -> list[str]:
    """The job's command-line (or sweeper-chosen) overrides; empty when not run under Hydra."""
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


HYDRA_SUBDIR = ".hydra"


def hydra_files(cfg: DictConfig) -> dict[str, str]:
    """What Hydra would have written to ``<run dir>/.hydra/`` (``config.yaml``, ``hydra.yaml``,
    ``overrides.yaml``), as text, taken as the job starts (before ``check_config`` touches ``cfg``); empty when
    not run under Hydra.

    Hydra writes them before the job runs, so a second run into a folder in use rewrote the live run's record
    (its ``config.yaml`` then named the refused run's settings, which simcse-report reads); conf/hydra/default.yaml
    sets ``hydra.output_subdir: null`` and the job writes them itself once it holds the run folder's lock
    (``write_hydra_files``)."""
    if not HydraConfig.initialized():
        return {}
    hydra = HydraConfig.instance().cfg
    return {
        "config.yaml": OmegaConf.to_yaml(cfg),
        "hydra.yaml": OmegaConf.to_yaml(hydra),
        "overrides.yaml": OmegaConf.to_yaml(hydra.hydra.overrides.task),
    }


def write_hydra_files(out_dir: str, files: dict[str, str]) -> None:
    """``<out_dir>/.hydra/<name>`` for each of ``files``, as Hydra writes them; rank 0 only (DDP ranks share the
    folder). Call it only while holding the folder's ``RunLock``."""
    if not files or rank_zero_only.rank != 0:
        return
    folder = Path(out_dir) / HYDRA_SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def _keep_hydra_files(hydra_dir: Path, segment: int) -> None:
    if not hydra_dir.is_dir():
        return
    kept = hydra_dir / f"segment-{segment}"
    kept.mkdir(exist_ok=True)
    for path in hydra_dir.glob("*.yaml"):
        shutil.copy2(path, kept / path.name)


def package_version() -> str | None:
    """The installed simcse-pl's version: with ``git`` null (an installed wheel), what says which code ran."""
    try:
        return metadata.version("simcse-pl")
    except metadata.PackageNotFoundError:  # a checkout on sys.path, not installed
        return None


def run_record(cfg: DictConfig) -> dict[str, Any]:
    """Everything needed to rerun this job and compare it with others, secrets redacted."""
    record = {
        "git": git_info(),
        "overrides": hydra_overrides(),
        "seed": cfg.get("seed"),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "argv": sys.argv,
        "versions": {
            "simcse_pl": package_version(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "lightning": lightning.__version__,
            "transformers": transformers.__version__,
        },
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    return redact(record, secret_values())


def record_run(cfg: DictConfig, out_dir: str, loggers: list[Any]) -> dict[str, Any]:
    """Write ``run_info.json`` and log the resolved config, commit and overrides as every logger's run config
    (the module's own hyperparameters alone miss data, loss, trainer and seed).

    A resumed run is a new segment of the same run: the first segment's record stays at the top of
    ``run_info.json`` and each later one is appended under ``resumed``; Hydra's ``.hydra/*.yaml`` of every
    segment is kept in ``.hydra/segment-<k>/`` (Hydra rewrites ``.hydra/`` at each start)."""
    record = run_record(cfg)
    if rank_zero_only.rank == 0:  # DDP ranks share the run dir
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        path = Path(out_dir) / "run_info.json"
        first = json.loads(path.read_text()) if path.is_file() else None
        written = record if first is None else {**first, "resumed": [*first.get("resumed", []), record]}
        path.write_text(json.dumps(written, indent=2))
        _keep_hydra_files(Path(out_dir) / ".hydra", segment=1 + len(written.get("resumed", [])))
    hparams = {**record["config"], "git": record["git"], "overrides": record["overrides"]}
    for logger in loggers:
        logger.log_hyperparams(hparams)
    return record
