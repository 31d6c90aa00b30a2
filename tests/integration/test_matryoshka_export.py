"""Truncated use of a Matryoshka model: the export records the trained sizes (simcse_pl.json, the
sentence-transformers model card) and loads cut to k as ``SentenceTransformer(dir, truncate_dim=k)``;
``SimCSE.encode(..., truncate_dim=k)``, ``simcse-encode --dim k`` and ``simcse-eval --dim k`` equal the full vectors cut
to their first k coordinates; train.py runs ``loss=matryoshka`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sts_fixtures import write_senteval_root
from train_runs import run_train

from simcse_pl.cli.evaluate import encode_main, eval_main
from simcse_pl.evaluation import load_task
from simcse_pl.export.model_card import write_card
from simcse_pl.export.writer import export_model, trained_dims
from simcse_pl.inference import SimCSE
from simcse_pl.losses import InfoNCE
from simcse_pl.losses.matryoshka import Matryoshka
from simcse_pl.training.module import SimCSEModule
from tiny_model import WIDE_INIT_BERT as TINY

DIMS = [32, 16, 8]
SENTENCES = ["a man plays the guitar", "the cat sleeps", "dogs run in the big park", "red fish", "a woman eats",
             "the blue house is small", "x", "a ball on the red house in a park"]


def tiny_module(pooler: str, objective) -> SimCSEModule:
    torch.manual_seed(0)
    model = {"name_or_path": None, "random_init": TINY, "pooler": pooler, "mlp_only_train": False}
    module = SimCSEModule(model=model, loss=objective).eval()
    if module.pooler.mlp is not None:
        torch.nn.init.normal_(module.pooler.mlp.dense.weight, std=0.5)
    return module


def export(module: SimCSEModule, out: Path) -> Path:
    """The export and its card, as a run writes them (the card once the export is complete)."""
    export_model(module.sentence_encoder, str(out), objective=module.objective)
    write_card(out)
    return out


@pytest.fixture(scope="module")
def mean_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Mean pooling, as the cosent quickstart."""
    return export(tiny_module("avg", Matryoshka(InfoNCE(), DIMS)), tmp_path_factory.mktemp("matryoshka"))


@pytest.fixture(scope="module")
def model(mean_dir: Path) -> SimCSE:
    return SimCSE.from_pretrained(mean_dir, device="cpu")


def test_export_records_the_trained_sizes(mean_dir: Path, model: SimCSE):
    assert json.loads((mean_dir / "simcse_pl.json").read_text())["matryoshka_dims"] == DIMS
    assert model.trained_dims == DIMS
    card = (mean_dir / "README.md").read_text()
    front_matter = card.split("---")[1]
    assert "- matryoshka" in front_matter
    assert "- **Matryoshka Dimensions:** 32, 16, 8" in card
    assert 'SentenceTransformer("sentence_transformers_model_id", truncate_dim=8)' in card
    assert card.index("### Matryoshka dimensions") < card.index("## Usage")


def test_a_model_trained_without_matryoshka_records_no_sizes(tmp_path: Path):
    folder = export(tiny_module("avg", InfoNCE()), tmp_path / "plain")
    assert "matryoshka_dims" not in json.loads((folder / "simcse_pl.json").read_text())
    card = (folder / "README.md").read_text()
    assert "- matryoshka" not in card.split("---")[1] and "Matryoshka Dimensions" not in card
    assert SimCSE.from_pretrained(folder, device="cpu").trained_dims is None
    assert trained_dims(None) is None and trained_dims(InfoNCE()) is None


def test_encode_dim_is_the_full_vectors_cut_then_normalised(model: SimCSE):
    full = model.encode(SENTENCES, batch_size=3, convert_to_tensor=True)
    assert full.shape == (len(SENTENCES), 32)
    for k in DIMS:
        cut = model.encode(SENTENCES, batch_size=3, truncate_dim=k, convert_to_tensor=True)
        torch.testing.assert_close(cut, full[:, :k], atol=1e-6, rtol=1e-6)
        cut = model.encode(SENTENCES, normalize_embeddings=True, truncate_dim=k, convert_to_tensor=True)
        torch.testing.assert_close(cut, F.normalize(full[:, :k], dim=-1), atol=1e-6, rtol=1e-6)
    assert model.encode("a man plays the guitar", truncate_dim=8, convert_to_tensor=True).shape == (8,)


@pytest.mark.parametrize("pooler", ["avg", "cls"], ids=["mean", "cls_mlp"])
def test_sentence_transformers_truncate_dim_matches_encode_dim(pooler: str, tmp_path: Path):
    from sentence_transformers import SentenceTransformer

    folder = export(tiny_module(pooler, Matryoshka(InfoNCE(), DIMS)), tmp_path / pooler)
    ours = SimCSE.from_pretrained(folder, device="cpu")
    for k in (16, 8):
        theirs = SentenceTransformer(str(folder), device="cpu", truncate_dim=k).encode(SENTENCES)
        assert theirs.shape == (len(SENTENCES), k)
        np.testing.assert_allclose(ours.encode(SENTENCES, truncate_dim=k), theirs, atol=1e-5, rtol=1e-5)


def test_model_wide_dim_applies_to_similarity_and_search(mean_dir: Path, model: SimCSE):
    cut = SimCSE.from_pretrained(mean_dir, device="cpu", truncate_dim=8)
    assert cut.encode(SENTENCES, convert_to_tensor=True).shape == (len(SENTENCES), 8)
    per_call = cut.encode(SENTENCES, truncate_dim=16)  # the call's size wins over the model's
    np.testing.assert_array_equal(per_call, model.encode(SENTENCES, truncate_dim=16))
    expected = F.normalize(model.encode(SENTENCES[:2], truncate_dim=8, convert_to_tensor=True), dim=-1)
    assert cut.similarity(SENTENCES[0], SENTENCES[1]) == pytest.approx(float(expected[0] @ expected[1]), abs=1e-6)
    cut.build_index(SENTENCES)
    assert cut.search(SENTENCES[3], top_k=1)[0].index == 3


@pytest.mark.parametrize("dim, message", [
    (64, "truncate_dim=64: larger than the model's 32-dimensional vectors (trained sizes: 32, 16, 8)"),
    (0, "truncate_dim must be a positive integer (got 0)"),
])
def test_bad_dim_names_itself(model: SimCSE, mean_dir: Path, dim: int, message: str):
    with pytest.raises(ValueError) as info:
        model.encode(SENTENCES, truncate_dim=dim, convert_to_tensor=True)
    assert str(info.value) == message
    with pytest.raises(ValueError) as info:
        SimCSE.from_pretrained(mean_dir, device="cpu", truncate_dim=dim)
    assert str(info.value) == message


# --- the command-line tools


def test_simcse_encode_dim(mean_dir: Path, model: SimCSE, tmp_path: Path):
    (tmp_path / "in.txt").write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    assert encode_main([str(mean_dir), str(tmp_path / "in.txt"), "--output", str(tmp_path / "v.npy"), "--dim", "8",
                        "--normalize", "--device", "cpu"]) == 0
    vectors = np.load(tmp_path / "v.npy")
    assert vectors.shape == (len(SENTENCES), 8) and vectors.dtype == np.float32
    expected = F.normalize(model.encode(SENTENCES, convert_to_tensor=True)[:, :8], dim=-1).numpy()
    np.testing.assert_allclose(vectors, expected, atol=1e-6)


def test_simcse_eval_dim(mean_dir: Path, model: SimCSE, tmp_path: Path, capsys: pytest.CaptureFixture):
    write_senteval_root(tmp_path / "data", pairs_per_file=10)
    out = tmp_path / "eval.json"
    assert eval_main([str(mean_dir), "--tasks", "stsb", "--dim", "8", "--device", "cpu", "--data-dir",
                      str(tmp_path / "data"), "--output", str(out)]) == 0
    record = json.loads(out.read_text())
    assert (record["dim"], record["trained_dims"]) == (8, DIMS)
    task = load_task("stsb", str(tmp_path / "data"), "test")
    expected = task.evaluate(model.encode(task.sentences, convert_to_tensor=True)[:, :8])
    assert record["tasks"]["stsb"]["spearman"] == pytest.approx(expected["spearman"], abs=1e-6)
    assert "vectors cut to their first 8 coordinates (--dim)" in capsys.readouterr().out
    assert eval_main([str(mean_dir), "--tasks", "stsb", "--device", "cpu", "--data-dir", str(tmp_path / "data"),
                      "--output", str(out)]) == 0
    assert json.loads(out.read_text())["dim"] == 32


def test_cli_dim_errors_are_one_line(mean_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    write_senteval_root(tmp_path / "data", pairs_per_file=4)
    assert eval_main([str(mean_dir), "--tasks", "stsb", "--dim", "64", "--device", "cpu", "--data-dir",
                      str(tmp_path / "data")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == \
        "simcse-eval: error: --dim 64: larger than the model's 32-dimensional vectors (trained sizes: 32, 16, 8)"
    with pytest.raises(SystemExit) as info:
        encode_main([str(mean_dir), "in.txt", "--output", "v.npy", "--dim", "0"])
    assert info.value.code == 2
    assert "argument --dim/--truncate-dim: must be a positive integer (got '0')" in capsys.readouterr().err


def test_an_untrained_size_is_warned_about_once(mean_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture):
    """Issue 24, friction 11: ``--dim 12`` on a model trained at 32/16/8 was accepted silently; one line now says
    those coordinates were not trained to stand alone (still allowed: it is the user's experiment)."""
    write_senteval_root(tmp_path / "data", pairs_per_file=4)
    assert eval_main([str(mean_dir), "--tasks", "stsb", "--dim", "12", "--device", "cpu", "--data-dir",
                      str(tmp_path / "data")]) == 0
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warned == ["--dim 12: not one of the sizes this model was trained to be cut to (32, 16, 8); vectors cut "
                      "to 12 coordinates may score well below those"]
    caplog.clear()
    model = SimCSE.from_pretrained(mean_dir, device="cpu")
    for dim in (16, 12, 12, 32):
        model.encode(SENTENCES[:2], truncate_dim=dim)
    assert [r.getMessage()[:16] for r in caplog.records if r.levelname == "WARNING"] == ["truncate_dim=12:"]


# --- train.py end to end


MATRYOSHKA_RUN = ["model.pooler=avg", "logger=none", "trainer.max_steps=2", "trainer.val_check_interval=2",
                  "validate_before=false", "test=false", "loss=matryoshka"]


@pytest.fixture(scope="module")
def matryoshka_run(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("matryoshka_run")
    run_train(run_dir, *MATRYOSHKA_RUN, "loss.dims=[32,16,8]", "loss@loss.inner=infonce", "loss.inner.tau=0.1",
              data_dir=tiny_data)
    return run_dir


def test_train_py_with_matryoshka_exports_a_model_that_cuts(matryoshka_run: Path):
    model = SimCSE.from_pretrained(matryoshka_run / "model", device="cpu")
    assert model.encode(SENTENCES, truncate_dim=8, convert_to_tensor=True).shape == (len(SENTENCES), 8)


def test_train_py_export_records_the_trained_sizes(matryoshka_run: Path):
    config = json.loads((matryoshka_run / "model" / "simcse_pl.json").read_text())
    assert config["matryoshka_dims"] == [32, 16, 8]


@pytest.mark.slow  # a train.py start (~12 s)
def test_train_py_dims_larger_than_the_model_fail_naming_loss_dims(tiny_data: Path, tmp_path: Path):
    done = run_train(tmp_path / "run", *MATRYOSHKA_RUN, "loss.dims=[64,32]", data_dir=tiny_data, check=False)
    assert done.returncode != 0
    assert "loss.dims=[64, 32]: 64 is larger than the model's sentence vectors (32 dims)" in done.stderr

