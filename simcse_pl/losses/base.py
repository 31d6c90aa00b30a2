"""The two kinds of objective a training step combines, and the pieces they share.

``Objective``: the main loss. It receives the sentence vectors of the batch ``z`` ``[N, S, d]`` (``S`` columns:
anchor, positive, hard negative ...; an unlabeled sentence's two dropout views), optional per-example ``labels``
``[N]`` (float scores or integer classes) and ``rows``, the examples of ``z`` this process owns. Under DDP ``z``
and ``labels`` are the whole global batch (gathered with gradients, simcse_pl/distributed.py), so every anchor
meets every process's sentences; how the step was encoded (GradCache or not) is invisible to it.

``Auxiliary``: a second loss added with a weight (``loss + weight · auxiliary``), which needs more than the
vectors: the token ids (masked-LM), or an encoder of its own (ESimCSE's momentum encoder). ``attach`` is called
once with what it may read of the model (``Trainee``: the sentence encoder and the main objective) so it can build
what it needs; each step hands it a ``StepState``: the batch, its vectors, the live encoder and objective, the
optimizer step, and the step's ``gather`` under DDP (None otherwise), so no auxiliary gathers by itself.

A new objective is one file in this package plus one YAML under conf/loss/ (or conf/auxiliary/): the package
imports every module in it, and the step (simcse_pl/training/step.py) calls any of them the same way. Ranges of
constructor arguments are declared in their type hints (``Annotated[float, greater(0)]``) and checked, with the
types, before anything loads (simcse_pl/config.py).

Every ``Objective`` and ``Auxiliary`` subclass defined in this package is registered as it is defined, under its
dotted path (``REGISTRY``): the only classes a saved config (a run's ``run_info.json``, read by ``simcse-export``)
may name, looked up by exact name (``simcse_pl.losses.registered_class``), never imported or walked to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from simcse_pl.encoders.sentence_encoder import SentenceEncoder

# under DDP: (this process's vectors [B, ...], labels [B] | None) -> (the global batch's vectors and labels, the
# rows this process owns, the weight of its per-anchor mean); simcse_pl/training/distributed.py
Gather = Callable[[Tensor, "Tensor | None"], "tuple[Tensor, Tensor | None, slice, float]"]

PACKAGE = "simcse_pl.losses"
# dotted name -> class, for the objectives of this package's own modules only (filled by ``_register``)
REGISTRY: dict[str, type[nn.Module]] = {}


def _register(cls: type[nn.Module]) -> None:
    """Record ``cls`` under ``<module>.<class>`` when its module is one of this package's: a class defined
    elsewhere (a test's, a user's) is buildable from a composed config but never from a saved file."""
    if cls.__module__.startswith(f"{PACKAGE}."):
        REGISTRY[f"{cls.__module__}.{cls.__qualname__}"] = cls


class Objective(nn.Module):
    """``forward(z [N, S, d], labels [N] | None, rows) -> scalar loss``.

    ``per_anchor``: the loss is a mean of one term per anchor (InfoNCE). Then it scores only the anchors in
    ``rows`` and the step weights each process's mean by its share of anchors, so the average over processes is
    the mean over the global batch. An objective that compares every example with every other (CoSENT's
    ranking) sets it False, ignores ``rows`` and returns the loss of the whole batch on every process; the
    gather's gradient all-reduce then makes DDP's averaged gradient that of one process on the whole batch.
    """

    per_anchor: ClassVar[bool] = True
    # the objective needs a score or class per example (``labels``): the run checks the data has them first
    needs_labels: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _register(cls)

    def forward(self, z: Tensor, labels: Tensor | None = None, rows: slice | None = None) -> Tensor:
        raise NotImplementedError


class Trainee(Protocol):
    """What an auxiliary objective may read of the model it trains beside, when it is attached."""

    @property
    def sentence_encoder(self) -> SentenceEncoder: ...

    @property
    def objective(self) -> Objective: ...


@dataclass
class StepState:
    """What one training step hands an auxiliary objective."""

    batch: dict[str, Tensor]  # token ids etc. ``[B, S, L]`` (this process's examples)
    z: Tensor  # their sentence vectors ``[B, S', d]`` (before any gather)
    encoder: SentenceEncoder  # the live (trained) encoder
    objective: Objective  # the main objective
    step: int  # the optimizer step (micro-batches of one step share it)
    gather: Gather | None = None  # the step's DDP gather (with gradients); None on one process or step.gather=false


class Auxiliary(nn.Module):
    """A weighted second objective; ``weight`` multiplies it in the step. Its parameters (a head, a momentum
    encoder, a queue) are the module's, so they are checkpointed and resumed with it."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _register(cls)

    def __init__(self, weight: float) -> None:
        super().__init__()
        self.weight = float(weight)

    def attach(self, trainee: Trainee) -> None:
        """Called once when the module is built, with its encoder loaded (load a head, copy an encoder)."""

    def forward(self, state: StepState) -> Tensor:
        raise NotImplementedError


def cosine_matrix(a: Tensor, b: Tensor) -> Tensor:
    """Pairwise cosine similarity, computed in at least float32 so bf16/fp16 training keeps a precise softmax
    (autocast would run the matmul in half precision even on float32 inputs, so it is switched off here);
    float64 inputs stay float64 (the equivalence tests run in double precision)."""
    dtype = torch.promote_types(a.dtype, torch.float32)
    with torch.autocast(a.device.type, enabled=False):
        return F.normalize(a.to(dtype), dim=-1) @ F.normalize(b.to(dtype), dim=-1).T


def pair_cosines(a: Tensor, b: Tensor) -> Tensor:
    """Row-wise cosine similarity ``cos(a_i, b_i)`` in at least float32 (see ``cosine_matrix``)."""
    dtype = torch.promote_types(a.dtype, torch.float32)
    with torch.autocast(a.device.type, enabled=False):
        return F.cosine_similarity(a.to(dtype), b.to(dtype), dim=-1)


def anchor_index(n: int, rows: slice | None, device: Any) -> Tensor:
    """Positions of the anchors this process scores (all ``n`` when ``rows`` is None)."""
    return torch.arange(n, device=device)[rows or slice(0, n)]


def require_labels(labels: Tensor | None, name: str) -> Tensor:
    if labels is None:
        raise ValueError(f"loss={name} needs a score or label per example: train it on labelled pairs (data=pairs)")
    return labels
