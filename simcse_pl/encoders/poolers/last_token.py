"""``last_token``: the last real token's state (with left or right padding): for a decoder backbone the EOS the
tokenizer appends, the one position that has attended to the whole sentence under causal attention (the choice
of e5-mistral and gte-Qwen2). sentence-transformers' ``Pooling("lasttoken")`` is the same computation."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from simcse_pl.encoders.poolers.base import Pooler, last_positions, register


@register("last_token")
class LastToken(Pooler):
    def pool(self, last_hidden: Tensor, attention_mask: Tensor, hidden_states=None, positions=None) -> Tensor:
        rows = torch.arange(last_hidden.shape[0], device=last_hidden.device)
        return last_hidden[rows, last_positions(attention_mask).to(last_hidden.device)]

    def sentence_transformers(self, dim: int) -> list[nn.Module]:
        from sentence_transformers import models

        return [models.Pooling(dim, pooling_mode="lasttoken")]

    @classmethod
    def transformers_code(cls, head: bool) -> str | None:
        return (
            "# the last real token of each row, with left or right padding\n"
            'mask = batch["attention_mask"]\n'
            "last = mask.shape[1] - 1 - mask.flip(1).argmax(1)\n"
            "embeddings = outputs.last_hidden_state[torch.arange(len(last)), last]"
        )
