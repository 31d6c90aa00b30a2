"""SimCSE's auxiliary masked-LM objective (paper §6.2 / Appendix): ``loss = contrastive + weight · MLM``."""

from __future__ import annotations

import logging
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import AutoModelForMaskedLM, PreTrainedModel

from simcse_pl.checks import at_least, between
from simcse_pl.errors import ModelLoadError

from simcse_pl.hub import resolve_name_or_path
from simcse_pl.losses.base import Auxiliary, StepState, Trainee

log = logging.getLogger(__name__)

IGNORE = -100  # label of the tokens that are not predicted (cross_entropy's ignore_index)
TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


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
            "auxiliary=[mlm] supports BERT/RoBERTa-style models"
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


class MaskedLM(Auxiliary):
    """Masked-LM on the batch's sentences (SimCSE §6.2: ``weight`` 0.1 in its ablation, which lowers STS; off in
    the released models).

    The inputs are masked as BERT's pre-training does (``probability`` of the real, non-special tokens; of those
    80% become the mask token, 10% a random token, 10% stay), encoded once more, and the head predicts the
    originals. The head is the checkpoint's pretrained one when it has it (``BertOnlyMLMHead``, ``RobertaLMHead``
    ...), its output layer tied to the encoder's word embeddings as in pre-training; a training aid only, the
    export keeps the encoder and pooler. When to use: the paper's ablation, or to keep token-level knowledge.
    """

    def __init__(
        self, weight: Annotated[float, at_least(0)] = 0.1, probability: Annotated[float, between(0, 1, True, True)] = 0.15
    ) -> None:
        super().__init__(weight)
        self.probability = float(probability)
        self.head: nn.Module | None = None
        self.mask_token_id = -1
        self.vocab_size = 0
        self.register_buffer("special_ids", torch.zeros(0, dtype=torch.long), persistent=False)

    def attach(self, trainee: Trainee) -> None:
        """The mask and special token ids from the model's tokenizer, the head from its checkpoint."""
        encoder = trainee.sentence_encoder
        tokenizer = encoder.tokenizer
        if tokenizer.mask_token_id is None:
            raise ModelLoadError(f"auxiliary=[mlm]: the tokenizer of {encoder.name_or_path!r} has no mask token")
        self.head = load_mlm_head(encoder.encoder, encoder.name_or_path)
        self.mask_token_id = tokenizer.mask_token_id
        self.vocab_size = encoder.encoder.config.vocab_size
        self.special_ids = torch.tensor(tokenizer.all_special_ids, dtype=torch.long)

    def masked_lm_loss(self, encoder: PreTrainedModel, input_ids: Tensor, attention_mask: Tensor, **inputs: Tensor) -> Tensor:
        """Mean cross-entropy over the masked tokens of ``[n, L]`` inputs."""
        assert self.head is not None, "attach() first"
        maskable = attention_mask.bool() & ~torch.isin(input_ids, self.special_ids)
        masked, labels = mask_tokens(input_ids, maskable, self.mask_token_id, self.vocab_size, self.probability)
        hidden = encoder(input_ids=masked, attention_mask=attention_mask, **inputs).last_hidden_state
        predicted = labels != IGNORE
        if not predicted.any():  # a batch of very short sentences can draw no token at all
            return hidden.sum() * 0.0
        return F.cross_entropy(self.head(hidden[predicted]).float(), labels[predicted])

    def forward(self, state: StepState) -> Tensor:
        """Every sentence of the ``[B, S, L]`` batch, masked once each."""
        flat = {k: v.reshape(-1, v.shape[-1]) for k, v in state.batch.items() if k in TOKEN_INPUTS}
        return self.masked_lm_loss(state.encoder.encoder, **flat)
