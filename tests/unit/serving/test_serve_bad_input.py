"""Every endpoint refuses bad input with a 4xx whose ``detail`` is one line saying what is wrong: wrong types,
empty lists, too many texts, too long a text, bad JSON, unknown fields, models or prompts. Never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from serve_fixtures import LIMITS
from simcse_pl.serving.app import Batching, Server, create_app
from simcse_pl.serving.served_model import ServedModel

LONG = "x" * (LIMITS.max_chars + 1)
MANY = ["x"] * (LIMITS.max_texts + 1)

BAD = {
    "/v1/embeddings": [
        ({}, 422, "input: Field required"),
        ({"input": []}, 422, "input: List should have at least 1 item"),
        ({"input": ""}, 422, "input: String should have at least 1 character"),
        ({"input": 3}, 422, "input: Input should be a valid string"),
        ({"input": ["ok", 3]}, 422, "input[1]: Input should be a valid string"),
        ({"input": [[1, 2, 3]]}, 422, "input[0]: Input should be a valid string"),
        ({"input": MANY}, 413, f"input: {len(MANY)} texts, more than the limit of {LIMITS.max_texts}"),
        ({"input": ["ok", LONG]}, 413, f"input[1]: {len(LONG)} characters, more than the limit of {LIMITS.max_chars}"),
        ({"input": "ok", "encoding_format": "int8"}, 422, "encoding_format: Input should be 'float' or 'base64'"),
        ({"input": "ok", "dimensions": 0}, 422, "dimensions: Input should be greater than 0"),
        ({"input": "ok", "dimensions": 33}, 422, "dimensions=33: larger than the model's 32-dimensional vectors"),
        ({"input": "ok", "model": "gpt-4"}, 422, "model='gpt-4': not loaded here (loaded: run, untrained)"),
        ({"input": "ok", "prompt_name": "query"}, 422, "prompt_name='query': this model has no prompts"),
    ],
    "/similarity": [
        ({"sentence": "ok"}, 422, "candidates: Field required"),
        ({"sentence": "ok", "candidates": []}, 422, "candidates: List should have at least 1 item"),
        ({"sentence": 1, "candidates": ["ok"]}, 422, "sentence: Input should be a valid string"),
        ({"sentence": "ok", "candidates": "ok"}, 422, "candidates: Input should be a valid list"),
        ({"sentence": "ok", "candidates": MANY}, 413, "candidates: "),
        ({"sentence": LONG, "candidates": ["ok"]}, 413, "candidates[0]: "),
        ({"sentence": "ok", "candidates": ["ok"], "path": "/etc/passwd"}, 422, "path: Extra inputs are not permitted"),
    ],
    "/search": [
        ({"top_k": 3}, 422, "query: Field required"),
        ({"query": "ok", "top_k": "3"}, 422, "top_k: Input should be a valid integer"),
        ({"query": "ok", "top_k": 0}, 422, "top_k: Input should be greater than 0"),
        ({"query": "ok", "top_k": LIMITS.max_top_k + 1}, 413, "top_k: "),
        ({"query": "ok", "documents": []}, 422, "documents: List should have at least 1 item"),
        ({"query": "ok", "documents": ["x"] * (LIMITS.max_corpus + 1)}, 413, "documents: "),
        ({"query": LONG}, 413, "query[0]: "),
        ({"query": "ok", "document_prompt_name": "passage"}, 422, "prompt_name='passage': this model has no prompts"),
        ({"query": "ok", "corpus_file": "/etc/passwd"}, 422, "corpus_file: Extra inputs are not permitted"),
    ],
}


@pytest.mark.parametrize(("path", "body", "status", "detail"),
                         [(path, *case) for path, cases in BAD.items() for case in cases])
def test_bad_input_is_a_4xx_with_one_line(client: TestClient, path: str, body: dict, status: int, detail: str):
    answer = client.post(path, json=body)
    assert answer.status_code == status, answer.text
    line = answer.json()["detail"]
    assert isinstance(line, str) and "\n" not in line and line.startswith(detail), line


@pytest.mark.parametrize("path", sorted(BAD))
@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b'"text"'])
def test_bad_json_is_a_422(client: TestClient, path: str, raw: bytes):
    answer = client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert isinstance(answer.json()["detail"], str) and "\n" not in answer.json()["detail"]


def test_a_search_with_nothing_to_search_is_a_422(models: list[ServedModel]):
    with TestClient(create_app(Server(models, [], LIMITS, Batching()))) as bare:
        answer = bare.post("/search", json={"query": "ok"})
    assert answer.status_code == 422 and answer.json()["detail"].startswith("documents: none given")
