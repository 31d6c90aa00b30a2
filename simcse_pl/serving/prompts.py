"""The named prompts a model offers per request (``prompt_name``): sentence-transformers' ``prompts`` of
``config_sentence_transformers.json`` (e.g. ``{"query": "query: ", "document": "passage: "}``), prefixed to each
text as sentence-transformers does.

A simcse-pl export has none to choose: its prompt template (``simcse_pl.json``) is part of the model and applied on
every text by the encoder itself, so its sentence-transformers ``default`` prompt is not offered again (it would be
applied twice)."""

from __future__ import annotations

import json
from pathlib import Path

from simcse_pl.export.layout import CONFIG_NAME

ST_CONFIG = "config_sentence_transformers.json"


class UnknownPrompt(ValueError):
    """A request named a prompt the model does not have (answered 422)."""


def read_prompts(folder: str | Path) -> dict[str, str]:
    """``name -> prefix`` of a sentence-transformers folder; empty for a simcse-pl export or any other model."""
    folder = Path(folder)
    config = folder / ST_CONFIG
    if not folder.is_dir() or (folder / CONFIG_NAME).is_file() or not config.is_file():
        return {}
    prompts = json.loads(config.read_text(encoding="utf-8")).get("prompts") or {}
    return {str(k): str(v) for k, v in prompts.items() if isinstance(v, str) and v}


def apply_prompt(prompts: dict[str, str], name: str | None, texts: list[str]) -> list[str]:
    """``texts`` with the prompt ``name`` in front (unchanged for None); a name the model lacks is refused."""
    if name is None:
        return texts
    if not prompts:
        raise UnknownPrompt(f"prompt_name={name!r}: this model has no prompts")
    if name not in prompts:
        raise UnknownPrompt(f"prompt_name={name!r}: not one of this model's prompts ({', '.join(sorted(prompts))})")
    return [prompts[name] + text for text in texts]
