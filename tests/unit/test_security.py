"""Loading never runs code from a file or the hub unless the config says so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from simcse_pl import encoder

REPO = Path(__file__).resolve().parents[2]


def test_every_torch_load_is_weights_only():
    calls = []
    for path in [*REPO.glob("simcse_pl/*.py"), *REPO.glob("scripts/*.py"), REPO / "train.py"]:
        text = path.read_text(encoding="utf-8")
        calls += [(path.name, m.group(0)) for m in re.finditer(r"torch\.load\((?:[^()]|\([^()]*\))*\)", text)]
    assert calls, "no torch.load call found: the pattern is stale"
    unsafe = [call for call in calls if "weights_only=True" not in call[1]]
    assert not unsafe, f"torch.load without weights_only=True: {unsafe}"


def test_model_configs_do_not_trust_remote_code():
    for path in sorted((REPO / "conf" / "model").glob("*.yaml")):
        assert yaml.safe_load(path.read_text())["trust_remote_code"] is False, path.name


@pytest.mark.parametrize("load", [encoder.load_encoder, encoder.load_tokenizer])
@pytest.mark.parametrize("configured", [None, True])
def test_trust_remote_code_reaches_the_hub_loader_only_when_configured(tmp_path: Path, monkeypatch, load, configured):
    seen = {}

    class Factory:
        @staticmethod
        def from_pretrained(source, **kwargs):
            seen.update(kwargs)
            raise OSError("stop here")

    monkeypatch.setattr(encoder, "AutoModel", Factory)
    monkeypatch.setattr(encoder, "AutoTokenizer", Factory)
    kwargs = {} if configured is None else {"trust_remote_code": configured}
    with pytest.raises(encoder.ModelLoadError):
        load(str(tmp_path), **kwargs)
    assert seen == {"trust_remote_code": bool(configured)}
