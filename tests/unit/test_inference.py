"""SimCSE.from_pretrained on every kind of saved model, and encode / similarity / search."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from simcse_pl.encoder import ModelLoadError, load_tokenizer
from simcse_pl.export import export_model
from simcse_pl.inference import SimCSE
from simcse_pl.losses import InfoNCE
from simcse_pl.module import SimCSEModule

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
        "max_position_embeddings": 128, "initializer_range": 0.2}
SENTENCES = ["a man plays the guitar", "the cat sleeps", "dogs run in the big park", "red fish", "a woman eats",
             "the blue house is small", "x", "a ball on the red house in a park"]


def tiny_module(pooler: str, mlp_only_train: bool) -> SimCSEModule:
    torch.manual_seed(0)
    model = {"name_or_path": None, "random_init": TINY, "pooler": pooler, "mlp_only_train": mlp_only_train}
    module = SimCSEModule(model=model, loss=InfoNCE()).eval()
    if module.pooler.mlp is not None:  # make the head matter: a fresh one is close to the identity in cosine terms
        torch.nn.init.normal_(module.pooler.mlp.dense.weight, std=0.5)
    return module


def reference(module: SimCSEModule, sentences: list[str]) -> torch.Tensor:
    """What the training module itself computes for these sentences (one at a time, no padding)."""
    tokenizer = load_tokenizer(None, random_init=TINY)
    with torch.inference_mode():
        return torch.cat([module.embed(**tokenizer([s], return_tensors="pt")) for s in sentences])


@pytest.fixture(scope="module")
def avg_module() -> SimCSEModule:
    return tiny_module("avg", mlp_only_train=False)


@pytest.fixture(scope="module")
def mlp_module() -> SimCSEModule:
    return tiny_module("cls", mlp_only_train=False)


def export(module: SimCSEModule, out: Path) -> Path:
    export_model(module.encoder, module.pooler, load_tokenizer(None, random_init=TINY), str(out))
    return out


@pytest.fixture(scope="module")
def avg_dir(avg_module: SimCSEModule, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export(avg_module, tmp_path_factory.mktemp("avg"))


@pytest.fixture(scope="module")
def model(avg_dir: Path) -> SimCSE:
    return SimCSE.from_pretrained(avg_dir, device="cpu")


def test_exported_folder_encodes_as_the_training_module(model: SimCSE, avg_module: SimCSEModule):
    assert model.pooler.kind == "avg"
    expected = reference(avg_module, SENTENCES)
    torch.testing.assert_close(model.encode(SENTENCES, batch_size=3), expected, atol=1e-5, rtol=1e-5)


def test_mlp_head_is_restored_from_the_export(mlp_module: SimCSEModule, tmp_path: Path):
    loaded = SimCSE.from_pretrained(export(mlp_module, tmp_path / "m"), device="cpu")
    assert loaded.pooler.uses_mlp_at_inference
    torch.testing.assert_close(loaded.encode(SENTENCES), reference(mlp_module, SENTENCES), atol=1e-5, rtol=1e-5)


def test_sentence_transformers_folder_uses_its_pooling(mlp_module: SimCSEModule, tmp_path: Path):
    from sentence_transformers import SentenceTransformer

    folder = export(mlp_module, tmp_path / "st")
    (folder / "simcse_pl.json").unlink()  # now only sentence-transformers' modules.json says how it pools
    loaded = SimCSE.from_pretrained(folder, device="cpu")
    assert loaded.pooler.kind == "cls" and loaded.pooler.uses_mlp_at_inference
    expected = torch.from_numpy(SentenceTransformer(str(folder), device="cpu").encode(SENTENCES))
    torch.testing.assert_close(loaded.encode(SENTENCES), expected, atol=1e-5, rtol=1e-5)


def test_lightning_checkpoint_loads_with_weights_only(mlp_module: SimCSEModule, tmp_path: Path):
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, accelerator="cpu", enable_progress_bar=False)
    trainer.strategy.connect(mlp_module)
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    loaded = SimCSE.from_pretrained(tmp_path / "model.ckpt", device="cpu")
    assert loaded.pooler.uses_mlp_at_inference
    torch.testing.assert_close(loaded.encode(SENTENCES), reference(mlp_module, SENTENCES), atol=1e-5, rtol=1e-5)


def test_unsupervised_recipe_drops_the_head_and_cls_override_uses_the_encoders_pooler(tmp_path: Path):
    module = tiny_module("cls", mlp_only_train=True)
    folder = export(module, tmp_path / "unsup")
    assert SimCSE.from_pretrained(folder, device="cpu").pooler.kind == "cls_before_pooler"
    forced = SimCSE.from_pretrained(folder, pooler="cls", device="cpu")  # SimCSE's `--pooler cls`: BERT's pooler layer
    tokens = load_tokenizer(None, random_init=TINY)(["a man plays"], return_tensors="pt")
    with torch.inference_mode():
        expected = module.encoder(**tokens).pooler_output
    torch.testing.assert_close(forced.encode(["a man plays"]), expected, atol=1e-5, rtol=1e-5)


def test_encode_options(model: SimCSE):
    one = model.encode("a man plays the guitar")
    assert one.shape == (TINY["hidden_size"],)
    as_numpy = model.encode(SENTENCES, normalize=True, return_numpy=True)
    assert isinstance(as_numpy, np.ndarray) and as_numpy.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(as_numpy, axis=1), 1.0, rtol=1e-5)
    torch.testing.assert_close(torch.from_numpy(as_numpy[0]), F.normalize(one, dim=0), atol=1e-5, rtol=1e-5)


def test_similarity(model: SimCSE):
    assert model.similarity("the cat sleeps", "the cat sleeps") == pytest.approx(1.0, abs=1e-5)
    matrix = model.similarity(SENTENCES[:3], SENTENCES)
    vectors = F.normalize(model.encode(SENTENCES), dim=-1)
    np.testing.assert_allclose(matrix, (vectors[:3] @ vectors.T).numpy(), atol=1e-5)


@pytest.fixture(params=["exact", "faiss"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Search with faiss, or without it (as if it were not installed: exact torch matmul)."""
    if request.param == "faiss":
        pytest.importorskip("faiss")
    else:
        monkeypatch.setitem(sys.modules, "faiss", None)
    return request.param


def test_encode_then_search_finds_each_sentence_itself_first(model: SimCSE, backend: str):
    model.build_index(SENTENCES)
    assert isinstance(model._index, torch.Tensor) == (backend == "exact")
    hits = model.search(SENTENCES, top_k=3)
    assert [h[0].index for h in hits] == list(range(len(SENTENCES)))
    assert all(h[0].sentence == s and h[0].score == pytest.approx(1.0, abs=1e-5) for h, s in zip(hits, SENTENCES))
    assert all(len(h) == 3 and h[0].score >= h[1].score >= h[2].score for h in hits)
    assert model.search("red fish", top_k=1)[0].index == 3


def test_search_before_build_index_is_an_error(avg_dir: Path):
    with pytest.raises(RuntimeError, match="build_index"):
        SimCSE.from_pretrained(avg_dir, device="cpu").search("x")


def test_missing_model_is_a_load_error(tmp_path: Path):
    with pytest.raises(ModelLoadError, match="no such"):
        SimCSE.from_pretrained(tmp_path / "nothing" / "here")
    with pytest.raises(ModelLoadError, match="no such checkpoint"):
        SimCSE.from_pretrained(tmp_path / "missing.ckpt")


def test_plain_hugging_face_folder_defaults_to_simcse_cls(avg_dir: Path, tmp_path: Path):
    """No simcse_pl.json and no modules.json: SimCSE's default, [CLS] through the encoder's pooler layer."""
    folder = tmp_path / "hf"
    shutil.copytree(avg_dir, folder)
    for name in ("simcse_pl.json", "modules.json"):
        (folder / name).unlink()
    loaded = SimCSE.from_pretrained(folder, device="cpu")
    assert loaded.pooler.kind == "cls" and loaded.pooler.uses_mlp_at_inference
    assert json.loads((avg_dir / "simcse_pl.json").read_text())["pooler"] == "avg"
