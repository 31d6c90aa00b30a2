"""simcse-pl: contrastive sentence-embedding training (SimCSE) on PyTorch Lightning + Hydra.

Importing the package registers the config schema with Hydra (simcse_pl/config.py, light); the classes below are
imported on first use, so that composing a config or printing ``--help`` does not load torch and Lightning."""

from importlib import import_module
from typing import Any

import simcse_pl.config  # noqa: F401 - registers train_schema and the per_device resolver with Hydra

_EXPORTS = {
    "InfoNCE": "simcse_pl.losses",
    "Pooler": "simcse_pl.encoders.poolers",
    "SimCSEDataModule": "simcse_pl.training.datamodule",
    "SimCSEModule": "simcse_pl.training.module",
    "TrainResult": "simcse_pl.training.python_api",
    "train": "simcse_pl.training.python_api",  # a training run from Python: simcse_pl.train(["experiment=quickstart"])
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'simcse_pl' has no attribute {name!r}")
