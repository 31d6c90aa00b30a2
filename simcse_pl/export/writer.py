"""Save a trained encoder as a Hugging Face model directory that is also, when it can be, a sentence-transformers
model.

``AutoModel.from_pretrained(dir)`` loads the backbone (with LoRA: the adapters merged into its weights; a
bidirectional decoder keeps ``is_causal: false`` in config.json, which transformers honours); ``AutoTokenizer``
its tokenizer as trained (a decoder's appends EOS, pads on the trained side). ``simcse_pl.json`` records the pooler
by name, its prompt template and whether its MLP head is used at inference (the head's weights:
``pooler.safetensors``); ``SimCSE.from_pretrained(dir)`` rebuilds exactly the training model's eval-mode vectors.

``SentenceTransformer(dir)``: written when the pooler has a sentence-transformers equivalent (its class says which:
``Pooling`` mean / cls / lasttoken, plus a tanh ``Dense`` layer for a kept [CLS] head) and the prompt, if any, is a
prefix that tokenizes the same joined to the sentence (a sentence-transformers ``prompts`` entry, the default);
the roles of a retriever (``model.prompts``) become its ``query`` / ``document`` prompts;
otherwise the folder is Hugging Face + simcse_pl.json only, and ``simcse_pl.json``'s ``sentence_transformers`` says
why (also logged); its ``modules.json`` then names one module whose type is that explanation
(``layout.st_refusal_modules``), so that ``SentenceTransformer(dir)`` fails saying to load it with
``SimCSE.from_pretrained`` instead of silently mean-pooling the backbone into other vectors. With LoRA, ``adapter/`` holds the adapter alone (peft format: ``PeftModel.from_pretrained(base,
dir/adapter)``).

A model trained with ``loss=matryoshka`` (``export_model(..., objective=module.objective)``) also records the
sizes it was trained to be cut to: ``"matryoshka_dims"`` in ``simcse_pl.json`` (``SimCSE.trained_dims``), which
the model card shows with ``SentenceTransformer(dir, truncate_dim=k)``. The weights are the full model:
truncation happens at load time.

README.md is simcse-pl's model card (simcse_pl/export/model_card.py), written in place of sentence-transformers'
own, which knows neither the pooler's transformers code nor the run: ``train.py`` and ``simcse-export`` write it
once, with the run's data, objective and results.

The folder is written whole or not at all (``staged_folder``, simcse_pl/export/staging.py): a stop signal, a full
or read-only disk never leaves a half-written ``model/`` nor mixes a new export with an old one's files.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from safetensors.torch import save_file
from torch import nn

from simcse_pl.encoders.backbone import weight_bars_off
from simcse_pl.encoders.lora import is_peft, save_merged
from simcse_pl.encoders.sentence_encoder import SentenceEncoder
from simcse_pl.errors import NotExportable
from simcse_pl.export.layout import CONFIG_NAME, POOLER_WEIGHTS, ST_MODULES, st_refusal_modules
from simcse_pl.export.staging import staged_folder
from simcse_pl.losses.matryoshka import Matryoshka

log = logging.getLogger(__name__)


def export_model(
    model: SentenceEncoder,
    out_dir: str,
    max_len: int | None = None,
    objective: nn.Module | None = None,
    adapter: bool = True,
) -> str:
    """Write ``out_dir`` whole (``staged_folder``: an earlier export there is replaced only by a complete one);
    ``objective`` (the module's) tells which truncated sizes the model was trained for; ``adapter``: with LoRA,
    also write the adapter alone (``adapter/``). The model card is the caller's to write (``write_card``), once,
    when it knows the run."""
    with staged_folder(out_dir) as stage:
        write_model(model, str(stage), max_len, objective, adapter, shown_as=str(out_dir))
    return out_dir


@weight_bars_off()  # the shard-writing bars, and the loading bars of the sentence-transformers round trip
def write_model(
    model: SentenceEncoder,
    out_dir: str,
    max_len: int | None = None,
    objective: nn.Module | None = None,
    adapter: bool = True,
    shown_as: str | None = None,
) -> str:
    """The export's files in the existing folder ``out_dir`` (a stage: ``export_model`` is the one to call);
    ``shown_as``: the folder's name in messages (the final one, not the stage's)."""
    encoder, pooler, tokenizer, prompt = model.encoder, model.pooler, model.tokenizer, model.prompt
    dims = trained_dims(objective)
    if is_peft(encoder):
        save_merged(encoder, out_dir, adapter=adapter)
    else:
        encoder.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    config: dict[str, Any] = {"pooler": pooler.inference_kind, "mlp": pooler.uses_mlp_at_inference}
    if prompt is not None:
        config["prompt"] = prompt.config()
    if model.roles:
        config["prompts"] = dict(model.roles)
    if dims:
        config["matryoshka_dims"] = dims
    if pooler.uses_mlp_at_inference:
        assert pooler.mlp is not None
        save_file({k: v.detach().cpu().contiguous() for k, v in pooler.mlp.state_dict().items()},
                  os.path.join(out_dir, POOLER_WEIGHTS))
    try:
        modules = pooler.sentence_transformers(int(encoder.config.hidden_size))
        prefix = prompt.sentence_transformers_prompt(tokenizer) if prompt is not None else None
    except NotExportable as exc:
        config["sentence_transformers"] = f"not written: {exc}"
        log.warning("%s: exported in Hugging Face format only (load it with SimCSE.from_pretrained): %s",
                    shown_as or out_dir, exc)
        with open(os.path.join(out_dir, ST_MODULES), "w") as f:  # SentenceTransformer(dir) then refuses, loudly
            json.dump(st_refusal_modules(str(exc)), f, indent=2)
    else:
        _save_sentence_transformers(modules, {"default": prefix} if prefix else dict(model.roles), out_dir, max_len)
    with open(os.path.join(out_dir, CONFIG_NAME), "w") as f:
        json.dump(config, f, indent=2)
    return out_dir


def formats_written(out_dir: str) -> str:
    """What an export folder can be loaded as, for the run's last line: ``Hugging Face + sentence-transformers``, or
    ``Hugging Face only: <why>`` when the writer left sentence-transformers' files out (simcse_pl.json says why)."""
    try:
        with open(os.path.join(out_dir, CONFIG_NAME)) as f:
            skipped = json.load(f).get("sentence_transformers")
    except (OSError, ValueError, AttributeError):
        skipped = "no readable " + CONFIG_NAME
    if not skipped:
        return "Hugging Face + sentence-transformers"
    return f"Hugging Face only: {str(skipped).removeprefix('not written: ')}"


def trained_dims(objective: nn.Module | None) -> list[int] | None:
    """The sizes a Matryoshka objective (anywhere inside ``objective``) trained the vectors' prefixes for."""
    found = next((m for m in (objective.modules() if objective is not None else []) if isinstance(m, Matryoshka)), None)
    return list(found.dims) if found is not None else None


def _save_sentence_transformers(pooling: list[nn.Module], prompts: dict[str, str], out_dir: str,
                                max_len: int | None) -> None:
    """``prompts``: a template's prefix as ``default`` (applied to every text), or the roles ``query`` / ``document``
    (applied by ``encode_query`` / ``encode_document`` and ``prompt_name``; plain ``encode`` adds none)."""
    from sentence_transformers import SentenceTransformer, models

    transformer = models.Transformer(out_dir, max_seq_length=max_len)
    default = {"default_prompt_name": "default"} if "default" in prompts else {}
    prompts = {"prompts": prompts, **default} if prompts else {}
    model = SentenceTransformer(modules=[transformer, *pooling], device="cpu", **prompts)
    model.save(out_dir, create_model_card=False)  # the card is simcse-pl's (write_card)
