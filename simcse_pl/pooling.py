"""Sentence vectors from token states: the poolers of the SimCSE paper and its MLP head.

The paper's unsupervised recipe trains with an MLP over [CLS] and drops it at test time
(``mlp_only_train``); the supervised recipe keeps it. Both are one switch here so training,
validation and export agree on what "the sentence vector" is.
"""

from __future__ import annotations

from torch import Tensor, nn

POOLERS = ("cls", "cls_before_pooler", "avg", "avg_first_last", "avg_top2")


def masked_mean(states: Tensor, attention_mask: Tensor) -> Tensor:
    """Mean over the real tokens only: padding must not dilute the average."""
    mask = attention_mask.unsqueeze(-1).to(states.dtype)
    return (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


class MLPHead(nn.Module):
    """Linear + tanh over [CLS], as BERT's pooler but freshly initialised (SimCSE's ``MLPLayer``)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.activation = nn.Tanh()

    def forward(self, x: Tensor) -> Tensor:
        return self.activation(self.dense(x))


class Pooler(nn.Module):
    """Turns encoder outputs into one vector per sentence.

    - ``cls``: [CLS] of the last layer, then the MLP head (skipped outside training when
      ``mlp_only_train``).
    - ``cls_before_pooler``: [CLS] of the last layer, no head.
    - ``avg``: mean of the last layer over real tokens.
    - ``avg_first_last``: mean of (first layer + last layer) / 2 (SimCSE uses ``hidden_states[1]``).
    - ``avg_top2``: mean of (last two layers) / 2.
    """

    def __init__(self, kind: str, hidden_size: int, mlp_only_train: bool = False) -> None:
        super().__init__()
        if kind not in POOLERS:
            raise ValueError(f"model.pooler={kind!r} is not one of {', '.join(POOLERS)}")
        self.kind = kind
        self.mlp_only_train = mlp_only_train
        self.mlp = MLPHead(hidden_size) if kind == "cls" else None

    @property
    def needs_hidden_states(self) -> bool:
        return self.kind in ("avg_first_last", "avg_top2")

    @property
    def uses_mlp_at_inference(self) -> bool:
        return self.mlp is not None and not self.mlp_only_train

    def forward(
        self, last_hidden: Tensor, attention_mask: Tensor, hidden_states: tuple[Tensor, ...] | None = None
    ) -> Tensor:
        if self.kind in ("cls", "cls_before_pooler"):
            pooled = last_hidden[:, 0]
            if self.mlp is not None and (self.training or not self.mlp_only_train):
                pooled = self.mlp(pooled)
            return pooled
        if self.kind == "avg":
            return masked_mean(last_hidden, attention_mask)
        if hidden_states is None:
            raise ValueError(f"pooler {self.kind!r} needs the encoder's hidden_states")
        first, last = (hidden_states[1], hidden_states[-1]) if self.kind == "avg_first_last" else hidden_states[-2:]
        return masked_mean((first + last) / 2.0, attention_mask)


def sentence_vectors(
    encoder: nn.Module, pooler: Pooler, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None
) -> Tensor:
    """Encoder + pooler: the one definition of "the sentence vector" for training, evaluation and inference."""
    out = encoder(
        input_ids=input_ids,
        attention_mask=attention_mask,
        token_type_ids=token_type_ids,
        output_hidden_states=pooler.needs_hidden_states,
    )
    return pooler(out.last_hidden_state, attention_mask, out.hidden_states)


def sentence_transformers_mode(pooler: Pooler) -> str | None:
    """The sentence-transformers Pooling mode equal to ``pooler`` at inference (None: not expressible)."""
    return {"cls": "cls", "cls_before_pooler": "cls", "avg": "mean"}.get(pooler.kind)


__all__ = ["POOLERS", "MLPHead", "Pooler", "masked_mean", "sentence_transformers_mode"]
