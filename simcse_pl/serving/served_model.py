"""What ``simcse-serve MODEL`` loads and what ``/info`` says about it.

MODEL is anything ``SimCSE.from_pretrained`` loads (an export, a checkpoint, a sentence-transformers or Hugging Face
folder or id, an ONNX export with ``backend="onnx"``), or a run folder (``train.py``'s output: ``model/`` beside
``run_info.json``), whose export is served with the run's ``results.json`` scores. ``untrained`` (for
``--compare``) is the run's starting model: ``model.name_or_path`` of its config, or for a random-init run the
random model its seed rebuilds."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simcse_pl.encoders.sentence_encoder import SentenceEncoder
from simcse_pl.errors import ModelLoadError
from simcse_pl.inference import SimCSE
from simcse_pl.serving.prompts import read_prompts

UNTRAINED = "untrained"
RUN_FILES = ("run_info.json", ".hydra/config.yaml")


@dataclass
class ServedModel:
    """A loaded model with its name in requests (``id``), where it came from, its prompts and its run's scores."""

    id: str
    model: SimCSE
    source: str
    prompts: dict[str, str] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)

    def encode(self, texts: list[str], pass_size: int = 32) -> np.ndarray:
        """The vectors ``SimCSE.encode`` gives (the batcher calls this with many requests' texts at once), in
        forward passes of ``pass_size`` texts of similar length: ``encode`` sorts the texts by token count, so a
        pass pads to nearly nothing. One pass over a whole batch would pad every text to the batch's longest, and
        on a CPU a padded token costs what a real one does."""
        return self.model.encode(texts, batch_size=pass_size)

    def count_tokens(self, texts: list[str]) -> int:
        """Tokens the model reads for ``texts`` (special tokens included, after truncation): ``usage``."""
        ids = self.model.tokenizer(texts, truncation=True, max_length=self.model.max_length)["input_ids"]
        return sum(len(row) for row in ids)

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id, "source": self.source, "pooler": self.model.pooler.kind,
            "dimensions": self.model.truncate_dim or self.model.dimension, "max_length": self.model.max_length,
            "normalized": self.model.normalize, "prompts": self.prompts, "results": self.results,
        }


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in RUN_FILES)


def run_folder_of(path: Path) -> Path | None:
    """The run a model belongs to: the folder itself, or the run around its ``model/`` export or checkpoint."""
    for candidate in (path, path.parent, path.parent.parent):
        if is_run_folder(candidate):
            return candidate
    return None


def read_results(run_dir: Path | None) -> dict[str, Any]:
    """The run's ``results.json`` (``before``, ``best``, ``test`` scores and the ``metric``); empty when none."""
    path = run_dir / "results.json" if run_dir is not None else None
    if path is None or not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def load_model(source: str, model_id: str | None = None, **load: Any) -> ServedModel:
    """MODEL as served; ``load``: ``SimCSE.from_pretrained``'s options (backend, device, trust_remote_code …)."""
    path = Path(source)
    run_dir = run_folder_of(path) if path.exists() else None
    target = path
    if run_dir is not None and path == run_dir:
        target = path / "model"
        if not target.is_dir():
            raise ModelLoadError(f"{path}: a run folder without model/ (export it first: simcse-export {path})")
    model = SimCSE.from_pretrained(str(target), **load)
    name = model_id or (run_dir.name if run_dir is not None else path.name or source)
    return ServedModel(name, model, source, read_prompts(target), read_results(run_dir))


def run_model_config(run_dir: Path) -> dict[str, Any]:
    """``model.*`` and ``seed`` of the run's resolved config (``run_info.json``, else ``.hydra/config.yaml``)."""
    info = run_dir / "run_info.json"
    if info.is_file():
        config = json.loads(info.read_text(encoding="utf-8")).get("config") or {}
    else:
        from omegaconf import OmegaConf

        config = OmegaConf.to_container(OmegaConf.load(run_dir / ".hydra" / "config.yaml"), resolve=True)
    if not isinstance(config.get("model"), dict):
        raise ModelLoadError(f"{run_dir}: its config names no model, so the untrained model is unknown")
    return {"model": config["model"], "seed": int(config.get("seed") or 0)}


def load_untrained(run_source: str, trust_remote_code: bool = False, device: str | None = None) -> ServedModel:
    """The run's starting model: its base model with the run's pooler and prompt (a fresh MLP head is dropped at
    inference when the run trained it only), or its random init rebuilt from the run's seed. Remote code runs
    only when the command line allows it, whatever the run's config says."""
    run_dir = run_folder_of(Path(run_source))
    if run_dir is None:
        raise ModelLoadError(f"--compare {UNTRAINED}: {run_source} is not (inside) a run folder with run_info.json")
    config = run_model_config(run_dir)
    model = {**config["model"], "trust_remote_code": trust_remote_code, "compile": False}
    torch.manual_seed(config["seed"])
    encoder = SentenceEncoder.from_config(model)
    served = SimCSE(encoder, device)
    return ServedModel(UNTRAINED, served, f"{model.get('name_or_path') or 'random init'} (seed {config['seed']})")
