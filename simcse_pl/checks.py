"""Allowed values, declared beside a type: ``tau: Annotated[float, greater(0)]``.

OmegaConf checks types but has no ranges; these ``Check`` markers sit in the type hints of config dataclasses
and of the constructors configs instantiate (objectives), so a range is written once, next to its type, and
``simcse_pl.config.check_config`` enforces every one of them before anything loads.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Check:
    """A predicate on a value and the words for what it allows (shown in the error)."""

    predicate: Callable[[Any], bool]
    allowed: str

    def __call__(self, value: Any) -> bool:
        return self.predicate(value)


def _number(predicate: Callable[[float], bool]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and predicate(v)


def greater(low: float) -> Check:
    return Check(_number(lambda v: v > low), f"> {low:g}")


def at_least(low: float) -> Check:
    return Check(_number(lambda v: v >= low), f">= {low:g}")


def between(low: float, high: float, low_open: bool = False, high_open: bool = False) -> Check:
    def inside(v: float) -> bool:
        return (v > low if low_open else v >= low) and (v < high if high_open else v <= high)

    return Check(_number(inside), f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}")


def finite() -> Check:
    return Check(_number(lambda v: True), "a finite number")


def one_of(*choices: Any) -> Check:
    return Check(lambda v: v in choices, f"one of {', '.join(map(str, choices))}")


def optional(check: Check) -> Check:
    """``check``, or null."""
    return Check(lambda v: v is None or check(v), f"null or {check.allowed}")


def each(check: Check) -> Check:
    """Every element of a list satisfies ``check``."""
    return Check(lambda v: v is not None and all(check(x) for x in v), f"a list whose elements are all {check.allowed}")


def declared_check(hint: Any) -> Check | None:
    """The ``Check`` in an ``Annotated[...]`` hint, or the choices of a ``Literal[...]`` (also inside Optional)."""
    if typing.get_origin(hint) is typing.Annotated:
        return next((m for m in hint.__metadata__ if isinstance(m, Check)), None)
    if typing.get_origin(hint) is typing.Literal:
        return one_of(*typing.get_args(hint))
    if typing.get_origin(hint) is typing.Union:
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        inner = declared_check(options[0]) if len(options) == 1 else None
        return optional(inner) if inner is not None and type(None) in typing.get_args(hint) else inner
    return None
