"""Backbones and their tokenizers, built from ``model.*`` by name (``SentenceEncoder`` puts a pooler on top).

Nothing here is chosen from a class path read out of a file: the backbone comes through transformers'
``AutoModel`` (by the folder's ``model_type``; a model's own Python code runs only with
``model.trust_remote_code=true``) or, for ``model.random_init``, from the architectures in ``RANDOM_INIT``.

Backbones
- **Encoders** (BERT, RoBERTa, MiniLM, ...): as before; ``model.random_init`` without ``model_type`` is a random
  BERT with a character-level tokenizer (tests and smoke runs, no download).
- **Decoders** (``DECODERS``: the Llama, Mistral, Qwen2 and Qwen3 families, by ``model_type``): the tokenizer
  appends EOS to every sentence (so ``last_token`` pooling reads a token that has seen the whole sentence), gets a
  pad token when it has none, and pads on ``model.padding_side`` (default: the tokenizer's own; both sides are
  handled by the poolers). [CLS]-style poolers are refused. Any other decoder-only architecture is refused by name.
- ``model.bidirectional=true``: LLM2Vec's bidirectional attention, through transformers' ``config.is_causal =
  False`` (transformers ≥ 5.2 builds a bidirectional mask and passes ``is_causal=False`` to every attention
  kernel for models whose forward honours it: verified for ``DECODERS``; saved in config.json, so the export
  loads bidirectional with a plain ``AutoModel``). Refused for any other architecture, by name.
- ``model.attention_dropout``: a decoder's attention dropout (SimCSE's noise; LLM2Vec's ``simcse_dropout`` 0.3).
- ``model.lora.*``: LoRA adapters (simcse_pl/encoders/lora.py); ``model.gradient_checkpointing``: recompute activations in
  the backward pass (non-reentrant); ``model.dtype``: the weights' dtype when loading (``bfloat16`` for large
  decoders; default float32).
"""

from __future__ import annotations

import contextlib
import os
import string
from collections.abc import Iterator
from typing import Any

import torch
from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
from torch import Tensor, nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, BertConfig, BertModel, BertTokenizer, PreTrainedModel
from transformers.tokenization_utils_base import PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from simcse_pl.encoders.lora import add_lora
from simcse_pl.errors import ModelLoadError
from simcse_pl.hub import resolve_name_or_path, unreachable_once

_CHARS = string.ascii_lowercase + string.digits + string.punctuation
TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_CHARS, *("##" + c for c in _CHARS)]

# decoder families (``config.model_type``) supported end to end: EOS appended, bidirectional attention verified
# (tests/unit/encoders/test_encoder_decoders.py), LoRA on all their linear projections by default (LLM2Vec's targets)
DECODERS = ("llama", "mistral", "qwen2", "qwen3")
DECODER_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# architectures ``model.random_init`` can build (``random_init.model_type``), each with a tiny tokenizer
RANDOM_INIT = ("bert", *DECODERS)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _looks_like_path(name: str) -> bool:
    """Hub ids are ``name`` or ``org/name``; anything else is meant as a local folder."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1


# ---------------------------------------------------------------------------------------------- families
def is_decoder_type(model_type: str) -> bool:
    """A decoder-only architecture: transformers has a causal-LM head for it and no masked-LM one."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    return model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES


def model_type_of(name_or_path: str | None, random_init: dict[str, Any] | None = None,
                  trust_remote_code: bool = False) -> str:
    """``config.model_type`` of the configured backbone (``random_init.model_type``, default ``bert``)."""
    if name_or_path is None:
        return str((random_init or {}).get("model_type", "bert"))
    return str(_load(AutoConfig, name_or_path, trust_remote_code=trust_remote_code).model_type)


def family_of(model_type: str) -> str:
    """``decoder`` for the supported decoder families, ``encoder`` for everything that is not decoder-only."""
    if model_type in DECODERS:
        return "decoder"
    if is_decoder_type(model_type):
        raise ModelLoadError(
            f"{model_type!r} is a decoder-only architecture that simcse-pl does not support; supported decoders: "
            f"{', '.join(DECODERS)} (and encoders: BERT, RoBERTa, MiniLM, ...)"
        )
    return "encoder"


# ---------------------------------------------------------------------------------------------- tokenizers
def load_tokenizer(
    name_or_path: str | None,
    random_init: dict[str, Any] | None = None,
    trust_remote_code: bool = False,
    padding_side: str | None = None,
    decoder_setup: bool = True,
    **_: Any,
) -> PreTrainedTokenizerBase:
    """The backbone's tokenizer; a decoder's appends EOS and has a pad token (``prepare_decoder_tokenizer``;
    ``decoder_setup=False``: only the pad token, for a tokenizer saved as it should be used)."""
    if name_or_path is None:
        tokenizer = tiny_tokenizer(model_type_of(None, random_init), (random_init or {}).get("max_position_embeddings", 512))
    else:
        tokenizer = _load(AutoTokenizer, name_or_path, trust_remote_code=trust_remote_code)
    if family_of(model_type_of(name_or_path, random_init, trust_remote_code)) == "decoder":
        if decoder_setup:
            prepare_decoder_tokenizer(tokenizer)
        elif tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.unk_token if tokenizer.unk_token is not None else tokenizer.eos_token
    if padding_side is not None:
        if padding_side not in ("left", "right"):
            raise ModelLoadError(f"model.padding_side={padding_side!r} is not one of left, right")
        tokenizer.padding_side = padding_side
        tokenizer.init_kwargs["padding_side"] = padding_side  # saved with the tokenizer (the export)
    return tokenizer


def prepare_decoder_tokenizer(tokenizer: PreTrainedTokenizerBase) -> None:
    """EOS after every sentence (BOS kept as the tokenizer had it) and a pad token; both are saved with the
    tokenizer (``add_eos_token`` in tokenizer_config.json), so the export tokenizes the same way."""
    if tokenizer.eos_token_id is None:
        raise ModelLoadError(f"{type(tokenizer).__name__} has no EOS token to append")
    if not hasattr(type(tokenizer), "add_eos_token"):
        raise ModelLoadError(f"{type(tokenizer).__name__} cannot be set to append EOS (not a tokenizers-backed tokenizer)")
    ids = tokenizer("a")["input_ids"]
    has_bos = tokenizer.bos_token_id is not None and ids[:1] == [tokenizer.bos_token_id]
    if ids[-1:] != [tokenizer.eos_token_id]:
        tokenizer.add_bos_token = has_bos
        tokenizer.add_eos_token = True
        if tokenizer("a")["input_ids"][-1:] != [tokenizer.eos_token_id]:
            raise ModelLoadError(f"{type(tokenizer).__name__} did not append EOS when asked to")
    tokenizer.init_kwargs.update(add_bos_token=has_bos, add_eos_token=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.unk_token if tokenizer.unk_token is not None else tokenizer.eos_token


def tiny_tokenizer(model_type: str, max_len: int = 512) -> PreTrainedTokenizerBase:
    """A character-level tokenizer of the architecture's own tokenizer class (no download): BERT's WordPiece with
    TINY_VOCAB; Llama/Mistral's SentencePiece-style BPE with ``<s>`` / ``</s>``; Qwen's byte-level BPE with
    ``<|endoftext|>`` (EOS and pad, no BOS), each with no merges."""
    if model_type == "bert":
        return BertTokenizer(vocab={t: i for i, t in enumerate(TINY_VOCAB)}, model_max_length=max_len)
    if model_type in ("llama", "mistral"):
        from transformers import LlamaTokenizer

        vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3}
        for c in _CHARS + string.ascii_uppercase:
            vocab.setdefault(c, len(vocab))
            vocab.setdefault("▁" + c, len(vocab))
        tokenizer = LlamaTokenizer(vocab=vocab, merges=[], model_max_length=max_len, add_bos_token=True)
        tokenizer.add_bos_token = True
        return tokenizer
    if model_type in ("qwen2", "qwen3"):
        from transformers import Qwen2Tokenizer
        from transformers.convert_slow_tokenizer import bytes_to_unicode

        vocab = {char: byte for byte, char in bytes_to_unicode().items()}
        vocab["<|endoftext|>"] = len(vocab)
        return Qwen2Tokenizer(vocab=vocab, merges=[], model_max_length=max_len)
    raise ModelLoadError(f"model.random_init.model_type={model_type!r} is not one of {', '.join(RANDOM_INIT)}")


# ---------------------------------------------------------------------------------------------- backbones
def load_encoder(
    name_or_path: str | None,
    random_init: dict[str, Any] | None = None,
    trust_remote_code: bool = False,
    bidirectional: bool = False,
    attention_dropout: float | None = None,
    dtype: str | None = None,
    gradient_checkpointing: bool = False,
    lora: dict[str, Any] | None = None,
    **_: Any,
) -> nn.Module:
    """The backbone (no task head), with its options applied; a ``PeftModel`` when ``lora.r`` is set. BERT's own
    pooler layer is kept frozen: SimCSE's poolers never use it, and frozen it neither trips DDP's unused-parameter
    check nor goes missing from the export."""
    lora = lora if lora and lora.get("r") else None
    if dtype is not None and dtype not in DTYPES:
        raise ModelLoadError(f"model.dtype={dtype!r} is not one of {', '.join(DTYPES)}")
    if name_or_path is None:
        model_type = model_type_of(None, random_init)
        _check_options(model_type, bidirectional, attention_dropout)
        encoder = _random_backbone(model_type, dict(random_init or {}), attention_dropout, seeded=lora is not None)
    else:
        kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
        if attention_dropout is not None:
            kwargs["attention_dropout"] = attention_dropout  # a config override
        if dtype is not None:
            kwargs["dtype"] = DTYPES[dtype]
        encoder = _load(AutoModel, name_or_path, **kwargs)
        model_type = str(encoder.config.model_type)
        _check_options(model_type, bidirectional, attention_dropout)
    if dtype is not None:
        encoder = encoder.to(DTYPES[dtype])
    if bidirectional:
        encoder.config.is_causal = False
    if isinstance(getattr(encoder, "pooler", None), nn.Module):
        encoder.pooler.requires_grad_(False)
    if gradient_checkpointing:
        _checkpoint_activations(encoder)
    if lora is not None:
        targets = lora.get("target_modules") or (list(DECODER_LORA_TARGETS) if model_type in DECODERS else None)
        encoder = add_lora(encoder, lora["r"], lora.get("alpha"), lora.get("dropout") or 0.0, targets)
    return encoder


def _check_options(model_type: str, bidirectional: bool, attention_dropout: float | None) -> None:
    """Decoder-only settings on an architecture that has them; an unsupported decoder refused by name."""
    family = family_of(model_type)
    if bidirectional and model_type not in DECODERS:
        raise ModelLoadError(
            f"model.bidirectional=true: supported for {', '.join(DECODERS)} (transformers' is_causal=False), not for "
            f"{model_type!r}" + (" (an encoder attends both ways already)" if family == "encoder" else "")
        )
    if attention_dropout is not None and family != "decoder":
        raise ModelLoadError(f"model.attention_dropout is a decoder setting; {model_type!r} has its own dropout "
                             "(hidden_dropout_prob / attention_probs_dropout_prob)")


def _random_backbone(model_type: str, random_init: dict[str, Any], attention_dropout: float | None,
                     seeded: bool) -> PreTrainedModel:
    """A randomly initialised backbone of ``model_type``. With ``seeded`` (LoRA: the base weights are not
    checkpointed) or ``random_init.seed``, it is drawn from its own generator seeded with ``seed`` (default 0),
    so it is the same model every time it is built, as a hub model is."""
    if not random_init:
        raise ModelLoadError("model.name_or_path is null: set it, or give model.random_init for a random BERT")
    random_init.pop("model_type", None)
    seed = random_init.pop("seed", None)
    if model_type not in RANDOM_INIT:
        raise ModelLoadError(f"model.random_init.model_type={model_type!r} is not one of {', '.join(RANDOM_INIT)}")
    fork = torch.random.fork_rng(devices=[]) if seeded or seed is not None else contextlib.nullcontext()
    with fork:
        if seeded or seed is not None:
            torch.manual_seed(int(seed or 0))
        if model_type == "bert":
            return BertModel(BertConfig(**{"vocab_size": len(TINY_VOCAB), **random_init}))
        tokenizer = tiny_tokenizer(model_type, random_init.get("max_position_embeddings", 512))
        specials = {f"{name}_token_id": getattr(tokenizer, f"{name}_token_id") for name in ("bos", "eos", "pad")}
        if attention_dropout is not None:
            random_init["attention_dropout"] = attention_dropout
        # random_init.vocab_size may give a real model's embedding size (a benchmark's shape): ids stay below it
        config = AutoConfig.for_model(model_type, **{"vocab_size": len(tokenizer), **specials, **random_init})
        return AutoModel.from_config(config)


def max_positions(encoder: nn.Module, tokenizer: PreTrainedTokenizerBase) -> int | None:
    """How many tokens the encoder can take: its position embeddings less the offset some models reserve
    (RoBERTa numbers positions from ``padding_idx + 1``), capped by the tokenizer's limit when it states one."""
    positions = getattr(encoder.config, "max_position_embeddings", None)
    padding_idx = getattr(getattr(encoder, "embeddings", None), "padding_idx", None)
    if positions is not None and isinstance(padding_idx, int):
        positions -= padding_idx + 1
    stated = tokenizer.model_max_length if tokenizer.model_max_length < 1_000_000 else None  # "no limit" is 1e30
    limits = [n for n in (positions, stated) if n is not None]
    return min(limits) if limits else None


def check_max_len(encoder: nn.Module, tokenizer: PreTrainedTokenizerBase, lengths: dict[str, int | None]) -> None:
    """Fail before training, not inside a step hours in, when a configured length exceeds the model's positions."""
    limit = max_positions(encoder, tokenizer)
    for key, length in lengths.items():
        if limit is not None and length is not None and length > limit:
            raise ModelLoadError(
                f"{key}={length} is more than the {limit} token positions of the model "
                f"({type(encoder).__name__}); set {key} <= {limit}"
            )


def _checkpoint_activations(encoder: PreTrainedModel) -> None:
    """Non-reentrant activation checkpointing. transformers 5.x renamed ``gradient_checkpointing_enable`` to
    ``activation_checkpointing_enable`` (the old name now warns on every run); before that only the old one exists."""
    if hasattr(encoder, "activation_checkpointing_enable"):
        encoder.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        encoder.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


@contextlib.contextmanager
def weight_bars_off() -> Iterator[None]:
    """transformers' "Loading weights" / "Writing model shards" bars off inside the block, as they were after it:
    they came with every ``SimCSE.from_pretrained`` and export, finished before anyone could read them. The switch
    also hides huggingface_hub's bars, so a load that may download (a hub id) keeps them (``_load``)."""
    was_on, hub_was_off = hf_logging.is_progress_bar_enabled(), are_progress_bars_disabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()
        (disable_progress_bars if hub_was_off else enable_progress_bars)()


def _load(factory: Any, name_or_path: str, **kwargs: Any) -> Any:
    """``factory.from_pretrained`` of a local folder, or of a hub id: when the hub cannot be reached (checked with
    one short request; transformers would retry for about a minute), only the local cache is tried."""
    source = resolve_name_or_path(name_or_path)
    if _looks_like_path(source) and not os.path.isdir(os.path.expanduser(source)):
        raise ModelLoadError(f"model.name_or_path={name_or_path!r}: no such directory")
    local = os.path.isdir(os.path.expanduser(source))
    unreachable = None if local else unreachable_once()
    try:
        with weight_bars_off() if local else contextlib.nullcontext():
            return factory.from_pretrained(source, **kwargs, **({"local_files_only": True} if unreachable else {}))
    except OSError as exc:
        reason = f"the hub is unreachable ({unreachable}) and it is not in the local cache" if unreachable else (
            f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"
        )
        raise ModelLoadError(
            f"model.name_or_path={name_or_path!r}: cannot load it ({reason}). "
            "Give a local folder, or a hub id on a machine that can reach the hub."
        ) from None


def model_inputs(input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None, **extra: Any) -> dict[str, Any]:
    """Keyword arguments for a Hugging Face backbone; ``token_type_ids`` only when there are some (decoders take none)."""
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask, **extra}
    if token_type_ids is not None:
        inputs["token_type_ids"] = token_type_ids
    return inputs
