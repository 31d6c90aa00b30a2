"""The playground in a real browser (headless Debian chromium driven by playwright), against ``simcse-serve`` on a
tiny run folder with ``--compare untrained`` and a ``--corpus`` file, started once: the two-sentence score is
``SimCSE.similarity`` to 4 decimals, a search's top 3 are ``SimCSE.search``'s, both models answer side by side
with rank changes marked, and the run's scores show; /docs renders with nothing loaded from elsewhere.
The OpenAI client gets ``SimCSE.encode``'s vectors from the same server, a body announced too large is refused
unread, scripts/benchmark_serve.py measures it (a few requests, 0 errors; no speed asserted), and SIGTERM stops it
within seconds. Screenshots go to the test's tmp folder.

Skipped only outside CI when /usr/bin/chromium is absent (``apt-get install chromium``); in CI (CI=true) that fails."""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from browser import playground, score_pair, search
from scripts_module import SCRIPTS
from serve_fixtures import CORPUS, tiny_run
from serve_process import free_port, start_server, stop
from simcse_pl.inference import SimCSE

SENTENCES = ("a man plays the guitar", "the woman eats a fish")
QUERY = "a dog plays in the park"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_run(tmp_path_factory.mktemp("serve") / "run")


@pytest.fixture(scope="module")
def server(run_dir: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    corpus = run_dir.parent / "corpus.txt"
    corpus.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    port = free_port()
    process = start_server([str(run_dir), "--compare", "untrained", "--corpus", str(corpus)], port)
    yield f"http://127.0.0.1:{port}", process
    stop(process)


@pytest.fixture(scope="module")
def reference(run_dir: Path) -> SimCSE:
    return SimCSE.from_pretrained(run_dir / "model")


@pytest.fixture(scope="module")
def page(server: tuple[str, Any]) -> Iterator[Any]:
    with playground(server[0]) as tab:
        yield tab


def test_two_sentences_score_as_simcse(page: Any, reference: SimCSE, tmp_path: Path):
    assert score_pair(page, *SENTENCES) == f"{reference.similarity(*SENTENCES):.4f}"
    assert page.locator('#pair-out .column[data-model="untrained"] .pair-score').count() == 1
    page.screenshot(path=str(tmp_path / "similarity.png"), full_page=True)


def test_search_shows_simcses_top3_beside_the_untrained_model(page: Any, reference: SimCSE, tmp_path: Path):
    shown = search(page, QUERY, 3)
    reference.build_index(CORPUS)
    expected = [hit.sentence for hit in reference.search(QUERY, top_k=3)]
    assert shown == expected
    assert page.locator("#search-out .column").count() == 2
    assert page.locator("#search-out .rank").count() == 6  # every hit marked against the other model
    assert "ms over 8 documents" in page.inner_text('#search-out .column[data-model="run"] .meta')
    assert "58.25" in page.inner_text("#scores") and page.is_visible("#card")
    page.screenshot(path=str(tmp_path / "playground.png"), full_page=True)


def test_the_api_docs_render_with_nothing_loaded_from_elsewhere(page: Any, server: tuple[str, Any], tmp_path: Path):
    """/docs (Swagger UI) draws the API from this server's own files: the machine may have no internet. (/redoc is
    off: ReDoc loads its logo from its vendor's site.)"""
    tab = page.context.browser.new_page()
    loaded: list[str] = []
    tab.on("request", lambda request: loaded.append(request.url))
    tab.goto(server[0] + "/docs")
    tab.wait_for_selector(".opblock-summary-path")
    assert "/v1/embeddings" in tab.inner_text("body")
    tab.screenshot(path=str(tmp_path / "docs.png"))
    tab.close()
    assert server[0] + "/openapi.json" in loaded  # Swagger UI read the API from here
    elsewhere = [url for url in loaded if not url.startswith((server[0] + "/", "data:", "blob:"))]
    assert loaded and not elsewhere, elsewhere


def test_a_body_announced_too_large_is_refused_before_it_is_sent(server: tuple[str, Any]):
    """A client that announces a terabyte gets the 413 at once: the server neither waits for nor reads the body."""
    host, port = server[0].removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           b"Content-Length: 1000000000000\r\n\r\n")
        answer = http.client.HTTPResponse(connection)
        answer.begin()
        detail = json.loads(answer.read())["detail"]
    assert answer.status == 413
    assert detail == "body: 1,000,000,000,000 bytes, more than the limit of 6,209,536 bytes (--max-body-bytes)"


def test_the_openai_client_gets_simcses_vectors(server: tuple[str, Any], reference: SimCSE):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{server[0]}/v1", api_key="not-checked")
    answer = client.embeddings.create(model="run", input=list(SENTENCES))
    vectors = np.array([d.embedding for d in answer.data])
    expected = reference.encode(list(SENTENCES))
    cosine = (vectors * expected).sum(-1) / np.linalg.norm(vectors, axis=-1) / np.linalg.norm(expected, axis=-1)
    assert cosine.min() >= 0.99999 and answer.usage.total_tokens > 0 and answer.model == "run"


def test_the_benchmark_script_measures_it(server: tuple[str, Any]):
    """In its own process: the browser's event loop (playwright) runs in this one."""
    port = server[0].rsplit(":", 1)[1]
    done = subprocess.run([sys.executable, str(SCRIPTS / "benchmark_serve.py"), "--port", port, "--requests", "30",
                           "--clients", "1", "4"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for clients in (1, 4):
        assert re.search(rf"^running +{clients} +30 +0 +(\d+\.\d +){{3}}\d+\.\d +\d+\.\d +\d+\.\d\d$", out, re.M), out


def test_sigterm_stops_the_server_within_seconds(server: tuple[str, subprocess.Popen[str]]):
    """uvicorn shuts down cleanly, then re-raises the signal so the exit status says what ended it."""
    process = server[1]
    start = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == -signal.SIGTERM
    assert time.monotonic() - start < 10
    assert "Traceback" not in process.stdout.read()
