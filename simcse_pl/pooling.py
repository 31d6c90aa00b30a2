"""Sentence vectors from token states: the names this module has always offered, now backed by the poolers
package (``simcse_pl/poolers/``, one class per pooler, each with its export rule).

``Pooler("avg", hidden_size)`` builds the pooler registered under that name; ``sentence_vectors(encoder, pooler,
...)`` is the one definition of "the sentence vector" (prompt template, backbone, pooling, denoising, MLP head)
for training, evaluation, inference and the momentum encoder of ESimCSE.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from simcse_pl.poolers import POOLERS as _REGISTRY
from simcse_pl.poolers import MLPHead, NotExportable, build_pooler, masked_mean
from simcse_pl.poolers import Pooler as BasePooler

POOLERS = tuple(_REGISTRY)


def Pooler(kind: str, hidden_size: int, mlp_only_train: bool = False, **options: Any) -> BasePooler:  # noqa: N802
    """The pooler registered as ``kind`` (this name was the pooler class before the registry)."""
    return build_pooler(kind, hidden_size, mlp_only_train, **options)


def sentence_vectors(
    encoder: nn.Module, pooler: BasePooler, input_ids: Tensor, attention_mask: Tensor,
    token_type_ids: Tensor | None = None, column: Tensor | None = None,
) -> Tensor:
    """Backbone + pooler (with its prompt): token ids ``[n, L]`` -> vectors ``[n, d]``."""
    return pooler.embed(encoder, input_ids, attention_mask, token_type_ids, column)


__all__ = ["POOLERS", "BasePooler", "MLPHead", "NotExportable", "Pooler", "masked_mean", "sentence_vectors"]
