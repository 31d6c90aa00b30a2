"""SimCSE's auxiliary masked-LM objective (paper §6.2 / Appendix): ``loss = contrastive + mlm_weight · MLM``.

The inputs of the batch are masked as BERT's pre-training does (15% of the real, non-special tokens; of
those 80% become the mask token, 10% a random token, 10% stay) and encoded once more; the MLM head
predicts the originals. The head is the checkpoint's pretrained one when it has it (``BertOnlyMLMHead``,
``RobertaLMHead``, ...), its output layer tied to the encoder's word embeddings as in pre-training. It is
a training aid only: the export keeps the encoder and pooler, not the head.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import AutoModelForMaskedLM, PreTrainedModel

from simcse_pl.encoder import ModelLoadError, load_tokenizer, resolve_name_or_path

log = logging.getLogger(__name__)

IGNORE = -100  # label of the tokens that are not predicted (cross_entropy's ignore_index)


def load_mlm_head(encoder: PreTrainedModel, name_or_path: str | None) -> nn.Module:
    """The masked-LM head of ``name_or_path``'s ``AutoModelForMaskedLM`` (random when the checkpoint has
    none, or for a random-init encoder), tied to ``encoder``'s input embeddings."""
    if name_or_path is None:
        mlm_model, missing = AutoModelForMaskedLM.from_config(encoder.config), None
    else:
        mlm_model, info = AutoModelForMaskedLM.from_pretrained(
            resolve_name_or_path(name_or_path), output_loading_info=True
        )
        missing = info["missing_keys"]
    heads = [(n, m) for n, m in mlm_model.named_children() if n != mlm_model.base_model_prefix]
    if len(heads) != 1:
        raise ModelLoadError(
            f"{type(mlm_model).__name__} has no single MLM head module ({[n for n, _ in heads]}): "
            "model.mlm_weight > 0 supports BERT/RoBERTa-style models"
        )
    name, head = heads[0]
    if missing is None or any(k.startswith(f"{name}.") for k in missing):
        log.warning("%s has no pretrained MLM head: the auxiliary MLM head starts from random weights", name_or_path)
    if getattr(encoder.config, "tie_word_embeddings", True):
        mlm_model.get_output_embeddings().weight = encoder.get_input_embeddings().weight
    return head


def mask_tokens(
    input_ids: Tensor, maskable: Tensor, mask_token_id: int, vocab_size: int, probability: float
) -> tuple[Tensor, Tensor]:
    """BERT's masking of the ``maskable`` positions: ``(masked input ids, labels)``, labels ``IGNORE``
    where nothing is predicted."""
    chosen = (torch.rand(input_ids.shape, device=input_ids.device) < probability) & maskable
    labels = input_ids.masked_fill(~chosen, IGNORE)
    draw = torch.rand(input_ids.shape, device=input_ids.device)
    to_mask = chosen & (draw < 0.8)
    to_random = chosen & (draw >= 0.8) & (draw < 0.9)
    masked = input_ids.masked_fill(to_mask, mask_token_id)
    random_ids = torch.randint(vocab_size, input_ids.shape, device=input_ids.device)
    return torch.where(to_random, random_ids, masked), labels


class MaskedLM(nn.Module):
    """The auxiliary objective: masks the batch's sentences, encodes them, returns the head's MLM loss
    (unweighted; the module adds ``weight`` times it to the contrastive loss)."""

    def __init__(
        self,
        head: nn.Module,
        mask_token_id: int,
        special_ids: list[int],
        vocab_size: int,
        probability: float = 0.15,
        weight: float = 0.1,
    ) -> None:
        super().__init__()
        if not 0 < probability < 1:
            raise ValueError(f"model.mlm_probability must be in (0, 1) (got {probability})")
        self.head = head
        self.mask_token_id = mask_token_id
        self.vocab_size = vocab_size
        self.probability = probability
        self.weight = weight
        self.register_buffer("special_ids", torch.tensor(special_ids, dtype=torch.long), persistent=False)

    def forward(
        self, encoder: PreTrainedModel, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None
    ) -> Tensor:
        """Mean cross-entropy over the masked tokens of ``[n, L]`` inputs."""
        maskable = attention_mask.bool() & ~torch.isin(input_ids, self.special_ids)
        masked, labels = mask_tokens(input_ids, maskable, self.mask_token_id, self.vocab_size, self.probability)
        hidden = encoder(input_ids=masked, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
        predicted = labels != IGNORE
        if not predicted.any():  # a batch of very short sentences can draw no token at all
            return hidden.sum() * 0.0
        return F.cross_entropy(self.head(hidden[predicted]).float(), labels[predicted])


def build_masked_lm(encoder: PreTrainedModel, model: dict[str, Any]) -> MaskedLM | None:
    """The objective set by ``model.mlm_weight`` (0: off, the paper's default; 0.1 in §6.2) and
    ``model.mlm_probability``; the tokenizer only supplies the mask and special token ids."""
    weight = float(model.get("mlm_weight") or 0.0)
    if weight == 0.0:
        return None
    tokenizer = load_tokenizer(**model)
    if tokenizer.mask_token_id is None:
        raise ModelLoadError(f"model.mlm_weight={weight}: the tokenizer of {model['name_or_path']!r} has no mask token")
    head = load_mlm_head(encoder, model["name_or_path"])
    return MaskedLM(
        head, tokenizer.mask_token_id, tokenizer.all_special_ids, encoder.config.vocab_size,
        float(model.get("mlm_probability", 0.15)), weight,
    )
