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
otherwise the folder is Hugging Face + simcse_pl.json only, and ``simcse_pl.json``'s ``sentence_transformers`` says
why (also logged). With LoRA, ``adapter/`` holds the adapter alone (peft format: ``PeftModel.from_pretrained(base,
dir/adapter)``).

A model trained with ``loss=matryoshka`` (``export_model(..., objective=module.objective)``) also records the
sizes it was trained to be cut to: ``"matryoshka_dims"`` in ``simcse_pl.json`` (``SimCSE.trained_dims``), and a
``matryoshka`` tag plus a section of the sentence-transformers model card (README.md) showing
``SentenceTransformer(dir, truncate_dim=k)``. The weights are the full model: truncation happens at load time.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from typing import Any

from safetensors.torch import save_file
from torch import nn
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from simcse_pl.lora import is_peft, save_merged
from simcse_pl.poolers import NotExportable, Pooler

log = logging.getLogger(__name__)

CONFIG_NAME = "simcse_pl.json"
POOLER_WEIGHTS = "pooler.safetensors"


def export_model(
    encoder: nn.Module,
    pooler: Pooler,
    tokenizer: PreTrainedTokenizerBase,
    out_dir: str,
    max_len: int | None = None,
    objective: nn.Module | None = None,
    adapter: bool = True,
) -> str:
    """Write ``out_dir``; ``objective`` (the module's) tells which truncated sizes the model was trained for;
    ``adapter``: with LoRA, also write the adapter alone (``adapter/``)."""
    dims = trained_dims(objective)
    os.makedirs(out_dir, exist_ok=True)
    if is_peft(encoder):
        save_merged(encoder, out_dir, adapter=adapter)
    else:
        encoder.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    prompt = getattr(pooler, "prompt", None)
    config: dict[str, Any] = {"pooler": pooler.kind, "mlp": pooler.uses_mlp_at_inference}
    if prompt is not None:
        config["prompt"] = prompt.config()
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
        log.warning("%s: exported in Hugging Face format only (load it with SimCSE.from_pretrained): %s", out_dir, exc)
    else:
        _save_sentence_transformers(modules, prefix, out_dir, max_len, dims)
    with open(os.path.join(out_dir, CONFIG_NAME), "w") as f:
        json.dump(config, f, indent=2)
    return out_dir


def trained_dims(objective: nn.Module | None) -> list[int] | None:
    """The sizes a Matryoshka objective (anywhere inside ``objective``) trained the vectors' prefixes for."""
    from simcse_pl.losses.matryoshka import Matryoshka

    found = next((m for m in (objective.modules() if objective is not None else []) if isinstance(m, Matryoshka)), None)
    return list(found.dims) if found is not None else None


def matryoshka_card(dims: Sequence[int]) -> str:
    """The model card's section on loading the model cut to a trained size."""
    k = dims[-1]
    return (
        "### Matryoshka dimensions\n\n"
        f"Trained with a Matryoshka objective (Kusupati et al. 2022) at {', '.join(map(str, dims))} dimensions: "
        "the first k coordinates of each vector are an embedding of their own. Load it cut to one of those sizes:\n\n"
        "```python\n"
        "from sentence_transformers import SentenceTransformer\n\n"
        f'model = SentenceTransformer("sentence_transformers_model_id", truncate_dim={k})\n'
        "```\n\n"
        f"simcse-pl: `SimCSE.from_pretrained(dir).encode(sentences, dim={k})`, `simcse-eval dir --dim {k}`.\n\n"
    )


def _save_sentence_transformers(pooling: list[nn.Module], prompt: str | None, out_dir: str, max_len: int | None,
                                dims: Sequence[int] | None = None) -> None:
    from sentence_transformers import SentenceTransformer, models

    transformer = models.Transformer(out_dir, max_seq_length=max_len)
    prompts = {"prompts": {"default": prompt}, "default_prompt_name": "default"} if prompt else {}
    model = SentenceTransformer(modules=[transformer, *pooling], device="cpu", **prompts)
    if dims:
        model.model_card_data.add_tags("matryoshka")
    model.save(out_dir)
    if dims:
        _add_to_card(os.path.join(out_dir, "README.md"), dims)


def _add_to_card(path: str, dims: Sequence[int]) -> None:
    """The trained sizes beside the card's output dimensionality, and how to load a cut model before its usage."""
    with open(path, encoding="utf-8") as f:
        card = f.read()
    size = "- **Output Dimensionality:**"
    line_end = card.find("\n", card.find(size)) if size in card else -1
    if line_end >= 0:
        bullet = f"\n- **Matryoshka Dimensions:** {', '.join(map(str, dims))} (load with `truncate_dim=k`)"
        card = card[:line_end] + bullet + card[line_end:]
    usage = card.find("\n## Usage\n")
    section = matryoshka_card(dims)
    card = card[: usage + 1] + section + card[usage + 1 :] if usage >= 0 else card.rstrip("\n") + "\n\n" + section
    with open(path, "w", encoding="utf-8") as f:
        f.write(card)
