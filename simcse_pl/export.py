"""Save a trained encoder as a Hugging Face model directory that is also a sentence-transformers model.

``AutoModel.from_pretrained(dir)`` loads the encoder; ``SentenceTransformer(dir)`` loads encoder + the
pooling used at inference ([CLS] for the paper's unsupervised recipe; [CLS] + the MLP head as a Dense
layer when the head is kept). ``simcse_pl.json`` records the pooler for simcse-pl's own loaders.

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

from torch import nn
from transformers import PreTrainedModel
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from simcse_pl.pooling import Pooler, sentence_transformers_mode

log = logging.getLogger(__name__)

CONFIG_NAME = "simcse_pl.json"


def export_model(
    encoder: PreTrainedModel,
    pooler: Pooler,
    tokenizer: PreTrainedTokenizerBase,
    out_dir: str,
    max_len: int | None = None,
    objective: nn.Module | None = None,
) -> str:
    """Write ``out_dir``; ``objective`` (the module's) tells which truncated sizes the model was trained for."""
    dims = trained_dims(objective)
    os.makedirs(out_dir, exist_ok=True)
    encoder.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    config: dict[str, object] = {"pooler": pooler.kind, "mlp": pooler.uses_mlp_at_inference}
    if dims:
        config["matryoshka_dims"] = dims
    with open(os.path.join(out_dir, CONFIG_NAME), "w") as f:
        json.dump(config, f, indent=2)
    mode = sentence_transformers_mode(pooler)
    if mode is None:
        log.warning("pooler %r has no sentence-transformers equivalent: exported in Hugging Face format only", pooler.kind)
    else:
        _save_sentence_transformers(pooler, mode, out_dir, max_len, dims)
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


def _save_sentence_transformers(pooler: Pooler, mode: str, out_dir: str, max_len: int | None,
                                dims: Sequence[int] | None = None) -> None:
    from sentence_transformers import SentenceTransformer, models

    transformer = models.Transformer(out_dir, max_seq_length=max_len)
    dim = transformer.get_embedding_dimension()
    modules: list[nn.Module] = [transformer, models.Pooling(dim, pooling_mode=mode)]
    if pooler.uses_mlp_at_inference:
        assert pooler.mlp is not None
        dense = models.Dense(dim, dim, bias=True, activation_function=nn.Tanh())
        dense.linear.load_state_dict(pooler.mlp.dense.state_dict())
        modules.append(dense)
    model = SentenceTransformer(modules=modules, device="cpu")
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
