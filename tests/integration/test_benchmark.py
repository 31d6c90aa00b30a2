"""scripts/benchmark.py runs end to end and ends with its ratio line (a smoke test: no timing is asserted)."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from scripts_module import load_script

REPO = Path(__file__).resolve().parents[2]


def test_benchmark_prints_the_table_and_ratio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    (tmp_path / "wiki").mkdir()
    lines = [f"sentence number {i} of a small wiki sample ." for i in range(200)]
    (tmp_path / "wiki" / "wiki1m_head11914.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("SIMCSE_DATA_DIR", str(tmp_path))
    benchmark = load_script("benchmark")

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a busy machine makes multi-threaded tiny steps slow; speed is not tested here
    try:
        benchmark.main(["model=tiny", "batch_size=16", "steps=3", "warmup=1", "data_batches=4", "num_workers=1"])
    finally:
        torch.set_num_threads(threads)

    out = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"ratio: \d+\.\d\d", out[-1])
    table = "\n".join(out)
    for row in ("simcse-pl (Trainer)", "plain PyTorch loop", "dataloader alone"):
        assert re.search(rf"^{re.escape(row)} .*\d", table, re.M), table


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def lightning_lines() -> Iterator[list[str]]:
    """What Lightning's loggers say during the test, from their level in a fresh process (INFO) on."""
    logger = logging.getLogger("lightning.pytorch")
    level, handler = logger.level, Records()
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_benchmark_takes_config_overrides_lora_on_a_decoder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys,
                                                            lightning_lines: list[str]):
    """The decoder + LoRA + gradient checkpointing path the GPU benchmark of a 1B shape uses, on the tiny Llama;
    without Lightning's GPU/TPU lines and litlogger tip, or transformers' FutureWarnings (issue 24, friction 6)."""
    monkeypatch.setenv("SIMCSE_DATA_DIR", str(tmp_path))  # no wiki sample: the dataloader row is skipped
    benchmark = load_script("benchmark")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        benchmark.main(["model=tiny-llama", "model.lora.r=8", "model.gradient_checkpointing=true", "batch_size=8",
                        "steps=2", "warmup=1"])
    assert [m for m in lightning_lines if "GPU available" in m or "litlogger" in m] == []
    assert [str(w.message) for w in caught if issubclass(w.category, FutureWarning)] == []
    out = capsys.readouterr().out
    params, trained = map(float, re.search(r"\(([\d.]+)M params, ([\d.]+)M trained\)", out).groups())
    assert 0 < trained < params / 2  # only the adapters train
    assert "model.lora.r=8 model.gradient_checkpointing=true" in out
    assert re.search(r"^ratio: \d+\.\d\d$", out, re.M)


def test_the_1b_decoder_shape_has_1b_parameters():
    from hydra import compose, initialize_config_dir
    from transformers import AutoConfig, AutoModel

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        shape = dict(compose("train", overrides=["model=llama-1b-shape"]).model.random_init)
    with torch.device("meta"):
        model = AutoModel.from_config(AutoConfig.for_model(shape.pop("model_type"), **shape))
    assert round(sum(p.numel() for p in model.parameters()) / 1e9, 2) == 1.24
