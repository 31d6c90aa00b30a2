"""The typed shape of ``conf/``: one dataclass per config group, registered in Hydra's ConfigStore.

``conf/train.yaml`` starts its defaults list with ``train_schema`` (``TrainConfig``), so Hydra merges every group
file and command-line override into these types as it composes: ``data.batch_size=8.5`` or ``loss.tau=abc``
fails there, before anything loads, with OmegaConf's message naming the key, the value and the type
(``Value 'abc' of type 'str' could not be converted to Float  full_key: loss.tau``). An unknown key fails the
same way. OmegaConf has types but no ranges: the allowed range of a field is declared beside its type
(``metadata=check(...)``) and ``check_config`` enforces every declared range of the composed config in one
place, also before anything loads (``optim.lr=-1.0: must be > 0``).

The ``trainer`` group is exactly ``lightning.Trainer``'s arguments: its schema is built from Trainer's own
signature and type hints (``TrainerConfig``), so it cannot drift from the Lightning version installed.
``logger`` and ``callbacks`` are dicts of objects with ``_target_``; their classes check their arguments.
"""

import dataclasses
import inspect
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

import lightning.pytorch as pl

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


class ConfigError(ValueError):
    """A config value outside its allowed range; the message names the key, the value and the range."""


Predicate = Callable[[Any], bool]


def check(predicate: Predicate, allowed: str) -> Dict[str, Any]:
    """Field metadata declaring the allowed values of a field (``allowed`` is shown in the error)."""
    return {"check": (predicate, allowed)}


def _number(predicate: Predicate) -> Predicate:
    return lambda v: isinstance(v, (int, float)) and math.isfinite(v) and predicate(v)


def greater(low: float) -> Dict[str, Any]:
    return check(_number(lambda v: v > low), f"> {low:g}")


def at_least(low: float) -> Dict[str, Any]:
    return check(_number(lambda v: v >= low), f">= {low:g}")


def between(low: float, high: float, low_open: bool = False, high_open: bool = False) -> Dict[str, Any]:
    def inside(v: float) -> bool:
        return (v > low if low_open else v >= low) and (v < high if high_open else v <= high)

    brackets = ("(" if low_open else "[", ")" if high_open else "]")
    return check(_number(inside), f"in {brackets[0]}{low:g}, {high:g}{brackets[1]}")


def one_of(*choices: str) -> Dict[str, Any]:
    return check(lambda v: v in choices, f"one of {', '.join(choices)}")


def optional(metadata: Dict[str, Any]) -> Dict[str, Any]:
    """``metadata``'s range, or null."""
    predicate, allowed = metadata["check"]
    return check(lambda v: v is None or predicate(v), f"null or {allowed}")


@dataclass
class PathsConfig:
    root_dir: str = "."
    data_dir: str = "data"
    output_dir: str = MISSING


@dataclass
class ModelConfig:
    """``SimCSEModule``'s encoder and pooler (conf/model/*.yaml are deltas of these defaults)."""

    name_or_path: Optional[str] = None
    random_init: Optional[Dict[str, Any]] = None
    pooler: str = field(default="cls", metadata=one_of("cls", "cls_before_pooler", "avg", "avg_first_last", "avg_top2"))
    mlp_only_train: bool = True
    trust_remote_code: bool = False
    mlm_weight: float = field(default=0.0, metadata=at_least(0))
    mlm_probability: float = field(default=0.15, metadata=between(0, 1, low_open=True, high_open=True))
    compile: bool = False


@dataclass
class DataConfig:
    """``SimCSEDataModule``'s arguments; ``source`` is the reader (its class checks its own arguments)."""

    _target_: str = "simcse_pl.datamodule.SimCSEDataModule"
    source: Any = None
    max_samples: Optional[int] = field(default=None, metadata=optional(at_least(1)))
    batch_size: int = field(default=64, metadata=at_least(2))
    max_len: int = field(default=32, metadata=at_least(4))
    shuffle: bool = True
    drop_last: bool = True
    num_workers: int = field(default=2, metadata=at_least(0))
    seed: int = 42
    val_tasks: List[str] = field(default_factory=lambda: ["stsb"])
    test_tasks: Optional[List[str]] = field(default_factory=lambda: ["stsb"])
    data_dir: str = "data"
    eval_batch_size: int = field(default=128, metadata=at_least(1))
    eval_max_len: Optional[int] = field(default=None, metadata=optional(at_least(4)))


@dataclass
class LossConfig:
    """``InfoNCE``'s arguments (simcse_pl/losses.py)."""

    _target_: str = "simcse_pl.losses.InfoNCE"
    tau: float = field(default=0.05, metadata=greater(0))
    negatives: str = field(default="cross_view", metadata=one_of("cross_view", "all_views"))
    symmetric: bool = False
    hard_negative_weight: float = field(default=0.0, metadata=check(_number(lambda v: True), "a finite number"))
    gather: bool = True
    mini_batch_size: Optional[int] = field(default=None, metadata=optional(at_least(1)))


@dataclass
class OptimConfig:
    """AdamW and its linear schedule (``SimCSEModule.configure_optimizers``)."""

    lr: float = field(default=3e-5, metadata=greater(0))
    weight_decay: float = field(default=0.0, metadata=at_least(0))
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = field(default=1e-8, metadata=greater(0))
    warmup_ratio: float = field(default=0.0, metadata=between(0, 1))


PRIMITIVES = (int, float, bool, str, type(None))


def _omegaconf_type(hint: Any) -> Any:
    """``hint`` where OmegaConf can check it (primitives, unions of primitives), else ``Any``."""
    options = typing.get_args(hint) if typing.get_origin(hint) is Union else (hint,)
    return hint if all(o in PRIMITIVES for o in options) else Any


def signature_schema(name: str, target: Callable[..., Any]) -> type:
    """A dataclass of ``target``'s keyword arguments with their types and defaults, plus ``_target_``."""
    hints = typing.get_type_hints(target.__init__)  # type: ignore[misc]
    fields: list[tuple[str, Any, Any]] = [("_target_", str, field(default=f"{target.__module__}.{target.__name__}"))]
    for param in list(inspect.signature(target.__init__).parameters.values())[1:]:  # type: ignore[misc]
        default = param.default if param.default is not inspect.Parameter.empty else MISSING
        fields.append((param.name, _omegaconf_type(hints.get(param.name, Any)), field(default=default)))
    return dataclasses.make_dataclass(name, fields)


TrainerConfig = signature_schema("TrainerConfig", pl.Trainer)


@dataclass
class TrainConfig:
    """The root: what ``run()`` does and one node per config group."""

    task_name: str = "train"
    seed: int = 42
    validate_before: bool = True
    train: bool = True
    export: bool = True
    test: bool = True
    ckpt_path: Optional[str] = None
    optimized_metric: str = "val/stsb_spearman"
    paths: PathsConfig = field(default_factory=PathsConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)  # type: ignore[valid-type]
    logger: Optional[Dict[str, Any]] = None
    callbacks: Optional[Dict[str, Any]] = None


def register_schemas() -> None:
    """Make ``train_schema`` (the first entry of conf/train.yaml's defaults) known to Hydra."""
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)


register_schemas()


def check_config(cfg: DictConfig) -> None:
    """Every declared range of the composed config, checked before anything loads (types Hydra checked already).

    Raises ``ConfigError`` naming the first key out of range, its value and what is allowed."""
    for key, value, (predicate, allowed) in _checked_fields(cfg, ""):
        if not predicate(value):
            raise ConfigError(f"{key}={value!r}: must be {allowed}")
    betas = cfg.get("optim", {}).get("betas")
    if betas is not None and not (len(betas) == 2 and all(0 <= b < 1 for b in betas)):
        raise ConfigError(f"optim.betas={list(betas)!r}: must be two numbers in [0, 1)")


def _checked_fields(node: Any, prefix: str) -> Any:
    """``(full key, value, check)`` of every field with a declared range in the typed nodes under ``node``."""
    if isinstance(node, ListConfig) or not isinstance(node, DictConfig):
        return
    schema = OmegaConf.get_type(node)
    declared = {f.name: f.metadata["check"] for f in dataclasses.fields(schema) if "check" in f.metadata} if (
        dataclasses.is_dataclass(schema)
    ) else {}
    for key in node:
        value = node._get_node(key)
        full_key = f"{prefix}{key}"
        if isinstance(value, (DictConfig, ListConfig)):
            yield from _checked_fields(value, f"{full_key}.")
        elif key in declared and not OmegaConf.is_missing(node, key):
            yield full_key, node[key], declared[key]


def compose_config(*overrides: str, return_hydra_config: bool = False) -> DictConfig:
    """``conf/train.yaml`` composed with ``overrides``, as ``train.py`` would (for tests, scripts, notebooks)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=return_hydra_config)
