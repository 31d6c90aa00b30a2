"""Acceptance 4, prompt pooling (PromptBERT): the pooled position is the template's mask token, denoising subtracts
the template-only vector (against a hand computation), the second template is used for later columns in training,
and the export reproduces the vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from simcse_pl.encoders.sentence_encoder import SentenceEncoder
from simcse_pl.encoders.backbone import load_tokenizer
from simcse_pl.inference import SimCSE
from simcse_pl.losses import InfoNCE
from simcse_pl.training.module import SimCSEModule
from simcse_pl.errors import NotExportable
from simcse_pl.encoders.prompt import Prompt, parse
from simcse_pl.export.writer import export_model
from tiny_model import WIDE_INIT_BERT as TINY

TEMPLATE = 'This sentence : "[X]" means [MASK] .'
TEMPLATE2 = 'The sentence : "[X]" means [MASK] .'
SENTENCES = ["a man plays the guitar", "x", "the cat sleeps on the red mat"]


def model_settings(**prompt) -> dict:
    return {"name_or_path": None, "random_init": TINY, "pooler": "mask", "mlp_only_train": True,
            "prompt": {"template": TEMPLATE, **prompt}}


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(None, TINY)


def test_template_pieces_are_tokenized_apart(tokenizer):
    template = parse(tokenizer, TEMPLATE)
    assert tokenizer.decode(list(template.prefix)) == 'this sentence : "'
    assert tokenizer.decode(list(template.suffix)) == '" means [MASK].'
    assert template.suffix[template.mask_at - len(template.prefix)] == tokenizer.mask_token_id


@pytest.mark.parametrize("side", ["right", "left"])
def test_the_pooled_position_is_the_templates_mask_token(tokenizer, side: str):
    tokenizer.padding_side = side
    try:
        prompt = Prompt(tokenizer, TEMPLATE)
        # a sentence holding the mask token's own text must not move the pooled position
        texts = [*SENTENCES, "what [MASK] means"]
        batch = tokenizer(texts, padding=True, return_tensors="pt")
        ids, mask, _, positions, rows = prompt.apply(batch["input_ids"], batch["attention_mask"])
    finally:
        tokenizer.padding_side = "right"
    template = parse(tokenizer, TEMPLATE)
    for i, text in enumerate(texts):
        real = ids[i][mask[i].bool()].tolist()
        sentence = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert real == [tokenizer.cls_token_id, *template.prefix, *sentence, *template.suffix, tokenizer.sep_token_id]
        assert ids[i, positions[i]] == tokenizer.mask_token_id
        # the template's mask: the second to last real token before "." and [SEP]
        assert positions[i] == (mask[i].nonzero().max() - 2).item()
        assert rows.length[i] == len(sentence)
    assert (ids[3] == tokenizer.mask_token_id).sum() == 2  # the sentence's own [MASK] is there too, not pooled


def test_mask_pooling_is_the_mask_tokens_last_hidden_state(tokenizer):
    torch.manual_seed(0)
    model = SentenceEncoder.from_config(model_settings()).eval()
    template = parse(tokenizer, TEMPLATE)
    sentence = tokenizer("a man plays", add_special_tokens=False)["input_ids"]
    by_hand = torch.tensor([[tokenizer.cls_token_id, *template.prefix, *sentence, *template.suffix, tokenizer.sep_token_id]])
    with torch.inference_mode():
        states = model.encoder(input_ids=by_hand, attention_mask=torch.ones_like(by_hand)).last_hidden_state
        expected = states[0, 1 + template.mask_at + len(sentence)]
        got = model(**tokenizer(["a man plays"], return_tensors="pt"))[0]
    torch.testing.assert_close(got, expected)


def test_denoising_subtracts_the_template_only_vector_at_the_sentences_positions(tokenizer):
    torch.manual_seed(0)
    plain = SentenceEncoder.from_config(model_settings()).eval()
    torch.manual_seed(0)
    denoised = SentenceEncoder.from_config(model_settings(denoise="always")).eval()
    template = parse(tokenizer, TEMPLATE)
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.inference_mode():
        raw, got = plain(**batch), denoised(**batch)
        for i, text in enumerate(SENTENCES):
            n = len(tokenizer(text, add_special_tokens=False)["input_ids"])
            ids = torch.tensor([[tokenizer.cls_token_id, *template.prefix, *template.suffix, tokenizer.sep_token_id]])
            positions = torch.arange(ids.shape[1]).unsqueeze(0)
            positions[:, 1 + len(template.prefix):] += n  # where the template's tokens sit around n sentence tokens
            states = plain.encoder(input_ids=ids, attention_mask=torch.ones_like(ids), position_ids=positions)
            template_only = states.last_hidden_state[0, 1 + template.mask_at]
            torch.testing.assert_close(got[i], raw[i] - template_only, atol=1e-5, rtol=1e-5)


def test_denoising_in_training_only_leaves_inference_alone(tokenizer):
    torch.manual_seed(0)
    plain = SentenceEncoder.from_config(model_settings()).eval()
    torch.manual_seed(0)
    train_only = SentenceEncoder.from_config(model_settings(denoise="train")).eval()
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.inference_mode():
        torch.testing.assert_close(train_only(**batch), plain(**batch))
    assert train_only.prompt.denoises(training=True) and not train_only.prompt.denoises(training=False)


def test_two_templates_as_positives_the_training_step_gives_column_1_the_second_template(tokenizer):
    torch.manual_seed(0)
    module = SimCSEModule(model=model_settings(template2=TEMPLATE2), loss=InfoNCE()).eval()
    batch = {k: v.unsqueeze(1) for k, v in tokenizer(SENTENCES, padding=True, return_tensors="pt").items()}
    flat = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.inference_mode():
        z = module(batch)  # [B, 2, d]: the unsupervised step's two views
        first = module.embed(**flat)
        second = module.embed(**flat, column=torch.ones(len(SENTENCES), dtype=torch.long))
    torch.testing.assert_close(z[:, 0], first)
    torch.testing.assert_close(z[:, 1], second)
    assert not torch.allclose(first, second)
    module.step["mini_batch_size"] = 2  # GradCache chunks the rows, their columns with them
    with torch.enable_grad():
        torch.testing.assert_close(module(batch), z, atol=1e-6, rtol=1e-6)


def test_a_template_longer_than_the_positions_is_refused_with_the_lengths(tokenizer):
    model = SentenceEncoder.from_config({**model_settings(), "random_init": {**TINY, "max_position_embeddings": 40}})
    extra = len(parse(tokenizer, TEMPLATE))
    with pytest.raises(ValueError, match=rf"more than the model's 40 positions \(the template adds {extra}\)"):
        model(**tokenizer(["a sentence long enough to overflow"], return_tensors="pt"))


def test_bad_templates_are_refused(tokenizer):
    with pytest.raises(ValueError, match=r"needs exactly one \[X\]"):
        parse(tokenizer, "no sentence here [MASK]")
    with pytest.raises(Exception, match="model.pooler=mask needs model.prompt.template with \\[MASK\\]"):
        SentenceEncoder.from_config({**model_settings(), "prompt": {"template": "query: [X]"}})


@pytest.fixture(scope="module")
def prompt_module() -> SimCSEModule:
    torch.manual_seed(0)
    module = SimCSEModule(model={**model_settings(template2=TEMPLATE2, denoise="train"), "mlp_only_train": False},
                          loss=InfoNCE()).eval()
    torch.nn.init.normal_(module.pooler.mlp.dense.weight, std=0.5)
    return module


def test_the_export_reproduces_the_prompt_vectors(prompt_module: SimCSEModule, tokenizer, tmp_path: Path):
    export_model(prompt_module.sentence_encoder, str(tmp_path))
    saved = json.loads((tmp_path / "simcse_pl.json").read_text())
    assert saved["pooler"] == "mask" and saved["mlp"] is True
    assert saved["prompt"] == {"template": TEMPLATE, "template2": TEMPLATE2, "denoise": "train"}
    assert saved["sentence_transformers"].startswith("not written: pooler 'mask' takes the mask token inside")
    assert json.loads((tmp_path / "modules.json").read_text())[0]["type"].startswith("simcse-pl export that")
    loaded = SimCSE.from_pretrained(tmp_path, device="cpu")
    assert loaded.pooler.kind == "mask" and loaded.pooler.uses_mlp_at_inference
    assert loaded.max_length == 128 - len(parse(tokenizer, TEMPLATE))
    with torch.inference_mode():
        expected = torch.cat([prompt_module.embed(**tokenizer([s], return_tensors="pt")) for s in SENTENCES])
    ours = loaded.encode(SENTENCES, batch_size=2, convert_to_tensor=True)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


def test_a_checkpoint_reproduces_the_prompt_vectors(prompt_module: SimCSEModule, tmp_path: Path, tokenizer):
    import lightning.pytorch as pl

    trainer = pl.Trainer(logger=False, enable_checkpointing=False, accelerator="cpu", enable_progress_bar=False)
    trainer.strategy.connect(prompt_module)
    trainer.save_checkpoint(tmp_path / "prompt.ckpt")
    loaded = SimCSE.from_pretrained(tmp_path / "prompt.ckpt", device="cpu")
    with torch.inference_mode():
        expected = torch.cat([prompt_module.embed(**tokenizer([s], return_tensors="pt")) for s in SENTENCES])
    torch.testing.assert_close(loaded.encode(SENTENCES, convert_to_tensor=True), expected, atol=1e-5, rtol=1e-5)


def test_a_prefix_prompt_exports_as_a_sentence_transformers_prompt(tokenizer, tmp_path: Path):
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    settings = {"name_or_path": None, "random_init": TINY, "pooler": "avg", "prompt": {"template": "query : [X]"}}
    module = SimCSEModule(model=settings, loss=InfoNCE()).eval()
    export_model(module.sentence_encoder, str(tmp_path))
    config = json.loads((tmp_path / "config_sentence_transformers.json").read_text())
    assert config["prompts"]["default"] == "query : " and config["default_prompt_name"] == "default"
    with torch.inference_mode():
        expected = torch.cat([module.embed(**tokenizer([s], return_tensors="pt")) for s in SENTENCES])
    st = torch.from_numpy(SentenceTransformer(str(tmp_path), device="cpu").encode(SENTENCES))
    torch.testing.assert_close(st, expected, atol=1e-5, rtol=1e-5)
    ours = SimCSE.from_pretrained(tmp_path, device="cpu").encode(SENTENCES, convert_to_tensor=True)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


def test_what_a_sentence_transformers_prompt_cannot_hold_is_named(tokenizer):
    with pytest.raises(NotExportable, match="has text after \\[X\\]"):
        Prompt(tokenizer, 'This sentence : "[X]" means something').sentence_transformers_prompt(tokenizer)
    with pytest.raises(NotExportable, match="depends on each sentence's length"):
        Prompt(tokenizer, "query : [X]", denoise="always").sentence_transformers_prompt(tokenizer)
