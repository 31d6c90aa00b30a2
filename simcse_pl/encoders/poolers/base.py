"""The pooler seam: how a backbone's token states become one vector per sentence, and how that is exported.

A pooler is a small class registered under one or more names (``@register("avg", "mean")``); ``model.pooler``,
``simcse_pl.json`` and checkpoints name it, and only a registered name can be built: a saved file never chooses
code. Each class says

- ``pool``: the vector from the last layer (and, with ``needs_hidden_states``, every layer's states);
- ``sentence_transformers``: the sentence-transformers modules that compute the same vector after the
  ``Transformer`` module (a ``Pooling`` mode, plus a ``Dense`` layer for a kept MLP head), or ``NotExportable``
  with the reason;
- ``decoders``: whether it makes sense on a decoder backbone (the first token of a causal model has seen nothing);
- ``transformers_code``: the lines that compute the same vector from a plain ``AutoModel``, shown in the model card
  (simcse_pl/export/model_card.py), or None when plain transformers cannot.

The whole path from token ids to vectors (prompt template, backbone, ``pool``, template denoising, ``head``) is
``SentenceEncoder.forward`` (simcse_pl/encoders/sentence_encoder.py). A new pooler is one file in this package
with a ``Pooler`` subclass and its ``@register("name")`` line: the package imports every file in it, and ``simcse_pl.config.POOLERS`` reads the names from those lines (so that
checking ``model.pooler`` needs no torch).
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from simcse_pl.errors import NotExportable

POOLERS: dict[str, type[Pooler]] = {}


def register(*names: str):
    """Class decorator: make the pooler buildable under ``names`` (``model.pooler=<name>``)."""

    def add(cls: type[Pooler]) -> type[Pooler]:
        for name in names:
            if name in POOLERS:
                raise ValueError(f"pooler name {name!r} is registered twice ({POOLERS[name].__name__}, {cls.__name__})")
            POOLERS[name] = cls
        return cls

    return add


def masked_mean(states: Tensor, attention_mask: Tensor) -> Tensor:
    """Mean over the real tokens only: padding must not dilute the average."""
    mask = attention_mask.unsqueeze(-1).to(states.dtype)
    return (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


# the model card's transformers snippet of ``masked_mean`` over ``states``
MASKED_MEAN_CODE = (
    'mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)\n'
    "embeddings = (states * mask).sum(1) / mask.sum(1)"
)


def last_positions(attention_mask: Tensor) -> Tensor:
    """Index of each row's last real token, for right or left padding alike."""
    length = attention_mask.shape[1]
    return length - 1 - attention_mask.flip(1).to(dtype=attention_mask.dtype).argmax(1)


class MLPHead(nn.Module):
    """Linear + tanh over the pooled vector, as BERT's pooler but freshly initialised (SimCSE's ``MLPLayer``)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.activation = nn.Tanh()

    def forward(self, x: Tensor) -> Tensor:
        return self.activation(self.dense(x))


class Pooler(nn.Module):
    """Token states -> one vector per sentence; subclasses define ``pool`` (and their export rule)."""

    needs_hidden_states: ClassVar[bool] = False
    has_head: ClassVar[bool] = False  # SimCSE's MLP head over the pooled vector ([CLS], PromptBERT's mask token)
    decoders: ClassVar[bool] = True

    def __init__(self, kind: str, hidden_size: int, mlp_only_train: bool = False) -> None:
        super().__init__()
        self.kind = kind
        self.mlp_only_train = mlp_only_train
        self.mlp = MLPHead(hidden_size) if self.has_head else None

    # what a subclass defines
    def pool(
        self, last_hidden: Tensor, attention_mask: Tensor, hidden_states: tuple[Tensor, ...] | None, positions: Tensor | None
    ) -> Tensor:
        raise NotImplementedError

    def sentence_transformers(self, dim: int) -> list[nn.Module]:
        """The sentence-transformers modules after ``Transformer`` that give this pooler's vectors at inference."""
        raise NotExportable(f"pooler {self.kind!r} has no sentence-transformers equivalent")

    @classmethod
    def transformers_code(cls, head: bool) -> str | None:
        """Python lines that set ``embeddings`` from ``outputs`` (an ``AutoModel``'s, with hidden states when
        ``needs_hidden_states``), ``batch`` (the tokenizer's) and ``model_id``, for the model card's usage section;
        ``head``: the export keeps the MLP head (``pooler.safetensors``). None: the card points to simcse-pl."""
        return None

    # shared
    @property
    def uses_mlp_at_inference(self) -> bool:
        return self.mlp is not None and not self.mlp_only_train

    @property
    def inference_kind(self) -> str:
        """The pooler as inference runs it, named as ``--pooler`` and ``SimCSE`` name it: ``cls`` whose head is for
        training only is ``cls_before_pooler`` ([CLS] alone). The export records this name, so its files, its card,
        simcse-eval's JSON and simcse-serve use one vocabulary."""
        return "cls_before_pooler" if self.kind == "cls" and not self.uses_mlp_at_inference else self.kind

    def head(self, pooled: Tensor) -> Tensor:
        if self.mlp is not None and (self.training or not self.mlp_only_train):
            return self.mlp(pooled)
        return pooled

    def forward(
        self,
        last_hidden: Tensor,
        attention_mask: Tensor,
        hidden_states: tuple[Tensor, ...] | None = None,
        positions: Tensor | None = None,
    ) -> Tensor:
        return self.head(self.pool(last_hidden, attention_mask, hidden_states, positions))

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, mlp_only_train={self.mlp_only_train}"
