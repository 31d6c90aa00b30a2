"""Poolers, one file each, registered by name (``base.py`` describes the seam). Importing the
package imports every module in it, so a new file's ``@register`` is all it takes to be buildable."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from simcse_pl.encoders.poolers.base import POOLERS, MLPHead, Pooler, masked_mean, register

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")


def build_pooler(kind: str, hidden_size: int, mlp_only_train: bool = False, **options: Any) -> Pooler:
    """The pooler registered as ``kind``; an unknown name is a ``ValueError`` naming the key and the choices."""
    if kind not in POOLERS:
        raise ValueError(f"model.pooler={kind!r} is not one of {', '.join(POOLERS)}")
    return POOLERS[kind](kind, hidden_size, mlp_only_train=mlp_only_train, **options)


__all__ = ["POOLERS", "MLPHead", "Pooler", "build_pooler", "masked_mean", "register"]
