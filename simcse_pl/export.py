"""Save a trained encoder as a Hugging Face model directory that is also a sentence-transformers model.

``AutoModel.from_pretrained(dir)`` loads the encoder; ``SentenceTransformer(dir)`` loads encoder + the
pooling used at inference ([CLS] for the paper's unsupervised recipe; [CLS] + the MLP head as a Dense
layer when the head is kept). ``simcse_pl.json`` records the pooler for simcse-pl's own loaders.
"""

from __future__ import annotations

import json
import logging
import os

from torch import nn
from transformers import PreTrainedModel
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from simcse_pl.pooling import Pooler, sentence_transformers_mode

log = logging.getLogger(__name__)

CONFIG_NAME = "simcse_pl.json"


def export_model(
    encoder: PreTrainedModel, pooler: Pooler, tokenizer: PreTrainedTokenizerBase, out_dir: str, max_len: int | None = None
) -> str:
    os.makedirs(out_dir, exist_ok=True)
    encoder.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    with open(os.path.join(out_dir, CONFIG_NAME), "w") as f:
        json.dump({"pooler": pooler.kind, "mlp": pooler.uses_mlp_at_inference}, f, indent=2)
    mode = sentence_transformers_mode(pooler)
    if mode is None:
        log.warning("pooler %r has no sentence-transformers equivalent: exported in Hugging Face format only", pooler.kind)
    else:
        _save_sentence_transformers(pooler, mode, out_dir, max_len)
    return out_dir


def _save_sentence_transformers(pooler: Pooler, mode: str, out_dir: str, max_len: int | None) -> None:
    from sentence_transformers import SentenceTransformer, models

    transformer = models.Transformer(out_dir, max_seq_length=max_len)
    dim = transformer.get_embedding_dimension()
    modules: list[nn.Module] = [transformer, models.Pooling(dim, pooling_mode=mode)]
    if pooler.uses_mlp_at_inference:
        assert pooler.mlp is not None
        dense = models.Dense(dim, dim, bias=True, activation_function=nn.Tanh())
        dense.linear.load_state_dict(pooler.mlp.dense.state_dict())
        modules.append(dense)
    SentenceTransformer(modules=modules, device="cpu").save(out_dir)
