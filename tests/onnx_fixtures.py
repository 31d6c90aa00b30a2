"""The tiny export the ONNX tests run on (tests/unit/export/test_onnx.py, tests/integration/test_benchmark_inference.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from simcse_pl.export.writer import export_model
from simcse_pl.losses import InfoNCE
from simcse_pl.training.module import SimCSEModule
from tiny_model import WIDE_INIT_BERT as TINY



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
