"""LoRA through peft on tiny decoders: only adapter weights train and are checkpointed; the export merges them
(acceptance 2: its vectors equal the training model's eval-mode vectors within 1e-5, through
``SimCSE.from_pretrained`` and through ``SentenceTransformer``) and writes the adapter alone too."""

from __future__ import annotations

import json
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from transformers import AutoModel

from simcse_pl.encoders.backbone import load_encoder, load_tokenizer
from simcse_pl.export.writer import export_model
from simcse_pl.inference import SimCSE
from simcse_pl.losses import InfoNCE
from simcse_pl.training.module import SimCSEModule
from simcse_pl.errors import CheckpointError
from simcse_pl.training.resume import check_matches_model

SHAPE = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
         "intermediate_size": 64, "max_position_embeddings": 128}
SENTENCES = ["a man plays the guitar", "the cat sleeps", "x", "dogs run in the big park", "red fish"]
LORA = {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": None}


def settings(model_type: str, pooler: str, padding_side: str, **extra) -> dict:
    return {"name_or_path": None, "random_init": {"model_type": model_type, **SHAPE}, "pooler": pooler,
            "padding_side": padding_side, "lora": LORA, **extra}


CASES = {
    "llama-mean-left-bidirectional": settings("llama", "mean", "left", bidirectional=True),
    "qwen2-last_token-right": settings("qwen2", "last_token", "right"),
}


def trained_looking(model: dict) -> SimCSEModule:
    """A module whose adapters are not the identity (peft starts B at zero, so merging would change nothing)."""
    torch.manual_seed(0)
    module = SimCSEModule(model=model, loss=InfoNCE())
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.2)
    return module.eval()


def reference(module: SimCSEModule, sentences: list[str]) -> torch.Tensor:
    tokenizer = module.sentence_encoder.tokenizer
    with torch.inference_mode():
        return torch.cat([module.embed(**tokenizer([s], return_tensors="pt")) for s in sentences])


def test_only_adapter_weights_get_gradients():
    torch.manual_seed(0)
    module = SimCSEModule(model=settings("llama", "mean", "left", attention_dropout=0.1), loss=InfoNCE()).train()
    tokens = module.sentence_encoder.tokenizer(SENTENCES, padding=True, return_tensors="pt")
    z = module({k: v.unsqueeze(1) for k, v in tokens.items()})
    InfoNCE()(z).backward()
    with_grad = {n for n, p in module.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    trainable = {n for n, p in module.named_parameters() if p.requires_grad}
    assert with_grad and with_grad <= trainable
    assert all("lora_" in n for n in trainable)
    assert len(trainable) == 2 * 7 * SHAPE["num_hidden_layers"]  # A and B of every projection (LLM2Vec's targets)


def test_checkpoints_hold_the_adapters_and_restore_exactly():
    module = trained_looking(CASES["qwen2-last_token-right"])
    state = module.state_dict()
    assert state and all("lora_" in k for k in state)
    torch.manual_seed(1)  # other adapters: restoring must bring the saved ones back
    fresh = SimCSEModule(model=CASES["qwen2-last_token-right"], loss=InfoNCE()).eval()
    check_matches_model({"state_dict": state}, fresh, "x.ckpt")
    fresh.load_state_dict(state)
    torch.testing.assert_close(reference(fresh, SENTENCES), reference(module, SENTENCES), atol=0, rtol=0)
    with pytest.raises(RuntimeError, match="missing keys"):
        fresh.load_state_dict({k: v for k, v in list(state.items())[1:]})
    with pytest.raises(CheckpointError, match="a checkpoint of another model"):
        check_matches_model({"state_dict": {**state, "encoder.extra": torch.zeros(1)}}, fresh, "x.ckpt")


def test_gradient_checkpointing_gives_the_same_gradients():
    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        module = SimCSEModule(model=settings("llama", "mean", "right", gradient_checkpointing=checkpointing),
                              loss=InfoNCE()).train()
        tokens = module.sentence_encoder.tokenizer(SENTENCES, padding=True, return_tensors="pt")
        InfoNCE()(module({k: v.unsqueeze(1) for k, v in tokens.items()}) + 0.01 * torch.arange(2.0).view(1, 2, 1)).backward()
        grads.append({n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], atol=1e-6, rtol=1e-5)


@pytest.fixture(scope="module", params=sorted(CASES))
def exported(request, tmp_path_factory) -> tuple[SimCSEModule, Path]:
    module = trained_looking(CASES[request.param])
    out = tmp_path_factory.mktemp(request.param)
    tokenizer = load_tokenizer(**CASES[request.param])
    export_model(module.sentence_encoder, str(out))
    return module, out


def test_the_merged_export_is_a_plain_model_with_the_training_vectors(exported):
    module, out = exported
    plain = AutoModel.from_pretrained(out)
    assert type(plain).__name__ in ("LlamaModel", "Qwen2Model")  # no adapter modules left
    assert not any("lora" in k for k in plain.state_dict())
    assert plain.config.to_dict().get("is_causal", True) is (not module.hparams.model.get("bidirectional", False))
    loaded = SimCSE.from_pretrained(out, device="cpu")
    ours = loaded.encode(SENTENCES, batch_size=2, convert_to_tensor=True)
    torch.testing.assert_close(ours, reference(module, SENTENCES), atol=1e-5, rtol=1e-5)


def test_sentence_transformers_loads_the_merged_export_with_the_same_vectors(exported):
    from sentence_transformers import SentenceTransformer

    module, out = exported
    modules = json.loads((out / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == ["Transformer", "Pooling"]
    st = SentenceTransformer(str(out), device="cpu")
    torch.testing.assert_close(torch.from_numpy(st.encode(SENTENCES, batch_size=2)), reference(module, SENTENCES),
                               atol=1e-5, rtol=1e-5)


def test_the_adapter_alone_loads_with_peft_on_the_base(exported):
    from peft import PeftModel

    module, out = exported
    model = module.hparams.model
    assert (out / "adapter" / "adapter_config.json").exists() and (out / "adapter" / "adapter_model.safetensors").exists()
    # the base a LoRA run was built on: a random one is drawn with random_init.seed (default 0)
    base = load_encoder(**{**model, "lora": None, "random_init": {**model["random_init"], "seed": 0}}).eval()
    adapted = PeftModel.from_pretrained(base, out / "adapter").eval()
    tokens = module.sentence_encoder.tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.inference_mode():
        torch.testing.assert_close(adapted(**tokens).last_hidden_state, module.encoder(**tokens).last_hidden_state)


def test_a_lora_checkpoint_loads_for_inference(tmp_path: Path):
    module = trained_looking(CASES["llama-mean-left-bidirectional"])
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, accelerator="cpu", enable_progress_bar=False)
    trainer.strategy.connect(module)
    trainer.save_checkpoint(tmp_path / "lora.ckpt")
    saved = torch.load(tmp_path / "lora.ckpt", weights_only=True)["state_dict"]
    assert all("lora_" in k for k in saved)  # adapters only: the base is rebuilt from model.*
    loaded = SimCSE.from_pretrained(tmp_path / "lora.ckpt", device="cpu")
    ours = loaded.encode(SENTENCES, convert_to_tensor=True)
    torch.testing.assert_close(ours, reference(module, SENTENCES), atol=1e-5, rtol=1e-5)
