"""Loading never runs code from a file or the hub unless the config (training) or the caller (inference) says so;
a checkpoint cannot say so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from simcse_pl.encoders import backbone as encoder
from simcse_pl.export import saved_model
from simcse_pl.cli.evaluate import eval_main
from simcse_pl.config import compose_config
from simcse_pl.inference import SimCSE
from simcse_pl.losses import InfoNCE
from simcse_pl.training.module import SimCSEModule
from tiny_model import TINY_MODEL

REPO = Path(__file__).resolve().parents[2]


def test_every_torch_load_is_weights_only():
    calls = []
    for path in [*REPO.glob("simcse_pl/**/*.py"), *REPO.glob("scripts/*.py"), REPO / "train.py"]:
        text = path.read_text(encoding="utf-8")
        calls += [(path.name, m.group(0)) for m in re.finditer(r"torch\.load\((?:[^()]|\([^()]*\))*\)", text)]
    assert calls, "no torch.load call found: the pattern is stale"
    unsafe = [call for call in calls if "weights_only=True" not in call[1]]
    assert not unsafe, f"torch.load without weights_only=True: {unsafe}"


@pytest.mark.parametrize("model", sorted(p.stem for p in (REPO / "conf" / "model").glob("*.yaml")))
def test_model_configs_do_not_trust_remote_code(model: str):
    assert compose_config(f"model={model}").model.trust_remote_code is False


@pytest.fixture
def hub_loader(monkeypatch) -> dict:
    """Stands in for transformers' Auto* loaders: records the keyword arguments, then fails as a missing model."""
    seen: dict = {}

    class Factory:
        @staticmethod
        def from_pretrained(source, **kwargs):
            seen.update(kwargs)
            raise OSError("stop here")

    monkeypatch.setattr(encoder, "AutoModel", Factory)
    monkeypatch.setattr(encoder, "AutoTokenizer", Factory)
    return seen


@pytest.mark.parametrize("load", [encoder.load_encoder, encoder.load_tokenizer])
@pytest.mark.parametrize("configured", [None, True])
def test_trust_remote_code_reaches_the_hub_loader_only_when_configured(tmp_path: Path, hub_loader, load, configured):
    kwargs = {} if configured is None else {"trust_remote_code": configured}
    with pytest.raises(encoder.ModelLoadError):
        load(str(tmp_path), **kwargs)
    assert hub_loader == {"trust_remote_code": bool(configured)}


@pytest.fixture
def crafted_checkpoint(tmp_path: Path) -> Path:
    """A SimCSEModule checkpoint whose saved settings ask for remote code: it passes weights_only loading."""
    module = SimCSEModule(model=TINY_MODEL, loss=InfoNCE())
    path = tmp_path / "crafted.ckpt"
    model = {**TINY_MODEL, "trust_remote_code": True}
    torch.save({"state_dict": module.state_dict(), "global_step": 3, "hyper_parameters": {"model": model}}, path)
    return path


def test_a_checkpoint_cannot_switch_on_remote_code(crafted_checkpoint: Path, monkeypatch):
    calls = []
    real = saved_model.load_encoder
    monkeypatch.setattr(saved_model, "load_encoder", lambda *a, **k: calls.append(k) or real(*a, **k))
    with pytest.raises(encoder.ModelLoadError) as exc:
        SimCSE.from_pretrained(crafted_checkpoint, device="cpu")
    assert str(exc.value) == (
        f"{crafted_checkpoint}: trained with model.trust_remote_code=true, so loading it runs the Python code of "
        "None; if you trust that code, pass trust_remote_code=True (simcse-eval / simcse-encode: --trust-remote-code)"
    )
    assert calls == []  # refused before any model code is looked up


def test_the_caller_can_allow_remote_code_for_a_checkpoint(crafted_checkpoint: Path, monkeypatch):
    calls = []
    real = saved_model.load_encoder
    monkeypatch.setattr(saved_model, "load_encoder", lambda *a, **k: calls.append(k) or real(*a, **k))
    SimCSE.from_pretrained(crafted_checkpoint, device="cpu", trust_remote_code=True)
    assert calls[0]["trust_remote_code"] is True


def write_stsb_test(data: Path) -> None:
    (data / "stsb").mkdir(parents=True)
    (data / "stsb" / "sts-test.csv").write_text("g\tg\tg\t0\t1.0\ta b\tc d\n")


def test_simcse_eval_names_the_flag_for_such_a_checkpoint(crafted_checkpoint: Path, tmp_path: Path, capsys):
    write_stsb_test(tmp_path / "data")
    assert eval_main([str(crafted_checkpoint), "--tasks", "stsb", "--data-dir", str(tmp_path / "data")]) == 2
    assert "--trust-remote-code" in capsys.readouterr().err.splitlines()[-1]


@pytest.mark.parametrize("flag", [[], ["--trust-remote-code"]])
def test_remote_code_for_a_model_folder_only_when_the_caller_asks(tmp_path: Path, hub_loader, flag):
    write_stsb_test(tmp_path)
    assert eval_main([str(tmp_path), "--tasks", "stsb", "--data-dir", str(tmp_path), *flag]) == 2
    assert hub_loader == {"trust_remote_code": bool(flag)}
