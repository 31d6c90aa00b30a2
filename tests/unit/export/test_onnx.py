"""The ONNX export (simcse_pl/export/onnx.py) and SimCSE.from_pretrained(dir, backend="onnx")
(simcse_pl/onnx_backend.py): vectors equal to the torch export's, files where sentence-transformers'
backend="onnx" looks, one-line errors."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from onnx_fixtures import TINY, export_tiny
from simcse_pl.cli import onnx as onnx_cli
from simcse_pl.export import onnx as onnx_export
from simcse_pl.errors import ModelLoadError
from simcse_pl.inference import SimCSE
from simcse_pl.losses import InfoNCE
from simcse_pl.training.module import SimCSEModule
from simcse_pl.export.layout import INT8_FILE, ONNX_DIGESTS, ONNX_FILE

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

SENTENCES = ["a man plays the guitar", "the cat sleeps", "dogs run in the big park", "red fish", "a woman eats",
             "the blue house is small", "x", "a ball on the red house in a park, near the river and the old mill"]
# int8 vs torch fp32, measured on this model: smallest cosine 0.9995 (cls + MLP head), 0.9997 (the others). The
# bound allows ten times that error (1 - cosine): uint8 x uint8 products are exact integers on any x86 CPU, and
# other kernels may sum the float parts in another order
INT8_MIN_COSINE = 0.995


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The export with its ONNX files, written through the command line."""
    out = export_tiny(tmp_path_factory.mktemp("onnx") / "model")
    assert onnx_cli.main([str(out)]) == 0
    return out


def vectors(model: SimCSE) -> np.ndarray:
    """Unit vectors of ``SENTENCES``, encoded three at a time (padded batches)."""
    found = np.asarray(model.encode(SENTENCES, batch_size=3))
    return found / np.linalg.norm(found, axis=1, keepdims=True)


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Smallest row-wise cosine of two sets of unit vectors."""
    return float((a * b).sum(axis=1).min())


@pytest.mark.parametrize("pooler", [None, "cls_before_pooler", "avg", "last_token"])
def test_onnx_vectors_match_the_torch_export(exported: Path, pooler: str | None):
    """The saved pooler (cls + MLP head) and every pooler that reads the last layer, over padded batches."""
    torch_model = SimCSE.from_pretrained(exported, pooler=pooler, device="cpu")
    onnx_model = SimCSE.from_pretrained(exported, pooler=pooler, backend="onnx")
    assert min_cosine(vectors(onnx_model), vectors(torch_model)) > 0.9999


def test_int8_vectors_are_close(exported: Path):
    torch_model = SimCSE.from_pretrained(exported, device="cpu")
    int8 = SimCSE.from_pretrained(exported, backend="onnx", file_name=INT8_FILE)
    assert min_cosine(vectors(int8), vectors(torch_model)) > INT8_MIN_COSINE


def test_files_are_where_sentence_transformers_looks(exported: Path):
    """sentence-transformers' own lookup (backend="onnx") finds both files and would not re-export."""
    from sentence_transformers.backend.utils import backend_should_export

    for kwargs, folder, name in (({}, "onnx", "model.onnx"), ({"file_name": INT8_FILE}, "onnx", Path(INT8_FILE).name)):
        export, found = backend_should_export(exported, True, dict(kwargs), "model.onnx", "*.onnx", "ONNX")
        assert not export and found == {"subfolder": folder, "file_name": name}
    import onnxruntime

    session = onnxruntime.InferenceSession(str(exported / ONNX_FILE))
    assert [i.name for i in session.get_inputs()] == ["input_ids", "attention_mask", "token_type_ids"]
    assert [o.name for o in session.get_outputs()] == ["last_hidden_state"]


@pytest.mark.parametrize("pooler", ["avg_first_last", "avg_top2"])
def test_poolers_of_other_layers_are_refused(exported: Path, pooler: str):
    with pytest.raises(ModelLoadError, match=rf"pooler '{pooler}' reads layers other than the last"):
        SimCSE.from_pretrained(exported, pooler=pooler, backend="onnx")


def test_prompt_is_refused_before_exporting(tmp_path: Path):
    out = export_tiny(tmp_path / "model", pooler="avg", prompt={"template": "query : [X]"})
    with pytest.raises(ModelLoadError, match="prompt template"):
        onnx_export.export_onnx(out)
    assert not (out / "onnx").exists()


def test_missing_onnx_file_names_the_command(tmp_path: Path):
    out = export_tiny(tmp_path / "model", pooler="avg")
    with pytest.raises(ModelLoadError, match=r"no onnx/model\.onnx; write it with: python -m simcse_pl\.cli\.onnx"):
        SimCSE.from_pretrained(out, backend="onnx")


def test_without_onnxruntime_the_error_names_the_extra(exported: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ModelLoadError, match=r"pip install 'simcse-pl\[onnx\]'"):
        SimCSE.from_pretrained(exported, backend="onnx")


def test_bad_arguments_are_one_line_errors(exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(ValueError, match="backend='openvino' is not one of torch, onnx"):
        SimCSE.from_pretrained(exported, backend="openvino")
    with pytest.raises(ValueError, match="pass backend='onnx' too"):
        SimCSE.from_pretrained(exported, file_name=INT8_FILE)
    with pytest.raises(ValueError, match="runs on the CPU"):
        SimCSE.from_pretrained(exported, backend="onnx", device="cuda")
    with pytest.raises(ModelLoadError, match="not a checkpoint"):
        SimCSE.from_pretrained(tmp_path / "run.ckpt", backend="onnx")
    plain = tmp_path / "plain"
    module = SimCSEModule(model={"name_or_path": None, "random_init": TINY, "pooler": "cls"}, loss=InfoNCE())
    module.encoder.save_pretrained(plain)
    assert onnx_cli.main([str(plain)]) == 2
    assert onnx_cli.main([str(tmp_path / "missing")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("onnx_export: error: ")]
    assert len(errors) == 2 and "records its pooling" in errors[0] and "no such model folder" in errors[1]


def scale_largest_weight(path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(path)
    largest = max(graph.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    largest.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(largest) * 1.5, largest.name))
    onnx.save(graph, path)


def swap_first_add(path: Path) -> None:
    import onnx

    graph = onnx.load(path)
    next(n for n in graph.graph.node if n.op_type == "Add").op_type = "Sub"
    onnx.save(graph, path)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("tamper", [scale_largest_weight, swap_first_add, truncate])
def test_a_tampered_onnx_file_is_refused_in_one_line(exported: Path, tmp_path: Path, tamper):
    """Edited weights and a swapped operator still load and run (other vectors, silently): the SHA-256 recorded
    at export catches them, as it does a truncated file."""
    folder = tmp_path / "model"
    shutil.copytree(exported, folder)
    tamper(folder / ONNX_FILE)
    with pytest.raises(ModelLoadError) as err:
        SimCSE.from_pretrained(folder, backend="onnx")
    assert str(err.value) == (f"{folder / ONNX_FILE}: changed since it was exported (its SHA-256 is not the one "
                              f"{ONNX_DIGESTS} records); write it again with simcse-export --onnx or python -m "
                              "simcse_pl.cli.onnx <model folder>")
    SimCSE.from_pretrained(folder, backend="onnx", file_name=INT8_FILE)  # the untouched file still loads


def test_without_the_record_nothing_is_checked_and_a_bad_record_is_one_line(exported: Path, tmp_path: Path):
    """A folder whose ONNX files another tool wrote (sentence-transformers) has no record: loaded as it is."""
    folder = tmp_path / "model"
    shutil.copytree(exported, folder)
    assert json.loads((folder / ONNX_DIGESTS).read_text()).keys() == {"model.onnx", "model_quint8_avx2.onnx"}
    (folder / ONNX_DIGESTS).write_text("[1, 2]")
    with pytest.raises(ModelLoadError, match=r"sha256\.json: not the JSON object of SHA-256s the export writes"):
        SimCSE.from_pretrained(folder, backend="onnx")
    (folder / ONNX_DIGESTS).unlink()
    scale_largest_weight(folder / ONNX_FILE)
    SimCSE.from_pretrained(folder, backend="onnx")
