"""What ``simcse-serve MODEL`` loads: a run folder serves its export with its ``results.json``, ``untrained`` is
the run's seeded starting model, and the query/document prompts of a sentence-transformers folder are offered per
request (a simcse-pl export's own template is part of the model, not a choice)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from onnx_fixtures import export_tiny
from serve_fixtures import LIMITS, RESULTS
from simcse_pl.errors import ModelLoadError
from simcse_pl.inference import SimCSE
from simcse_pl.serving.app import Batching, Server, create_app
from simcse_pl.serving.prompts import ST_CONFIG, read_prompts
from simcse_pl.serving.served_model import load_model, load_untrained


def test_a_run_folder_and_its_export_carry_the_runs_scores(run_dir: Path):
    for source in (run_dir, run_dir / "model"):
        served = load_model(str(source))
        assert served.results == RESULTS and served.prompts == {}
    assert load_model(str(run_dir)).id == "run"


def test_a_run_folder_without_its_export_is_one_line(run_dir: Path, tmp_path: Path):
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(run_dir / "run_info.json", bare)
    with pytest.raises(ModelLoadError, match=r"bare: a run folder without model/ \(export it first: simcse-export "):
        load_model(str(bare))


def test_untrained_is_the_runs_seeded_start(run_dir: Path, tmp_path: Path):
    texts = ["a dog runs", "the cat sleeps"]
    first, again = load_untrained(str(run_dir)), load_untrained(str(run_dir / "model"))
    np.testing.assert_array_equal(first.encode(texts), again.encode(texts))
    assert first.id == "untrained" and first.source == "random init (seed 1)"
    assert not np.allclose(first.encode(texts), load_model(str(run_dir)).encode(texts))
    with pytest.raises(ModelLoadError, match="not \\(inside\\) a run folder"):
        load_untrained(str(tmp_path))


@pytest.fixture(scope="module")
def prompted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sentence-transformers folder (no simcse_pl.json) with query and document prompts."""
    folder = export_tiny(tmp_path_factory.mktemp("st") / "model", pooler="avg")
    (folder / "simcse_pl.json").unlink()
    config = json.loads((folder / ST_CONFIG).read_text())
    config["prompts"] = {"query": "query: ", "document": "passage: ", "empty": ""}
    (folder / ST_CONFIG).write_text(json.dumps(config))
    return folder


def test_prompts_are_chosen_per_request(prompted: Path):
    assert read_prompts(prompted) == {"query": "query: ", "document": "passage: "}
    reference = SimCSE.from_pretrained(prompted)
    with TestClient(create_app(Server([load_model(str(prompted))], [], LIMITS, Batching()))) as client:
        body = client.post("/v1/embeddings", json={"input": ["a dog"], "prompt_name": "query"}).json()
        np.testing.assert_allclose(body["data"][0]["embedding"], reference.encode("query: a dog"), atol=1e-5)
        assert client.get("/info").json()["models"][0]["prompts"]["document"] == "passage: "
        refused = client.post("/similarity", json={"sentence": "a", "candidates": ["b"], "prompt_name": "q"})
        assert refused.status_code == 422
        assert refused.json()["detail"] == "prompt_name='q': not one of this model's prompts (document, query)"


def test_a_simcse_export_offers_no_prompt_to_apply_twice(tmp_path: Path):
    template = {"template": 'This sentence : "[X]" means [MASK] .'}
    folder = export_tiny(tmp_path / "model", pooler="mask", prompt=template)
    assert read_prompts(folder) == {}


def test_a_batch_runs_in_passes_of_texts_of_similar_length(run_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """One pass over a whole batch would pad every text to its longest; passes of ``pass_size`` texts sorted by
    length pad little, and the vectors are the same."""
    served = load_model(str(run_dir))
    texts = ["a " * n + "end" for n in (9, 1, 30, 2, 17, 3, 25, 4)]
    expected = SimCSE.from_pretrained(run_dir / "model").encode(texts)
    passes: list[tuple[int, int]] = []
    embed = served.model.embed
    monkeypatch.setattr(served.model, "embed", lambda input_ids, **rest: passes.append(tuple(input_ids.shape))
                        or embed(input_ids, **rest))
    vectors = served.encode(texts, pass_size=2)
    assert [rows for rows, _ in passes] == [2, 2, 2, 2]
    assert [length for _, length in passes] == sorted(length for _, length in passes)  # shortest pass first
    padded = sum(rows * length for rows, length in passes)
    assert padded < len(texts) * max(length for _, length in passes) * 0.7  # one pass would pad all to 33 tokens
    cosine = (vectors * expected).sum(-1) / np.linalg.norm(vectors, axis=-1) / np.linalg.norm(expected, axis=-1)
    assert cosine.min() >= 0.99999
