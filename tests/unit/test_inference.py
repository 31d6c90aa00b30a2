"""SimCSE.from_pretrained on every kind of saved model, and encode / similarity / search."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from simcse_pl.cli import evaluate as cli
from simcse_pl import inference
from simcse_pl.errors import ModelLoadError
from simcse_pl.encoders.backbone import load_tokenizer
from simcse_pl.export.writer import export_model
from simcse_pl.inference import SimCSE
from simcse_pl.losses import InfoNCE
from simcse_pl.training.module import SimCSEModule
from tiny_model import WIDE_INIT_BERT as TINY

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
    export_model(module.sentence_encoder, str(out))
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
    ours = model.encode(SENTENCES, batch_size=3, convert_to_tensor=True)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


def test_mlp_head_is_restored_from_the_export(mlp_module: SimCSEModule, tmp_path: Path):
    loaded = SimCSE.from_pretrained(export(mlp_module, tmp_path / "m"), device="cpu")
    assert loaded.pooler.uses_mlp_at_inference
    ours = loaded.encode(SENTENCES, convert_to_tensor=True)
    torch.testing.assert_close(ours, reference(mlp_module, SENTENCES), atol=1e-5, rtol=1e-5)


def test_sentence_transformers_folder_uses_its_pooling(mlp_module: SimCSEModule, tmp_path: Path):
    from sentence_transformers import SentenceTransformer

    folder = export(mlp_module, tmp_path / "st")
    (folder / "simcse_pl.json").unlink()  # now only sentence-transformers' modules.json says how it pools
    loaded = SimCSE.from_pretrained(folder, device="cpu")
    assert loaded.pooler.kind == "cls" and loaded.pooler.uses_mlp_at_inference
    expected = torch.from_numpy(SentenceTransformer(str(folder), device="cpu").encode(SENTENCES))
    torch.testing.assert_close(loaded.encode(SENTENCES, convert_to_tensor=True), expected, atol=1e-5, rtol=1e-5)


def test_lightning_checkpoint_loads_with_weights_only(mlp_module: SimCSEModule, tmp_path: Path):
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, accelerator="cpu", enable_progress_bar=False)
    trainer.strategy.connect(mlp_module)
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    loaded = SimCSE.from_pretrained(tmp_path / "model.ckpt", device="cpu")
    assert loaded.pooler.uses_mlp_at_inference
    ours = loaded.encode(SENTENCES, convert_to_tensor=True)
    torch.testing.assert_close(ours, reference(mlp_module, SENTENCES), atol=1e-5, rtol=1e-5)


def test_unsupervised_recipe_drops_the_head_and_cls_override_uses_the_encoders_pooler(tmp_path: Path):
    module = tiny_module("cls", mlp_only_train=True)
    folder = export(module, tmp_path / "unsup")
    assert SimCSE.from_pretrained(folder, device="cpu").pooler.kind == "cls_before_pooler"
    forced = SimCSE.from_pretrained(folder, pooler="cls", device="cpu")  # SimCSE's `--pooler cls`: BERT's pooler layer
    tokens = load_tokenizer(None, random_init=TINY)(["a man plays"], return_tensors="pt")
    with torch.inference_mode():
        expected = module.encoder(**tokens).pooler_output
    torch.testing.assert_close(forced.encode(["a man plays"], convert_to_tensor=True), expected, atol=1e-5, rtol=1e-5)


def test_encode_returns_what_sentence_transformers_returns(model: SimCSE):
    """numpy by default, a tensor with convert_to_tensor, a list of tensors without numpy; the same argument names."""
    one = model.encode("a man plays the guitar")
    assert isinstance(one, np.ndarray) and one.shape == (TINY["hidden_size"],)
    as_numpy = model.encode(SENTENCES, normalize_embeddings=True)
    assert isinstance(as_numpy, np.ndarray) and as_numpy.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(as_numpy, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(as_numpy[0], one / np.linalg.norm(one), atol=1e-5, rtol=1e-5)
    tensor = model.encode(SENTENCES, normalize_embeddings=True, convert_to_tensor=True)
    assert isinstance(tensor, torch.Tensor) and tensor.shape == as_numpy.shape
    listed = model.encode(SENTENCES, convert_to_numpy=False)
    assert isinstance(listed, list) and len(listed) == len(SENTENCES) and isinstance(listed[0], torch.Tensor)
    np.testing.assert_allclose(torch.stack(listed).numpy(), model.encode(SENTENCES), atol=1e-6)


def test_similarity(model: SimCSE):
    assert model.similarity("the cat sleeps", "the cat sleeps") == pytest.approx(1.0, abs=1e-5)
    matrix = model.similarity(SENTENCES[:3], SENTENCES)
    vectors = F.normalize(model.encode(SENTENCES, convert_to_tensor=True), dim=-1)
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


# --- bad arguments and failures leave the object as it was ----------------------------------------------------


def test_failed_build_index_keeps_the_previous_corpus_and_index(model: SimCSE, backend: str,
                                                                monkeypatch: pytest.MonkeyPatch):
    model.build_index(SENTENCES)

    def crash(*args, **kwargs):
        raise RuntimeError("the encoder crashed")

    with monkeypatch.context() as patched:
        patched.setattr(inference, "encode", crash)
        with pytest.raises(RuntimeError, match="the encoder crashed"):
            model.build_index(["something else entirely", "and another"])
    assert model.corpus == SENTENCES
    hit = model.search("red fish", top_k=1)[0]
    assert (hit.index, hit.sentence) == (3, "red fish")


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda m: m.encode(SENTENCES, batch_size=0), "batch_size must be a positive integer (got 0)"),
        (lambda m: m.encode(SENTENCES, batch_size=-3), "batch_size must be a positive integer (got -3)"),
        (lambda m: m.encode(SENTENCES, batch_size=2.5), "batch_size must be a positive integer (got 2.5)"),
        (lambda m: m.encode([]), "sentences is empty: give at least one sentence"),
        (lambda m: m.encode(["a", None]), "sentences[1] is NoneType, not a string"),
        (lambda m: m.similarity("a", "b", batch_size=0), "batch_size must be a positive integer (got 0)"),
        (lambda m: m.similarity("a", []), "b is empty: give at least one sentence"),
        (lambda m: m.search("a", top_k=0), "top_k must be a positive integer (got 0)"),
        (lambda m: m.search("a", top_k=-1), "top_k must be a positive integer (got -1)"),
        (lambda m: m.search([]), "queries is empty: give at least one sentence"),
        (lambda m: m.build_index([]), "corpus is empty: give at least one sentence"),
        (lambda m: m.build_index(["a", 3]), "corpus[1] is int, not a string"),
        (lambda m: m.build_index(["a"], batch_size=0), "batch_size must be a positive integer (got 0)"),
    ],
    ids=["encode-batch-0", "encode-batch-neg", "encode-batch-float", "encode-empty", "encode-none", "similarity-batch",
         "similarity-empty", "search-top-k-0", "search-top-k-neg", "search-empty", "index-empty", "index-int",
         "index-batch"],
)
def test_bad_argument_is_a_value_error_naming_it(model: SimCSE, call, expected: str):
    model.build_index(SENTENCES)
    with pytest.raises(ValueError) as exc:
        call(model)
    assert str(exc.value) == expected
    assert model.corpus == SENTENCES  # nothing half-replaced


def test_bad_max_length_is_refused(avg_dir: Path):
    with pytest.raises(ValueError) as exc:
        SimCSE.from_pretrained(avg_dir, device="cpu", max_length=0)
    assert str(exc.value) == "max_length must be a positive integer (got 0)"


# --- simcse-encode / simcse-eval: bad options, checked before the model loads ----------------------------------


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(args):
        raise AssertionError("the model was loaded before --output was checked")

    monkeypatch.setattr(cli, "_load_model", refuse)


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "in.txt"
    path.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    return path


def test_encode_output_in_a_missing_folder_fails_before_the_model_loads(no_model, text_file: Path, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture):
    out = tmp_path / "missing" / "v.npy"
    assert cli.encode_main(["model", str(text_file), "--output", str(out)]) == 2
    assert capsys.readouterr().err == f"simcse-encode: error: --output {out}: no such directory {out.parent}\n"


def test_encode_output_that_is_a_folder(no_model, text_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    assert cli.encode_main(["model", str(text_file), "--output", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"simcse-encode: error: --output {tmp_path}: is a directory; give the file to write, "
        f"e.g. {tmp_path}/vectors.npy\n"
    )


def test_encode_output_in_a_read_only_folder(no_model, text_file: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """Simulated with ``os.access``, so it is checked when the tests run as root as well."""
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(tmp_path) else real_access(p, mode))
    out = tmp_path / "v.npy"
    assert cli.encode_main(["model", str(text_file), "--output", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"simcse-encode: error: --output {out}: cannot write in {tmp_path} (permission denied)\n"
    )


def test_encode_writes_exactly_the_output_path_given(avg_dir: Path, model: SimCSE, text_file: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture):
    out = tmp_path / "vectors"  # no .npy suffix: np.save(name) would have written vectors.npy
    assert cli.encode_main([str(avg_dir), str(text_file), "--output", str(out), "--device", "cpu"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "vectors"]
    np.testing.assert_allclose(np.load(out), model.encode(SENTENCES), atol=1e-5)
    assert capsys.readouterr().out == f"{out}: {len(SENTENCES)} × {TINY['hidden_size']} float32\n"


@pytest.mark.parametrize(
    ("main", "prog", "option"),
    [(cli.eval_main, "simcse-eval", "--batch-size"), (cli.encode_main, "simcse-encode", "--batch-size"),
     (cli.eval_main, "simcse-eval", "--max-length"), (cli.encode_main, "simcse-encode", "--max-length")],
)
@pytest.mark.parametrize("value", ["0", "-2", "ten"])
def test_cli_count_option_must_be_positive(no_model, text_file: Path, capsys: pytest.CaptureFixture,
                                           main, prog: str, option: str, value: str):
    extra = [str(text_file), "--output", "v.npy"] if prog == "simcse-encode" else []
    with pytest.raises(SystemExit) as exit_info:
        main(["model", *extra, f"{option}={value}"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"{prog}: error: argument {option}: must be a positive integer (got {value!r})"
    )


# --- non-finite weights: refused at load, never scored as ``nan`` -------------------------------------------------


def nan_module(pooler: str = "avg") -> SimCSEModule:
    """A tiny module whose word embeddings hold a NaN (what a diverged run saves)."""
    module = tiny_module(pooler, mlp_only_train=False)
    with torch.no_grad():
        module.encoder.embeddings.word_embeddings.weight[3, 0] = float("nan")
    return module


def test_export_with_nan_weights_is_refused_naming_file_and_parameter(tmp_path: Path):
    folder = export(nan_module(), tmp_path / "nan")
    with pytest.raises(ModelLoadError) as error:
        SimCSE.from_pretrained(folder, device="cpu")
    message = str(error.value)
    assert message.startswith(f"{folder / 'model.safetensors'}: parameter embeddings.word_embeddings.weight holds NaN")
    assert "\n" not in message


def test_inf_in_the_mlp_head_is_refused(mlp_module: SimCSEModule, tmp_path: Path):
    folder = export(mlp_module, tmp_path / "inf")
    from safetensors.torch import load_file, save_file

    head = load_file(folder / "pooler.safetensors")
    head["dense.bias"][0] = float("inf")
    save_file(head, folder / "pooler.safetensors")
    with pytest.raises(ModelLoadError, match=r"pooler\.safetensors: parameter bias holds NaN or infinite values"):
        SimCSE.from_pretrained(folder, device="cpu")


def test_checkpoint_with_nan_weights_is_refused(tmp_path: Path):
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, accelerator="cpu", enable_progress_bar=False)
    trainer.strategy.connect(nan_module())
    trainer.save_checkpoint(tmp_path / "nan.ckpt")
    with pytest.raises(ModelLoadError, match=rf"^{tmp_path / 'nan.ckpt'}: parameter encoder\.embeddings\.word_embeddings"
                                              r"\.weight holds NaN or infinite values"):
        SimCSE.from_pretrained(tmp_path / "nan.ckpt", device="cpu")


def test_simcse_eval_of_nan_weights_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture):
    folder = export(nan_module(), tmp_path / "nan")
    pairs = tmp_path / "dev.tsv"
    pairs.write_text("sentence1\tsentence2\tscore\n" + "".join(
        f"{a}\t{b}\t{i % 5}\n" for i, (a, b) in enumerate(zip(SENTENCES, SENTENCES[1:], strict=False))))
    assert cli.eval_main([str(folder), "--tasks", str(pairs), "--device", "cpu"]) == 2
    out = capsys.readouterr()
    assert out.err == (f"simcse-eval: error: {folder / 'model.safetensors'}: parameter embeddings.word_embeddings.weight "
                       "holds NaN or infinite values; the weights are broken (a diverged run?), refusing to load them\n")
    assert "nan" not in out.out
