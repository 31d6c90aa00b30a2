"""model.prompts round trip (acceptance 3): SimCSE.encode(prompt_name=...), sentence-transformers' encode_query /
encode_document and simcse-eval's retrieval task give the same vectors; an export without roles is as before."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from simcse_pl.evaluation.retrieval import load_beir, with_roles
from simcse_pl.export.writer import export_model
from simcse_pl.inference import SimCSE
from simcse_pl.losses import InfoNCE
from simcse_pl.training.module import SimCSEModule
from tiny_model import WIDE_INIT_BERT

ROLES = {"query": "query: ", "document": "passage: "}
QUERIES = ["a dog runs", "the cat sleeps"]
DOCS = ["dogs run in the park", "a cat on the house"]


def exported(folder: Path, prompts: dict | None) -> Path:
    torch.manual_seed(0)
    module = SimCSEModule(model={"name_or_path": None, "random_init": WIDE_INIT_BERT, "pooler": "avg",
                                 "mlp_only_train": False, "prompts": prompts}, loss=InfoNCE()).eval()
    export_model(module.sentence_encoder, str(folder))
    return folder


@pytest.fixture(scope="module")
def with_prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported(tmp_path_factory.mktemp("roles"), ROLES)


def test_encode_query_and_document_match_sentence_transformers(with_prompts: Path):
    from sentence_transformers import SentenceTransformer

    ours = SimCSE.from_pretrained(with_prompts, device="cpu")
    theirs = SentenceTransformer(str(with_prompts), device="cpu")
    assert theirs.prompts["query"] == "query: " and theirs.prompts["document"] == "passage: "
    np.testing.assert_allclose(ours.encode(QUERIES, prompt_name="query"), theirs.encode_query(QUERIES), atol=1e-5)
    np.testing.assert_allclose(ours.encode_document(DOCS), theirs.encode_document(DOCS), atol=1e-5)
    np.testing.assert_allclose(ours.encode(QUERIES), theirs.encode(QUERIES), atol=1e-5)  # plain encode: no prompt
    assert not np.allclose(ours.encode(QUERIES, prompt_name="query"), ours.encode(QUERIES))


def test_retrieval_task_encodes_with_the_roles(with_prompts: Path, tmp_path: Path):
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps({"_id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(DOCS)))
    (tmp_path / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": t}) + "\n" for i, t in enumerate(QUERIES)))
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq0\td0\t1\nq1\td1\t1\n")
    model = SimCSE.from_pretrained(with_prompts, device="cpu")
    [task] = with_roles([load_beir(str(tmp_path))], model.model.roles)
    assert task.sentences == ["query: " + q for q in QUERIES] + ["passage: " + d for d in DOCS]
    vectors = model.encode(task.sentences)
    np.testing.assert_allclose(vectors[:2], model.encode_query(QUERIES), atol=1e-6)
    np.testing.assert_allclose(vectors[2:], model.encode_document(DOCS), atol=1e-6)


def test_an_export_without_roles_has_no_prompts(tmp_path: Path):
    folder = exported(tmp_path, None)
    assert "prompts" not in json.loads((folder / "simcse_pl.json").read_text())
    config = json.loads((folder / "config_sentence_transformers.json").read_text())
    assert not any((config.get("prompts") or {}).values())  # sentence-transformers writes empty ones
    model = SimCSE.from_pretrained(folder, device="cpu")
    np.testing.assert_allclose(model.encode_query(QUERIES), model.encode(QUERIES), atol=1e-6)
