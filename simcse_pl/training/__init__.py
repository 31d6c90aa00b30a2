"""Training with Lightning: the job (``run``), the module and its step, the datamodule, checkpoints, resuming,
stop signals, guards, loggers and the run record. It imports every wing below it, never ``inference`` or ``cli``.

``train`` (``python_api.py``) is the job from Python; it is imported on first use, so that importing a light
module of this wing (``preemption``, which the command line loads before Hydra composes) does not load Lightning."""

from importlib import import_module
from typing import Any

_EXPORTS = {"train": "simcse_pl.training.python_api", "TrainResult": "simcse_pl.training.python_api"}
__all__ = ["TrainResult", "train"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'simcse_pl.training' has no attribute {name!r}")
