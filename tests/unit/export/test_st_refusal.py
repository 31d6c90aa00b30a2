"""Issue 23 item 7: a PromptBERT export (pooler ``mask`` inside a prompt template) is no sentence-transformers model.
``SentenceTransformer(folder)`` used to mean-pool its backbone without a word (its fallback for a Hugging Face
folder without modules.json), giving other vectors; its modules.json now names a module whose type is the
explanation, so sentence-transformers refuses it saying to use ``SimCSE.from_pretrained``, which (like plain
``AutoModel``) still loads it. The run's last line says which formats it wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from onnx_fixtures import export_tiny
from simcse_pl.export.model_card import ExportFacts
from simcse_pl.export.writer import formats_written
from simcse_pl.inference import SimCSE

pytest.importorskip("sentence_transformers")

TEMPLATE = 'This sentence : "[X]" means [MASK] .'


@pytest.fixture(scope="module")
def promptbert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_tiny(tmp_path_factory.mktemp("promptbert") / "model", pooler="mask", prompt={"template": TEMPLATE})


@pytest.mark.parametrize("trust_remote_code", [False, True])
def test_sentence_transformers_refuses_a_promptbert_export_saying_how_to_load_it(promptbert: Path,
                                                                                 trust_remote_code: bool):
    from sentence_transformers import SentenceTransformer

    with pytest.raises((ValueError, ImportError)) as caught:
        SentenceTransformer(str(promptbert), device="cpu", trust_remote_code=trust_remote_code)
    message = str(caught.value)
    assert "simcse-pl export that sentence-transformers cannot load" in message
    assert "load it with simcse_pl" in message
    if not trust_remote_code:  # sentence-transformers quotes the whole type: the reason too
        assert "SimCSE.from_pretrained(folder)" in message and "pooler 'mask'" in message


def test_simcse_and_automodel_still_load_it(promptbert: Path):
    from transformers import AutoModel

    model = SimCSE.from_pretrained(promptbert, device="cpu")
    assert model.pooler.kind == "mask" and model.model.prompt is not None
    assert model.encode(["a man plays the guitar"]).shape == (1, model.dimension)
    backbone = AutoModel.from_pretrained(str(promptbert))
    assert backbone.config.hidden_size == model.dimension
    assert json.loads((promptbert / "modules.json").read_text())[0]["path"] == ""


def test_the_card_and_the_run_line_say_hugging_face_only(promptbert: Path, tmp_path: Path):
    facts = ExportFacts.read(promptbert)
    assert facts.not_sentence_transformers is not None and "pooler 'mask'" in facts.not_sentence_transformers
    assert formats_written(str(promptbert)).startswith("Hugging Face only: pooler 'mask'")
    plain = export_tiny(tmp_path / "plain", pooler="avg")
    assert formats_written(str(plain)) == "Hugging Face + sentence-transformers"
    assert ExportFacts.read(plain).not_sentence_transformers is None


def test_a_refusing_folder_without_simcse_pl_json_is_one_clear_error(promptbert: Path, tmp_path: Path):
    import shutil

    from simcse_pl.errors import ModelLoadError

    broken = tmp_path / "broken"
    shutil.copytree(promptbert, broken)
    (broken / "simcse_pl.json").unlink()
    with pytest.raises(ModelLoadError, match=r"says it is a simcse-pl export, but it has no simcse_pl.json"):
        SimCSE.from_pretrained(broken, device="cpu")
