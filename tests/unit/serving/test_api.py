"""The JSON API answers what ``SimCSE`` computes: ``/v1/embeddings`` its ``encode`` (in OpenAI's shape),
``/similarity`` its ``similarity``, ``/search`` its ``search``; ``/info`` describes the models and the run's scores;
no page loads anything from elsewhere (no CDN; /docs from fastapi-offline); CORS is off unless asked for."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from serve_fixtures import CORPUS, LIMITS, RESULTS
from simcse_pl.inference import SimCSE
from simcse_pl.serving.app import STATIC, Batching, Server, create_app
from simcse_pl.serving.served_model import ServedModel

TEXTS = ["a man plays the guitar", "the cat sleeps", "a dog runs in the big park"]


@pytest.fixture(scope="module")
def reference(run_dir: Path) -> SimCSE:
    return SimCSE.from_pretrained(run_dir / "model")


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


def test_embeddings_equal_encode_in_openais_shape(client: TestClient, reference: SimCSE):
    answer = client.post("/v1/embeddings", json={"input": TEXTS, "model": "run"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["object"] == "list" and body["model"] == "run"
    assert [d["index"] for d in body["data"]] == [0, 1, 2] and {d["object"] for d in body["data"]} == {"embedding"}
    vectors = np.array([d["embedding"] for d in body["data"]], dtype=np.float32)
    assert cosine(vectors, reference.encode(TEXTS)).min() >= 0.99999
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > len(TEXTS)


def test_one_string_base64_and_dimensions(client: TestClient, reference: SimCSE):
    one = client.post("/v1/embeddings", json={"input": TEXTS[0], "encoding_format": "base64"}).json()["data"]
    assert len(one) == 1
    vector = np.frombuffer(base64.b64decode(one[0]["embedding"]), dtype="<f4")
    assert cosine(vector, reference.encode(TEXTS[0])) >= 0.99999
    cut = client.post("/v1/embeddings", json={"input": TEXTS, "dimensions": 8}).json()["data"]
    assert cosine(np.array([d["embedding"] for d in cut]), reference.encode(TEXTS, truncate_dim=8)).min() >= 0.99999


def test_similarity_equals_simcse(client: TestClient, reference: SimCSE):
    body = client.post("/similarity", json={"sentence": TEXTS[0], "candidates": TEXTS[1:]}).json()
    np.testing.assert_allclose(body["scores"], reference.similarity([TEXTS[0]], TEXTS[1:])[0], atol=1e-5)
    assert body["model"] == "run" and body["took_ms"] >= 0


@pytest.mark.parametrize("pasted", [False, True])
def test_search_equals_simcse(client: TestClient, reference: SimCSE, pasted: bool):
    reference.build_index(CORPUS)
    expected = reference.search("a dog plays", top_k=3)
    request = {"query": "a dog plays", "top_k": 3, **({"documents": CORPUS} if pasted else {})}
    body = client.post("/search", json=request).json()
    assert [(h["rank"], h["index"], h["text"]) for h in body["hits"]] == [
        (r, h.index, h.sentence) for r, h in enumerate(expected, 1)]
    np.testing.assert_allclose([h["score"] for h in body["hits"]], [h.score for h in expected], atol=1e-5)
    assert body["corpus_size"] == len(CORPUS) and body["took_ms"] >= 0


def test_the_compared_model_answers_by_name(client: TestClient):
    trained, untrained = (client.post("/similarity", json={"sentence": TEXTS[0], "candidates": TEXTS[1:], "model": m})
                          .json()["scores"] for m in ("run", "untrained"))
    assert not np.allclose(trained, untrained)


def test_info_health_and_docs(client: TestClient):
    info = client.get("/info").json()
    assert [m["id"] for m in info["models"]] == ["run", "untrained"] and info["default_model"] == "run"
    first = info["models"][0]
    assert (first["pooler"], first["dimensions"], first["prompts"], first["results"]) == ("cls", 32, {}, RESULTS)
    assert info["corpus_size"] == len(CORPUS) and info["limits"]["max_texts"] == LIMITS.max_texts
    assert client.get("/health").json() == {"status": "ok"}
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/embeddings", "/similarity", "/search", "/health", "/info"} <= set(paths)


LINKS = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']*)["']|url\(\s*["']?([^"')]*)|url:\s*["']([^"']*)["']""")


def test_no_page_the_server_sends_loads_anything_from_elsewhere(client: TestClient):
    """Every page (``/``, ``/docs`` …) and stylesheet names only this server's own paths: the machine
    may have no internet. The page's own files hold no URL at all; the docs' scripts come from fastapi-offline."""
    app = client.app
    pages = [r.path for r in app.routes if "GET" in getattr(r, "methods", ()) and "{" not in r.path]
    assert {"/", "/docs", "/openapi.json"} <= set(pages) and client.get("/redoc").status_code == 404
    for mount in (r for r in app.routes if isinstance(r, Mount)):
        pages += [f"{mount.path}/{p.name}" for p in Path(mount.app.directory).iterdir() if p.suffix in (".html", ".css")]
    for path in pages:
        answer = client.get(path)
        assert answer.status_code == 200, path
        links = [next(filter(None, m)) for m in LINKS.findall(answer.text)]
        elsewhere = [link for link in links if re.match(r"^([a-z][a-z0-9+.-]*:|//)", link, re.I)
                     and not link.startswith(("data:", "#"))]
        assert not elsewhere, (path, elsewhere)
    assert "/static-offline-docs/swagger-ui-bundle.js" in client.get("/docs").text
    for name in ("index.html", "playground.js", "playground.css"):
        text = (STATIC / name).read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, name
        assert client.get(f"/static/{name}").status_code == 200


def test_cors_is_off_unless_an_origin_is_given(client: TestClient, models: list[ServedModel]):
    asked = {"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options("/similarity", headers=asked).headers
    with TestClient(create_app(Server(models, [], LIMITS, Batching()), cors="http://elsewhere.example")) as open_:
        allowed = open_.options("/similarity", headers=asked).headers
        assert allowed["access-control-allow-origin"] == "http://elsewhere.example"
