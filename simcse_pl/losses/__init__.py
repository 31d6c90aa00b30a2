"""Objectives, one per file (formula, paper and when to use it in each docstring); see ``base.py`` for the two
kinds and how the training step calls them. Every module of this package is imported here, so a new objective is
a new file plus its YAML under conf/loss/ (or conf/auxiliary/), with no other edit.

A saved config (a run's ``run_info.json``) is built with ``build_registered``, not ``hydra.utils.instantiate``:
each ``_target_`` is looked up by exact name in ``REGISTRY`` (this package's own objectives, registered as they
are defined), so a file cannot name a function or reach an attribute through a module (``...base.torch.load``).
The keyword arguments are checked against the class's constructor by the same code that checks a composed config
(``simcse_pl.config.check_target``): an unknown key, a wrong type or a value out of range is one line.
"""

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from torch import nn

from simcse_pl.config import ConfigError, check_target
from simcse_pl.losses.base import PACKAGE, REGISTRY, Auxiliary, Objective, StepState, cosine_matrix
from simcse_pl.losses.infonce import InfoNCE

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

# the package-level names of registered classes are theirs too (conf/loss/infonce.yaml: simcse_pl.losses.InfoNCE)
REGISTRY.update({f"{PACKAGE}.{cls.__name__}": cls for cls in (InfoNCE,)})


def registered_class(name: str, key: str) -> type[nn.Module]:
    """The registered objective named exactly ``name``; anything else (a function, a class of another package, an
    attribute reached through one of this package's modules) is a ``ConfigError`` naming ``key``."""
    cls = REGISTRY.get(name)
    if cls is None:
        raise ConfigError(f"{key}: {name!r} is not one of simcse-pl's losses ({', '.join(sorted(REGISTRY))}); refused")
    return cls


def build_registered(config: Mapping[str, Any], key: str, kind: type[nn.Module] = Objective) -> nn.Module:
    """The ``kind`` of objective a saved ``_target_`` config describes, built from registered classes only (nested
    configs too, e.g. Matryoshka's ``inner``) after its keyword arguments pass the schema check."""
    if not isinstance(config, Mapping):
        raise ConfigError(f"{key}: {config!r} is not a config (a mapping with a _target_)")
    interpolation = _interpolation(config, key)
    if interpolation is not None:
        raise ConfigError(f"{interpolation}: an interpolation (${{...}}) in a saved config, which holds resolved "
                          "values only; refused")
    try:
        node = OmegaConf.create(dict(config))
    except OmegaConfBaseException as exc:
        raise ConfigError(f"{key}: not a config ({str(exc).splitlines()[0]})") from None
    check_target(node, key, resolve=registered_class)
    cls = registered_class(str(node._target_), key)
    if not issubclass(cls, kind):
        raise ConfigError(f"{key}: {node._target_!r} is not an {kind.__name__} (simcse_pl.losses.{kind.__name__})")
    return _construct(node, key)


def _interpolation(value: Any, key: str) -> str | None:
    """The key of the first string holding ``${``: OmegaConf would resolve it (an environment variable, another
    key) where a saved, already resolved config means its text."""
    if isinstance(value, str):
        return key if "${" in value else None
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return None
    return next((found for k, v in items if (found := _interpolation(v, f"{key}.{k}")) is not None), None)


def _construct(node: DictConfig, key: str) -> nn.Module:
    """``node``'s registered class called with its (checked) arguments, nested ``_target_`` nodes built first."""
    kwargs: dict[str, Any] = {}
    for name in (str(n) for n in node if n != "_target_"):
        child = node._get_node(name)
        is_target = isinstance(child, DictConfig) and "_target_" in child
        kwargs[name] = _construct(child, f"{key}.{name}") if is_target else _plain(node, name, key)  # type: ignore[arg-type]
    return registered_class(str(node._target_), key)(**kwargs)


def _plain(node: DictConfig, name: str, key: str) -> Any:
    """``node[name]`` as plain data (lists and dicts as Python's), interpolations resolved."""
    try:
        value = node[name]
        return OmegaConf.to_container(value, resolve=True) if isinstance(value, (DictConfig, ListConfig)) else value
    except OmegaConfBaseException as exc:
        raise ConfigError(f"{key}.{name}: {str(exc).splitlines()[0]}") from None


__all__ = ["REGISTRY", "Auxiliary", "InfoNCE", "Objective", "StepState", "build_registered", "cosine_matrix",
           "registered_class"]
