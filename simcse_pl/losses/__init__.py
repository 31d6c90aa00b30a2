"""Objectives, one per file (formula, paper and when to use it in each docstring); see ``base.py`` for the two
kinds and how the training step calls them. Every module of this package is imported here, so a new objective is
a new file plus its YAML under conf/loss/ (or conf/auxiliary/), with no other edit."""

import importlib
import pkgutil

from simcse_pl.losses.base import Auxiliary, Objective, StepState, cosine_matrix
from simcse_pl.losses.infonce import InfoNCE

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["Auxiliary", "InfoNCE", "Objective", "StepState", "cosine_matrix"]
