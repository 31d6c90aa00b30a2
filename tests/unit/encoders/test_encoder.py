"""The SentenceEncoder seam: registries of names, decoder tokenizers, refusals by name, unchanged checkpoint keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from simcse_pl import config
from simcse_pl.encoders import backbone as encoder
from simcse_pl.encoders.backbone import DECODERS, load_encoder, load_tokenizer
from simcse_pl.errors import ModelLoadError
from simcse_pl.encoders.sentence_encoder import SentenceEncoder
from simcse_pl.losses import InfoNCE
from simcse_pl.training.module import SimCSEModule
from simcse_pl.encoders.poolers import POOLERS, Pooler, build_pooler, register
from simcse_pl.errors import NotExportable
from tiny_model import TINY_MODEL

SHAPE = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
         "intermediate_size": 64, "max_position_embeddings": 128}


def decoder(model_type: str, **settings) -> dict:
    return {"name_or_path": None, "random_init": {"model_type": model_type, **SHAPE}, "pooler": "mean", **settings}


def test_the_config_lists_every_registered_pooler():
    assert set(config.POOLERS) == set(POOLERS)


def test_a_new_pooler_is_one_class_and_its_registration():
    @register("max_test")
    class Max(Pooler):
        def pool(self, last_hidden, attention_mask, hidden_states=None, positions=None):
            return last_hidden.masked_fill(attention_mask.unsqueeze(-1) == 0, float("-inf")).max(1).values

    try:
        model = SentenceEncoder.from_parts(load_encoder(None, TINY_MODEL["random_init"]),
                                           load_tokenizer(None, TINY_MODEL["random_init"]), "max_test")
        tokens = model.tokenizer(["a b", "c"], padding=True, return_tensors="pt")
        assert model(**tokens).shape == (2, 32)
        with pytest.raises(NotExportable, match="'max_test' has no sentence-transformers equivalent"):
            model.pooler.sentence_transformers(32)
    finally:
        del POOLERS["max_test"]


def test_unknown_pooler_is_refused_by_name():
    with pytest.raises(ValueError, match="model.pooler='attention' is not one of cls, "):
        build_pooler("attention", 8)


def test_checkpoint_keys_are_unchanged_by_the_seam():
    module = SimCSEModule(model=TINY_MODEL, loss=InfoNCE())
    keys = list(module.state_dict())
    assert "pooler.mlp.dense.weight" in keys and "encoder.embeddings.word_embeddings.weight" in keys
    assert all(k.startswith(("encoder.", "pooler.")) for k in keys)
    assert module.sentence_encoder.encoder is module.encoder and module.sentence_encoder.pooler is module.pooler


@pytest.mark.parametrize("model_type, bos", [("llama", True), ("mistral", True), ("qwen2", False), ("qwen3", False)])
def test_decoder_tokenizer_appends_eos_and_pads_on_the_configured_side(model_type: str, bos: bool, tmp_path: Path):
    tokenizer = load_tokenizer(None, {"model_type": model_type, **SHAPE}, padding_side="left")
    batch = tokenizer(["a man", "a man plays guitar"], padding=True)
    for ids, mask in zip(batch["input_ids"], batch["attention_mask"]):
        real = [t for t, m in zip(ids, mask) if m]
        assert real[-1] == tokenizer.eos_token_id
        assert (real[0] == tokenizer.bos_token_id) is bos
    assert batch["attention_mask"][0][0] == 0  # left padding
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)  # what the export's users (and sentence-transformers) get
    assert reloaded.padding_side == "left"
    assert reloaded(["a man", "a man plays guitar"], padding=True)["input_ids"] == batch["input_ids"]


@pytest.mark.parametrize("padding_side", ["left", "right"])
@pytest.mark.parametrize("pooler", ["mean", "last_token"])
def test_decoder_vectors_do_not_depend_on_padding(padding_side: str, pooler: str):
    torch.manual_seed(0)
    model = SentenceEncoder.from_config(decoder("llama", pooler=pooler, padding_side=padding_side)).eval()
    sentences = ["a man plays the guitar", "x", "the cat"]
    with torch.inference_mode():
        batched = model(**model.tokenizer(sentences, padding=True, return_tensors="pt"))
        alone = torch.cat([model(**model.tokenizer([s], return_tensors="pt")) for s in sentences])
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=1e-5)


def test_last_token_pools_the_eos_state():
    torch.manual_seed(0)
    model = SentenceEncoder.from_config(decoder("qwen2", pooler="last_token", padding_side="right")).eval()
    tokens = model.tokenizer(["a b c", "a"], padding=True, return_tensors="pt")
    with torch.inference_mode():
        states = model.encoder(**tokens).last_hidden_state
        vectors = model(**tokens)
    eos = tokens["attention_mask"].sum(1) - 1
    assert (tokens["input_ids"][torch.arange(2), eos] == model.tokenizer.eos_token_id).all()
    torch.testing.assert_close(vectors, states[torch.arange(2), eos])


def test_cls_poolers_are_refused_on_a_decoder():
    with pytest.raises(ModelLoadError, match="model.pooler='cls' reads the first token"):
        SentenceEncoder.from_config(decoder("llama", pooler="cls"))


def test_bidirectional_is_refused_by_name_where_unsupported():
    with pytest.raises(ModelLoadError) as exc:
        load_encoder(None, TINY_MODEL["random_init"], bidirectional=True)
    assert str(exc.value) == ("model.bidirectional=true: supported for llama, mistral, qwen2, qwen3 (transformers' "
                              "is_causal=False), not for 'bert' (an encoder attends both ways already)")


def test_unsupported_decoder_architectures_are_refused_by_name():
    with pytest.raises(ModelLoadError, match="'gpt2' is a decoder-only architecture that simcse-pl does not support"):
        encoder.family_of("gpt2")
    assert encoder.family_of("bert") == encoder.family_of("roberta") == "encoder"
    assert all(encoder.family_of(t) == "decoder" for t in DECODERS)
    with pytest.raises(ModelLoadError, match="'gpt2' is a decoder-only architecture"):
        load_encoder(None, {"model_type": "gpt2", **SHAPE})
    with pytest.raises(ModelLoadError, match="random_init.model_type='roberta' is not one of bert, llama"):
        load_encoder(None, {"model_type": "roberta", **SHAPE})


def test_decoder_settings_are_refused_on_an_encoder():
    with pytest.raises(ModelLoadError, match="model.attention_dropout is a decoder setting"):
        load_encoder(None, TINY_MODEL["random_init"], attention_dropout=0.1)


def test_attention_dropout_and_gradient_checkpointing_reach_the_model():
    model = load_encoder(None, {"model_type": "llama", **SHAPE}, attention_dropout=0.3, gradient_checkpointing=True)
    assert model.config.attention_dropout == 0.3 and model.is_activation_checkpointing


def test_a_seeded_random_backbone_is_the_same_every_time_and_leaves_the_global_generator_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = load_encoder(None, {"model_type": "llama", "seed": 5, **SHAPE})
    assert torch.equal(torch.random.get_rng_state(), before)
    b = load_encoder(None, {"model_type": "llama", "seed": 5, **SHAPE})
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
