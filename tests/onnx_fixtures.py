"""The tiny export the ONNX tests run on (tests/unit/test_onnx.py, tests/integration/test_benchmark_inference.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from simcse_pl.export.writer import export_model
from simcse_pl.losses import InfoNCE
from simcse_pl.training.module import SimCSEModule

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
        "max_position_embeddings": 128, "initializer_range": 0.2}


def export_tiny(out: Path, pooler: str = "cls", prompt: dict[str, Any] | None = None) -> Path:
    """A tiny random BERT exported as training writes it; for ``cls`` the MLP head is kept and made to matter (a
    fresh one is close to the identity in cosine terms)."""
    torch.manual_seed(0)
    model = {"name_or_path": None, "random_init": TINY, "pooler": pooler, "mlp_only_train": False, "prompt": prompt}
    module = SimCSEModule(model=model, loss=InfoNCE()).eval()
    if module.pooler.mlp is not None:
        torch.nn.init.normal_(module.pooler.mlp.dense.weight, std=0.5)
    export_model(module.sentence_encoder, str(out))
    return out
