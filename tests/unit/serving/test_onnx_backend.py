"""``simcse-serve MODEL --backend onnx``: an export's ONNX file serves the vectors the torch export gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from onnx_fixtures import export_tiny
from serve_fixtures import LIMITS
from simcse_pl.inference import SimCSE
from simcse_pl.serving.app import Batching, Server, create_app
from simcse_pl.serving.served_model import load_model

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
from simcse_pl.export.onnx import export_onnx  # noqa: E402


def test_the_onnx_backend_serves_the_exports_vectors(tmp_path: Path):
    folder = export_tiny(tmp_path / "model", pooler="avg")
    export_onnx(folder, quantize=False)
    served = load_model(str(folder), backend="onnx")
    with TestClient(create_app(Server([served], [], LIMITS, Batching()))) as client:
        body = client.post("/v1/embeddings", json={"input": ["a dog runs", "the cat"]}).json()
    vectors = np.array([d["embedding"] for d in body["data"]])
    expected = SimCSE.from_pretrained(folder).encode(["a dog runs", "the cat"])
    cosine = (vectors * expected).sum(-1) / np.linalg.norm(vectors, axis=-1) / np.linalg.norm(expected, axis=-1)
    assert cosine.min() >= 0.9999
