"""Prompt templates around each sentence (PromptBERT, Jiang et al. 2022), applied to token ids.

A template is text with ``[X]`` where the sentence goes and ``[MASK]`` for the tokenizer's mask token:
``This sentence : "[X]" means [MASK] .`` The sentence is tokenized as usual (truncated to ``data.max_len``, with
its special tokens), then the template's pieces, tokenized on their own, are put around it, as PromptBERT does:
``[CLS] this sentence : " <sentence> " means [MASK] . [SEP]``. Doing it on ids, inside ``SentenceEncoder.forward``,
means every path that feeds token ids (training, validation, ``simcse-eval``, ``SimCSE``) sees the same input,
and a long sentence is cut, never the template.

- **Mask position**: known from the layout of each row (``positions``), never searched for: a sentence that
  contains the mask token's text cannot move it.
- **Two templates as positives** (PromptBERT's unsupervised objective): ``template2`` is used for column 1 (and
  any later column) of a training example: the two views of a sentence differ in template as well as dropout.
- **Template denoising** (``denoise``): the vector of the template alone, with the position ids the template's
  tokens have around a sentence of the same length (PromptBERT's ``delta``), is subtracted from each vector
  before the MLP head; ``train`` (PromptBERT's unsupervised recipe: in training only) or ``always``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from simcse_pl.encoders.backbone import model_inputs
from simcse_pl.encoders.poolers.base import Pooler
from simcse_pl.errors import NotExportable

SENTENCE = "[X]"
MASK = "[MASK]"
DENOISE = ("none", "train", "always")


@dataclass(frozen=True)
class Template:
    """One template as token ids: ``prefix`` before the sentence, ``suffix`` after it, and where its mask token is
    (``mask_at``: index into prefix + suffix, None when the template has no mask token)."""

    text: str
    prefix: tuple[int, ...]
    suffix: tuple[int, ...]
    mask_at: int | None

    def __len__(self) -> int:
        return len(self.prefix) + len(self.suffix)


@dataclass
class Rows:
    """What ``apply`` did to each row, for denoising: its template and its sentence's token count."""

    template: list[int]
    length: list[int]
    head: list[int]
    tail: list[int]


class Prompt(nn.Module):
    """Templates (the first for inference, the second for later columns in training) and denoising."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, template: str, template2: str | None = None,
                 denoise: str = "none") -> None:
        super().__init__()
        if denoise not in DENOISE:
            raise ValueError(f"model.prompt.denoise={denoise!r} is not one of {', '.join(DENOISE)}")
        self.texts = [t for t in (template, template2) if t is not None]
        self.templates = [parse(tokenizer, text, key) for text, key in zip(self.texts, ("template", "template2"))]
        self.denoise = denoise
        self.head, self.tail = special_layout(tokenizer)
        specials = tokenizer("x")["input_ids"]  # the tokenizer's own special tokens, for template-only rows
        self.specials_head, self.specials_tail = specials[: self.head], specials[len(specials) - self.tail :]
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.padding_side = tokenizer.padding_side
        self.limit: int | None = None  # the backbone's token positions, set by SentenceEncoder

    @property
    def has_mask(self) -> bool:
        return all(t.mask_at is not None for t in self.templates)

    @property
    def extra_tokens(self) -> int:
        """How many tokens the longest template adds to a sentence."""
        return max(len(t) for t in self.templates)

    def denoises(self, training: bool) -> bool:
        return self.denoise == "always" or (self.denoise == "train" and training)

    def config(self) -> dict[str, Any]:
        """As written to ``simcse_pl.json`` and ``model.prompt``."""
        return {"template": self.texts[0], "template2": self.texts[1] if len(self.texts) > 1 else None,
                "denoise": self.denoise}

    def apply(
        self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None, column: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None, Rows]:
        """Each row's sentence put in its template (column 0: ``template``, later columns: ``template2``), padded on
        the tokenizer's side. Returns ids, attention mask, token types (zeros, when given), the mask token's index
        in each row (None without a mask token) and the ``Rows`` layout."""
        ids, masks = input_ids.tolist(), attention_mask.tolist()
        columns = column.tolist() if column is not None else [0] * len(ids)
        built, marks = [], []
        rows = Rows([], [], [], [])
        for row, mask, col in zip(ids, masks, columns, strict=True):
            real = [t for t, m in zip(row, mask, strict=True) if m]
            cut = len(real) - self.tail
            head, body, tail = real[: self.head], real[self.head : cut], real[cut:]
            which = min(int(col), len(self.templates) - 1)
            template = self.templates[which]
            built.append([*head, *template.prefix, *body, *template.suffix, *tail])
            marks.append(None if template.mask_at is None else mask_index(template, len(head), len(body)))
            rows.template.append(which)
            rows.length.append(len(body))
            rows.head.append(len(head))
            rows.tail.append(len(tail))
        width = max(len(b) for b in built)
        if self.limit is not None and width > self.limit:
            raise ValueError(
                f"a sentence in its prompt template is {width} tokens, more than the model's {self.limit} positions "
                f"(the template adds {self.extra_tokens}): lower data.max_len / max_length"
            )
        pad_left = self.padding_side == "left"
        new_ids, new_mask, positions = [], [], []
        for b, mark in zip(built, marks, strict=True):
            pad = width - len(b)
            new_ids.append([self.pad_id] * pad + b if pad_left else b + [self.pad_id] * pad)
            new_mask.append([0] * pad + [1] * len(b) if pad_left else [1] * len(b) + [0] * pad)
            positions.append(None if mark is None else mark + (pad if pad_left else 0))
        device = input_ids.device
        out_ids = torch.tensor(new_ids, dtype=input_ids.dtype, device=device)
        out_mask = torch.tensor(new_mask, dtype=attention_mask.dtype, device=device)
        out_types = torch.zeros_like(out_ids) if token_type_ids is not None else None
        out_positions = None if any(p is None for p in positions) else torch.tensor(positions, device=device)
        return out_ids, out_mask, out_types, out_positions, rows

    def template_vectors(self, backbone: nn.Module, pooler: Pooler, rows: Rows) -> Tensor:
        """For each row, the pooled state of its template alone (its own head/tail special tokens, no sentence),
        the template's tokens at the positions they have around that row's sentence (PromptBERT's ``delta``)."""
        keys = sorted(set(zip(rows.template, rows.length, rows.head, rows.tail)))
        vectors: dict[tuple[int, int, int, int], Tensor] = {}
        device = next(backbone.parameters()).device
        for which in sorted({k[0] for k in keys}):
            group = [k for k in keys if k[0] == which]
            template = self.templates[which]
            for head_n, tail_n in sorted({(k[2], k[3]) for k in group}):
                members = [k for k in group if (k[2], k[3]) == (head_n, tail_n)]
                specials_tail = self.specials_tail[len(self.specials_tail) - tail_n :]
                ids = [[*self.specials_head[:head_n], *template.prefix, *template.suffix, *specials_tail]] * len(members)
                start = head_n + len(template.prefix)  # the first token after the sentence's place
                position_ids = torch.arange(len(ids[0]), device=device).repeat(len(members), 1)
                position_ids[:, start:] += torch.tensor([k[1] for k in members], device=device).unsqueeze(1)
                input_ids = torch.tensor(ids, device=device)
                mask = torch.ones_like(input_ids)
                out = backbone(**model_inputs(input_ids, mask, None, position_ids=position_ids),
                               output_hidden_states=pooler.needs_hidden_states)
                marks = None
                if template.mask_at is not None:
                    marks = torch.full((len(members),), mask_index(template, head_n, 0), device=device)
                pooled = pooler.pool(out.last_hidden_state, mask, out.hidden_states, marks)
                vectors.update(zip(members, pooled.unbind(0)))
        return torch.stack([vectors[k] for k in zip(rows.template, rows.length, rows.head, rows.tail)])

    def sentence_transformers_prompt(self, tokenizer: PreTrainedTokenizerBase) -> str:
        """The sentence-transformers prompt (a prefix) giving the same token ids, or ``NotExportable``."""
        text = self.texts[0]
        if self.denoise == "always":
            raise NotExportable("template denoising at inference subtracts a vector that depends on each sentence's "
                                "length, which sentence-transformers cannot compute")
        prefix, _, suffix = text.partition(SENTENCE)
        if suffix:
            raise NotExportable(f"the template {text!r} has text after [X], and sentence-transformers' prompts are "
                                "prefixes")
        if MASK in prefix:
            raise NotExportable("the template has a mask token in its prefix, which a text prompt cannot hold")
        for probe in ("a man is playing a guitar.", "Two dogs run; one barks!"):
            joint = tokenizer(prefix + probe)["input_ids"]
            plain = tokenizer(probe)["input_ids"]
            apart = plain[: self.head] + list(self.templates[0].prefix) + plain[self.head :]
            if joint != apart:
                raise NotExportable(f"the tokenizer splits {prefix!r} + sentence differently from {prefix!r} alone "
                                    "and the sentence alone, so a sentence-transformers prompt would give other ids")
        return prefix


def mask_index(template: Template, head: int, body: int) -> int:
    """Index of the template's mask token in a row with ``head`` special tokens and ``body`` sentence tokens."""
    assert template.mask_at is not None
    if template.mask_at < len(template.prefix):
        return head + template.mask_at
    return head + body + template.mask_at


def parse(tokenizer: PreTrainedTokenizerBase, text: str, key: str = "template") -> Template:
    """A template's text as ids: the pieces around ``[X]`` and ``[MASK]`` tokenized on their own."""
    if text.count(SENTENCE) != 1:
        raise ValueError(f"model.prompt.{key}={text!r}: needs exactly one {SENTENCE} where the sentence goes")
    if text.count(MASK) > 1:
        raise ValueError(f"model.prompt.{key}={text!r}: at most one {MASK}")
    if MASK in text and tokenizer.mask_token_id is None:
        raise ValueError(f"model.prompt.{key}={text!r}: the tokenizer has no mask token for {MASK}")
    before, _, after = text.partition(SENTENCE)

    def ids(piece: str) -> tuple[list[int], int | None]:
        out: list[int] = []
        at = None
        for i, part in enumerate(piece.split(MASK)):
            if i:
                at = len(out)
                out.append(tokenizer.mask_token_id)
            if part.strip():
                out.extend(tokenizer(part, add_special_tokens=False)["input_ids"])
        return out, at

    prefix, in_prefix = ids(before)
    suffix, in_suffix = ids(after)
    mask_at = in_prefix if in_prefix is not None else (None if in_suffix is None else len(prefix) + in_suffix)
    return Template(text, tuple(prefix), tuple(suffix), mask_at)


def special_layout(tokenizer: PreTrainedTokenizerBase) -> tuple[int, int]:
    """How many special tokens the tokenizer puts before and after a sentence ([CLS] .. [SEP]: 1, 1; a decoder
    with BOS and EOS: 1, 1; Qwen2 with EOS only: 0, 1)."""
    probe = "a b c"
    full = tokenizer(probe)["input_ids"]
    plain = tokenizer(probe, add_special_tokens=False)["input_ids"]
    for head in range(len(full) - len(plain) + 1):
        if full[head : head + len(plain)] == plain:
            return head, len(full) - head - len(plain)
    raise ValueError(f"cannot find where {type(tokenizer).__name__} puts the sentence among its special tokens")


def build_prompt(tokenizer: PreTrainedTokenizerBase, settings: dict[str, Any] | None) -> Prompt | None:
    """``model.prompt`` as a ``Prompt``; None when it has no template."""
    settings = settings or {}
    if not settings.get("template"):
        if settings.get("template2"):
            raise ValueError("model.prompt.template2 is set without model.prompt.template")
        return None
    return Prompt(tokenizer, settings["template"], settings.get("template2"), settings.get("denoise") or "none")
