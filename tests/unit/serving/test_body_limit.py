"""A request body over ``Limits.max_body_bytes`` is a 413 with one line naming the limit, and is never read to
its end: one that announces its size is refused before any of it is read, one sent in chunks without a size is cut
off just past the limit (the test feeds an endless body). A body the text limits allow still fits."""

from __future__ import annotations

import asyncio
import json

from fastapi.testclient import TestClient

from serve_fixtures import LIMITS
from simcse_pl.serving.limits import Limits, body_bytes_for

CHUNK = 4096


def test_the_default_cap_is_sized_to_the_text_limits():
    assert Limits().max_body_bytes == body_bytes_for(256, 4000) == 256 * 4000 * 6 + 64 * 1024
    assert LIMITS.max_body_bytes == body_bytes_for(LIMITS.max_texts, LIMITS.max_chars)
    assert Limits(max_body_bytes=1000).max_body_bytes == 1000


def test_the_largest_request_the_text_limits_allow_fits(client: TestClient):
    """Every character escaped (``json.dumps``'s default ``ensure_ascii``): 6 bytes a character."""
    texts = ["é" * LIMITS.max_chars] * LIMITS.max_texts
    body = json.dumps({"input": texts})
    assert len(body) > LIMITS.max_texts * LIMITS.max_chars * 6
    answer = client.post("/v1/embeddings", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["data"]) == LIMITS.max_texts


def test_an_announced_oversized_body_is_refused_in_one_line(client: TestClient):
    body = json.dumps({"input": ["x" * LIMITS.max_chars] * 500})
    for path in ("/v1/embeddings", "/similarity", "/search"):
        answer = client.post(path, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 413, answer.text
        assert answer.json() == {"detail": f"body: {len(body):,} bytes, more than the limit of "
                                           f"{LIMITS.max_body_bytes:,} bytes (--max-body-bytes)"}


def send_endless_body(app, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict, int]:
    """POST /v1/embeddings with a body that never ends: (status, answer, bytes the app pulled)."""
    pulled = 0
    messages: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled
        pulled += CHUNK
        assert pulled < 100 * LIMITS.max_body_bytes, "the server keeps reading an oversized body"
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": True}

    async def send(message: dict) -> None:
        messages.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/embeddings", "raw_path": b"/v1/embeddings", "root_path": "", "query_string": b"",
             "headers": [(b"content-type", b"application/json"), *headers], "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 80)}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], json.loads(body), pulled


def test_a_chunked_body_is_cut_off_just_past_the_limit(client: TestClient):
    status, answer, pulled = send_endless_body(client.app, [(b"transfer-encoding", b"chunked")])
    assert status == 413
    assert answer == {"detail": f"body: more bytes than allowed, more than the limit of "
                                f"{LIMITS.max_body_bytes:,} bytes (--max-body-bytes)"}
    assert LIMITS.max_body_bytes < pulled <= LIMITS.max_body_bytes + CHUNK


def test_a_body_announced_too_large_is_not_read_at_all(client: TestClient):
    size = str(LIMITS.max_body_bytes + 1).encode()
    status, answer, pulled = send_endless_body(client.app, [(b"content-length", size)])
    assert status == 413 and pulled == 0
    assert answer["detail"].startswith(f"body: {LIMITS.max_body_bytes + 1:,} bytes, more than the limit")
