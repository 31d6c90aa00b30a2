"""Issue 24, friction 6: outside train.py the tools printed the libraries' chatter, each line on every use:
torch.onnx's torchvision lines, its axis-name UserWarnings and ONNX Runtime's quantization advice on an ONNX export;
transformers' "Loading weights" / "Writing model shards" bars on every load and export; a FutureWarning of
transformers 5 on a decoder with gradient checkpointing (and LoRA). Each is silenced at its source, for that call
only; the benchmark's Lightning lines are in tests/integration/test_benchmark.py."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from onnx_fixtures import export_tiny
from simcse_pl.config import CONF_DIR
from simcse_pl.encoders.backbone import load_encoder
from simcse_pl.inference import SimCSE

CHATTER = ("torchvision", "The axis name", "pre-processing before quantization", "Loading weights",
           "Writing model shards")


def chatter(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(c in line for c in CHATTER)]


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    return export_tiny(tmp_path / "model", pooler="avg")


def test_export_and_load_print_no_bars(tmp_path: Path, capfd: pytest.CaptureFixture):
    out = export_tiny(tmp_path / "model", pooler="avg")
    SimCSE.from_pretrained(out, device="cpu").encode(["a cat"])
    assert chatter(capfd.readouterr().err) == []


def test_the_bars_are_back_after_the_load(exported: Path):
    """Scoped: the user's own transformers / huggingface_hub bar settings are as they were."""
    from huggingface_hub.utils import are_progress_bars_disabled
    from transformers.utils import logging as hf_logging

    before = (hf_logging.is_progress_bar_enabled(), are_progress_bars_disabled())
    SimCSE.from_pretrained(exported, device="cpu")
    assert (hf_logging.is_progress_bar_enabled(), are_progress_bars_disabled()) == before


def test_onnx_export_prints_its_result_only(exported: Path, capfd: pytest.CaptureFixture,
                                            caplog: pytest.LogCaptureFixture):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from simcse_pl.export.onnx import export_onnx

    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        export_onnx(exported)
    assert chatter(capfd.readouterr().err) == []
    assert chatter("\n".join(str(w.message) for w in caught)) == []
    assert chatter("\n".join(r.getMessage() for r in caplog.records)) == []


def test_the_quantizer_advice_is_dropped_for_its_call_only(caplog: pytest.LogCaptureFixture):
    from simcse_pl.console import chatter_muted
    from simcse_pl.export.onnx import QUANTIZER_CHATTER

    with chatter_muted(**QUANTIZER_CHATTER):
        logging.warning("Please consider to run pre-processing before quantization. Refer to example: ...")
        logging.warning("a warning that matters")
    logging.warning("Please consider to run pre-processing before quantization, later")
    assert [r.getMessage() for r in caplog.records] == [
        "a warning that matters", "Please consider to run pre-processing before quantization, later"]


def test_a_decoder_with_checkpointing_and_lora_warns_nothing():
    tiny_llama = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "model" / "tiny-llama.yaml"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_encoder(**{**tiny_llama, "gradient_checkpointing": True, "lora": {"r": 4}})
    assert [f"{w.category.__name__}: {w.message}" for w in caught if issubclass(w.category, FutureWarning)] == []
