"""Averaging poolers: ``avg`` / ``mean`` (the last layer over real tokens: sentence-transformers' ``mean``, LLM2Vec's
choice for decoders), ``avg_first_last`` and ``avg_top2`` (two layers averaged, then over tokens; SimCSE's
``avg_first_last`` uses ``hidden_states[1]``, the first transformer layer). The two-layer ones are not exportable
to sentence-transformers, whose ``Transformer`` module hands on the last layer only."""

from __future__ import annotations

from torch import Tensor, nn

from simcse_pl.encoders.poolers.base import MASKED_MEAN_CODE, Pooler, masked_mean, register
from simcse_pl.errors import NotExportable


@register("avg", "mean")
class Mean(Pooler):
    """Mean of the last layer over the real tokens (the template's too, under a prompt)."""

    def pool(self, last_hidden: Tensor, attention_mask: Tensor, hidden_states=None, positions=None) -> Tensor:
        return masked_mean(last_hidden, attention_mask)

    def sentence_transformers(self, dim: int) -> list[nn.Module]:
        from sentence_transformers import models

        return [models.Pooling(dim, pooling_mode="mean")]

    @classmethod
    def transformers_code(cls, head: bool) -> str | None:
        return "states = outputs.last_hidden_state\n" + MASKED_MEAN_CODE


class TwoLayers(Pooler):
    """Mean over tokens of the average of two layers' states."""

    needs_hidden_states = True
    layers: tuple[int, int] = (-2, -1)

    def pool(self, last_hidden: Tensor, attention_mask: Tensor, hidden_states=None, positions=None) -> Tensor:
        if hidden_states is None:
            raise ValueError(f"pooler {self.kind!r} needs the encoder's hidden_states")
        first, last = (hidden_states[i] for i in self.layers)
        return masked_mean((first + last) / 2.0, attention_mask)

    def sentence_transformers(self, dim: int) -> list[nn.Module]:
        raise NotExportable(
            f"pooler {self.kind!r} averages two layers, and sentence-transformers' Transformer module hands on the "
            "last layer only"
        )

    @classmethod
    def transformers_code(cls, head: bool) -> str | None:
        first, last = cls.layers
        return f"states = (outputs.hidden_states[{first}] + outputs.hidden_states[{last}]) / 2\n" + MASKED_MEAN_CODE


@register("avg_first_last")
class AvgFirstLast(TwoLayers):
    layers = (1, -1)


@register("avg_top2")
class AvgTop2(TwoLayers):
    layers = (-2, -1)
