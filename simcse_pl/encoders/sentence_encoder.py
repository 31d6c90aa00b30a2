"""``SentenceEncoder``: backbone + tokenizer + pooler (+ prompt template), token ids -> sentence vectors.

It is the one definition of "the sentence vector" that training (``SimCSEModule``), validation, ``simcse-eval`` /
``SimCSE.from_pretrained``, the export and ESimCSE's momentum encoder share. Everything in it is chosen from
registries of names, never from a class path read out of a file: the backbone through transformers' ``AutoModel``
(simcse_pl/encoders/backbone.py), the pooler from ``simcse_pl.encoders.poolers.POOLERS``.

``forward`` is the whole path: the prompt (simcse_pl/encoders/prompt.py) puts each sentence in its template, the
backbone runs, the pooler pools, template denoising subtracts the template-only vector, and the pooler's MLP head
(SimCSE's, optional) applies. The prompt belongs to the encoder, not to the pooler: it changes the backbone's
input, which a pooler never sees.

``roles`` (``model.prompts``) are the query / document instruction prefixes of a retriever: text put before a
sentence by whoever encodes it in that role (the training Collator, a retrieval task, ``SimCSE.encode(prompt_name=
...)``), exactly as sentence-transformers' ``prompts`` are; the encoder only carries them to the export.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from simcse_pl.encoders.backbone import (
    family_of,
    load_encoder,
    load_tokenizer,
    max_positions,
    model_inputs,
)
from simcse_pl.encoders.lora import is_peft
from simcse_pl.encoders.poolers import Pooler, build_pooler
from simcse_pl.encoders.prompt import Prompt, build_prompt
from simcse_pl.errors import ModelLoadError

ROLES = ("query", "document")  # model.prompts' keys; sentence-transformers' prompt names for encode_query / _document


class SentenceEncoder(nn.Module):
    """Token ids -> sentence vectors. ``family`` is ``encoder`` or ``decoder``; ``name_or_path`` the configured
    backbone (None for a random one), which an auxiliary objective may load more of (the masked-LM head)."""

    def __init__(self, encoder: nn.Module, tokenizer: PreTrainedTokenizerBase, pooler: Pooler,
                 prompt: Prompt | None = None, family: str = "encoder", name_or_path: str | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooler = pooler
        self.prompt = prompt
        self.tokenizer = tokenizer
        self.family = family
        self.name_or_path = name_or_path
        if family == "decoder" and not pooler.decoders:
            raise ModelLoadError(
                f"model.pooler={pooler.kind!r} reads the first token, which in a decoder has attended to nothing "
                "after it: use mean or last_token"
            )
        if pooler.kind == "mask" and (prompt is None or not prompt.has_mask):
            raise ModelLoadError("model.pooler=mask needs model.prompt.template with [MASK] (PromptBERT: "
                                 "'This sentence : \"[X]\" means [MASK] .')")
        if prompt is not None:
            prompt.limit = max_positions(encoder, tokenizer)
        self.roles: dict[str, str] = {}

    def set_roles(self, prompts: dict[str, Any] | None) -> SentenceEncoder:
        """Keep the set query / document prefixes of ``model.prompts``; with a template prompt they are refused, as
        sentence-transformers applies one prompt per text and the export could not hold both."""
        roles = {k: str(v) for k, v in (prompts or {}).items() if k in ROLES and v}
        if roles and self.prompt is not None:
            raise ModelLoadError("model.prompts (query / document prefixes) and model.prompt.template cannot be "
                                 "combined: put the instruction in one of them")
        self.roles = roles
        return self

    @classmethod
    def from_config(cls, model: dict[str, Any], tokenizer: PreTrainedTokenizerBase | None = None) -> SentenceEncoder:
        """The encoder ``model.*`` describes (``SimCSEModule``'s); ``tokenizer``: one already loaded for it."""
        tokenizer = tokenizer if tokenizer is not None else load_tokenizer(**model)
        # from_pretrained returns eval mode and Lightning keeps submodule modes: dropout is the whole point here
        encoder = load_encoder(**model).train()
        if model.get("compile"):
            encoder.compile()  # in place: parameter names, so checkpoints and the export, are unchanged
        built = cls.from_parts(encoder, tokenizer, model["pooler"], model.get("mlp_only_train", False),
                               model.get("prompt"))
        built.name_or_path = model.get("name_or_path")
        return built.set_roles(model.get("prompts"))

    @classmethod
    def from_parts(cls, encoder: nn.Module, tokenizer: PreTrainedTokenizerBase, pooler: str, mlp_only_train: bool = False,
                   prompt: dict[str, Any] | None = None) -> SentenceEncoder:
        """A loaded backbone and tokenizer with the pooler registered as ``pooler`` and ``prompt``'s template."""
        try:
            built = build_pooler(pooler, encoder.config.hidden_size, mlp_only_train)
            template = build_prompt(tokenizer, prompt)
        except ValueError as exc:
            raise ModelLoadError(str(exc)) from None
        return cls(encoder, tokenizer, built, template, family_of(str(encoder.config.model_type)))

    def with_modules(self, encoder: nn.Module, pooler: Pooler) -> SentenceEncoder:
        """The same tokenizer and prompt around another backbone and pooler of the same shapes (a momentum copy)."""
        twin = type(self)(encoder, self.tokenizer, pooler, self.prompt, self.family, self.name_or_path)
        twin.roles = dict(self.roles)
        return twin

    @property
    def hidden_size(self) -> int:
        return int(self.encoder.config.hidden_size)

    @property
    def reads_columns(self) -> bool:
        """Whether a training row's column changes its vector (a prompt's second template)."""
        return self.prompt is not None and len(self.prompt.templates) > 1

    @property
    def adapter_only(self) -> bool:
        """LoRA: the backbone's own weights are frozen and rebuilt from the config, never checkpointed."""
        return is_peft(self.encoder)

    def max_length(self) -> int:
        """The longest sentence (in tokens, with its special tokens) the backbone takes, its template included."""
        limit = max_positions(self.encoder, self.tokenizer) or self.tokenizer.model_max_length
        return int(limit) - (self.prompt.extra_tokens if self.prompt is not None else 0)

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None,
                column: Tensor | None = None) -> Tensor:
        """Sentence vectors ``[n, d]`` for token ids ``[n, L]`` of plain sentences (``column``: each row's column
        in the training batch, which picks a prompt's second template). Denoising follows the pooler's mode
        (training or not), which ESimCSE's momentum encoder sets apart from its backbone's."""
        pooler, positions, rows = self.pooler, None, None
        if self.prompt is not None:
            input_ids, attention_mask, token_type_ids, positions, rows = self.prompt.apply(
                input_ids, attention_mask, token_type_ids, column
            )
        out = self.encoder(**model_inputs(input_ids, attention_mask, token_type_ids),
                           output_hidden_states=pooler.needs_hidden_states)
        pooled = pooler.pool(out.last_hidden_state, attention_mask, out.hidden_states, positions)
        if self.prompt is not None and rows is not None and self.prompt.denoises(pooler.training):
            pooled = pooled - self.prompt.template_vectors(self.encoder, pooler, rows)
        return pooler.head(pooled)
