"""[CLS] poolers of the SimCSE paper: the first token's last-layer state, with or without the MLP head.

- ``cls``: [CLS], then SimCSE's MLP head (skipped outside training when ``mlp_only_train``: the unsupervised
  recipe). Exported as sentence-transformers ``Pooling("cls")``, plus a tanh ``Dense`` layer when the head is kept.
- ``cls_before_pooler``: [CLS], no head: ``Pooling("cls")``.

Encoders only: a decoder's first token has attended to nothing after it.
"""

from __future__ import annotations

from torch import Tensor, nn

from simcse_pl.encoders.poolers.base import Pooler, register


class FirstToken(Pooler):
    decoders = False

    def pool(self, last_hidden: Tensor, attention_mask: Tensor, hidden_states=None, positions=None) -> Tensor:
        return last_hidden[:, 0]

    def sentence_transformers(self, dim: int) -> list[nn.Module]:
        from sentence_transformers import models

        modules: list[nn.Module] = [models.Pooling(dim, pooling_mode="cls")]
        if self.uses_mlp_at_inference:
            assert self.mlp is not None
            dense = models.Dense(dim, dim, bias=True, activation_function=nn.Tanh())
            dense.linear.load_state_dict(self.mlp.dense.state_dict())
            modules.append(dense)
        return modules

    @classmethod
    def transformers_code(cls, head: bool) -> str | None:
        code = "embeddings = outputs.last_hidden_state[:, 0]"
        if not head:
            return code
        return (
            "from safetensors.torch import load_file\n"
            "from transformers.utils import cached_file\n\n"
            f"{code}\n"
            "# SimCSE's MLP head (linear + tanh), trained with the encoder\n"
            'head = load_file(cached_file(model_id, "pooler.safetensors"))\n'
            'embeddings = torch.tanh(embeddings @ head["dense.weight"].T + head["dense.bias"])'
        )


@register("cls")
class CLS(FirstToken):
    """[CLS] + SimCSE's MLP head (in training only when ``mlp_only_train``)."""

    has_head = True


@register("cls_before_pooler")
class CLSBeforePooler(FirstToken):
    """[CLS] of the last layer, no head."""
