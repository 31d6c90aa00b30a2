"""Acceptance 3: with ``model.bidirectional=true`` a decoder's earlier tokens see later ones; without, they do not.

Changing the last real token of a sentence must change the first token's hidden state under bidirectional
attention and leave it unchanged (exactly) under causal attention: for every supported decoder family, with
transformers' SDPA and eager attention, with and without padding in the batch (SDPA skips the mask when there is
no padding: the case where a model-level ``is_causal`` flag alone would silently stay causal)."""

from __future__ import annotations

import pytest
import torch

from simcse_pl.encoders.backbone import DECODERS, load_encoder, load_tokenizer

SHAPE = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
         "intermediate_size": 64, "max_position_embeddings": 128}


def first_token_moves(model_type: str, bidirectional: bool, attention: str, padded: bool) -> float:
    random_init = {"model_type": model_type, "seed": 0, **SHAPE}
    model = load_encoder(None, random_init, bidirectional=bidirectional).eval()
    model.set_attn_implementation(attention)
    tokenizer = load_tokenizer(None, random_init, padding_side="right")
    states = []
    for sentence in ("a man plays the guitar", "a man plays the guitaz"):  # differ in the last character only
        texts = [sentence, "x"] if padded else [sentence]  # a short second sentence pads the batch
        batch = tokenizer(texts, padding=True, return_tensors="pt")
        with torch.inference_mode():
            states.append(model(**batch).last_hidden_state[0, 0])
    return (states[0] - states[1]).abs().max().item()


@pytest.mark.parametrize("padded", [False, True], ids=["no-padding", "padded"])
@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize("model_type", DECODERS)
def test_a_later_token_changes_an_earlier_state_only_when_bidirectional(model_type: str, attention: str, padded: bool):
    assert first_token_moves(model_type, bidirectional=True, attention=attention, padded=padded) > 1e-4
    assert first_token_moves(model_type, bidirectional=False, attention=attention, padded=padded) == 0.0


def test_bidirectional_is_written_to_the_config_the_export_saves():
    model = load_encoder(None, {"model_type": "qwen2", **SHAPE}, bidirectional=True)
    assert model.config.to_dict()["is_causal"] is False
