"""One tiny run folder and one app client per module: building the model is most of each test's time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from serve_fixtures import CORPUS, LIMITS, tiny_run  # noqa: E402
from simcse_pl.serving.app import Batching, Server, create_app  # noqa: E402
from simcse_pl.serving.served_model import ServedModel, load_model, load_untrained  # noqa: E402


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_run(tmp_path_factory.mktemp("runs") / "run")


@pytest.fixture(scope="session")
def models(run_dir: Path) -> list[ServedModel]:
    """The run's export, then its untrained model (``--compare untrained``)."""
    return [load_model(str(run_dir)), load_untrained(str(run_dir))]


@pytest.fixture(scope="module")
def client(models: list[ServedModel]) -> Iterator[TestClient]:
    """Both models, the small corpus and tight limits."""
    with TestClient(create_app(Server(models, CORPUS, LIMITS, Batching()))) as test_client:
        yield test_client
