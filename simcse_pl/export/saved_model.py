"""Reading a saved model: which backbone, tokenizer and pooler a folder or checkpoint holds, as a ``SentenceEncoder``.

Four sources, each read as data (a file names a registered pooler, never a class or code):
- a simcse-pl export: ``simcse_pl.json`` names the pooler, its kept MLP head (``pooler.safetensors``), the prompt
  template and a Matryoshka model's trained sizes;
- a sentence-transformers folder: the pooling of ``modules.json`` (mean, cls, lasttoken, cls + tanh Dense) and its
  ``max_seq_length``;
- a plain Hugging Face model id or folder: SimCSE's [CLS] for an encoder, the last token for a decoder;
- a Lightning ``.ckpt`` of ``SimCSEModule`` (``weights_only``; with LoRA the base model named in it plus the
  checkpoint's adapters).

``SimCSE.from_pretrained`` (simcse_pl/inference.py) turns the result into the encode/search API.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any, NamedTuple

import torch
from safetensors.torch import load_file
from torch import Tensor, nn
from transformers import PreTrainedModel
from transformers.tokenization_utils_base import PreTrainedTokenizerBase
from transformers.utils import cached_file

from simcse_pl.errors import ModelLoadError
from simcse_pl.encoders.sentence_encoder import SentenceEncoder
from simcse_pl.encoders.backbone import family_of, load_encoder, load_tokenizer
from simcse_pl.export.layout import CONFIG_NAME, POOLER_WEIGHTS, ST_MODULES, is_st_refusal
from simcse_pl.encoders.lora import is_adapter_key
from simcse_pl.encoders.poolers import POOLERS
from simcse_pl.export.checkpoint import read_checkpoint
from simcse_pl.export.onnx_runtime import check_pooler, load_backbone
from simcse_pl.hub import resolve_name_or_path

# the weight files of a Hugging Face model folder, in the order transformers reads them (to name the broken one)
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
# sentence-transformers pooling modes that one of our poolers reproduces
ST_POOLING = {"mean": "avg", "cls": "cls_before_pooler", "lasttoken": "last_token"}
# the settings of a checkpoint's model.* that loading it uses (all plain data; the pooler is a registered name)
CHECKPOINT_SETTINGS = ("name_or_path", "random_init", "pooler", "mlp_only_train", "prompt", "bidirectional",
                       "padding_side", "attention_dropout", "dtype", "lora")


class PoolingSpec(NamedTuple):
    """How a saved model pools: the pooler kind, its trained MLP head (if kept at inference), unit-norm output."""

    kind: str
    mlp: dict[str, Tensor] | None = None
    normalize: bool = False
    trained_dims: list[int] | None = None  # the prefix sizes a Matryoshka objective trained (simcse_pl.json)
    prompt: dict[str, Any] | None = None  # model.prompt (simcse_pl.json)
    roles: dict[str, str] | None = None  # model.prompts: query / document prefixes (simcse_pl.json, ST's prompts)


def _own_pooler(encoder: PreTrainedModel) -> nn.Module | None:
    """BERT-style pooler layer (dense + tanh) of the encoder, if it has one."""
    pooler = getattr(encoder, "pooler", None)
    return pooler if isinstance(getattr(pooler, "dense", None), nn.Linear) else None


def default_pooler(encoder: nn.Module) -> str:
    """No saved pooling: SimCSE's [CLS] (through the encoder's own pooler layer when it has one) for an encoder, the
    last token (EOS) for a decoder."""
    if family_of(str(encoder.config.model_type)) == "decoder":
        return "last_token"
    return "cls" if _own_pooler(encoder) else "cls_before_pooler"


def build(encoder: nn.Module, tokenizer: PreTrainedTokenizerBase, kind: str, spec: PoolingSpec) -> SentenceEncoder:
    """The ``SentenceEncoder`` of a loaded backbone and tokenizer with the registered pooler ``kind``: its MLP head
    from ``spec`` (or, for ``cls``, the encoder's own pooler layer), used at inference when there is one."""
    head = POOLERS[kind].has_head
    weights = spec.mlp if spec.mlp is not None else None
    if head and weights is None and kind == "cls":
        own = _own_pooler(encoder)
        if own is None:
            raise ModelLoadError("pooler 'cls' needs a trained MLP head and this model has none: use cls_before_pooler")
        weights = own.dense.state_dict()
    model = SentenceEncoder.from_parts(encoder, tokenizer, kind, mlp_only_train=weights is None, prompt=spec.prompt)
    if model.pooler.mlp is not None and weights is not None:
        model.pooler.mlp.dense.load_state_dict(weights)
    return model.set_roles(spec.roles)


def first_non_finite(tensors: Iterable[tuple[str, Tensor]]) -> str | None:
    """The name of the first floating-point tensor holding a NaN or an infinity; None when all are finite."""
    for name, tensor in tensors:
        if torch.is_floating_point(tensor) and not bool(torch.isfinite(tensor).all()):
            return name
    return None


def check_finite(tensors: Iterable[tuple[str, Tensor]], where: str) -> None:
    """Refuse weights with NaN or infinity in them: such a model encodes every sentence to NaN, and its scores
    (``nan`` Spearman) would otherwise pass for a result. ``where`` names the file they were read from."""
    bad = first_non_finite(tensors)
    if bad is not None:
        raise ModelLoadError(f"{where}: parameter {bad} holds NaN or infinite values; the weights are broken "
                             "(a diverged run?), refusing to load them")


def weights_file(source: str) -> str:
    """The weight file of a local model folder (to name in errors); the folder or hub id itself otherwise."""
    found = (os.path.join(source, name) for name in WEIGHT_FILES)
    return next((path for path in found if os.path.isfile(path)), source)


def check_model_finite(model: SentenceEncoder, source: str) -> None:
    """``check_finite`` on a loaded saved model: the backbone's weights (named as in its weight file) and the MLP
    head's (``pooler.safetensors``, or the sentence-transformers Dense it came from)."""
    check_finite(model.encoder.state_dict().items(), weights_file(source))
    mlp = model.pooler.mlp
    if mlp is not None:
        head = os.path.join(source, POOLER_WEIGHTS)
        check_finite(mlp.dense.state_dict().items(), head if os.path.isfile(head) else source)


def _read_json(source: str, filename: str) -> Any:
    """``filename`` of a local model folder or hub repo, or None when it has no such file."""
    path = cached_file(source, filename, _raise_exceptions_for_missing_entries=False)
    if path is None:
        return None
    with open(path) as f:
        return json.load(f)


def _st_modules(source: str) -> list[dict[str, Any]]:
    """sentence-transformers' modules of a folder; none for an export that wrote ``modules.json`` only to make
    sentence-transformers refuse it (``layout.st_refusal_modules``): its simcse_pl.json says how it pools."""
    modules = _read_json(source, ST_MODULES) or []
    if is_st_refusal(modules):
        if _read_json(source, CONFIG_NAME) is None:
            raise ModelLoadError(f"{source}: its {ST_MODULES} says it is a simcse-pl export, but it has no "
                                 f"{CONFIG_NAME} (which names its pooler and prompt); export it again")
        return []
    return modules


def saved_pooling(source: str) -> PoolingSpec | None:
    """The pooling recorded by our export (``simcse_pl.json``) or a sentence-transformers folder; None if neither."""
    modules = _st_modules(source)
    dense = [m for m in modules if m["type"].endswith("Dense")]
    config = _read_json(source, CONFIG_NAME)
    if config is not None:
        kind = config["pooler"]
        if kind not in POOLERS:
            raise ModelLoadError(f"{source}: {CONFIG_NAME} names pooler {kind!r}, not one of {', '.join(POOLERS)}")
        mlp = _head_weights(source, dense) if config["mlp"] else None
        kept = mlp is not None or kind != "cls"  # "cls" whose head was dropped is plain [CLS]
        dims = config.get("matryoshka_dims")
        return PoolingSpec(kind if kept else "cls_before_pooler", mlp, trained_dims=dims, prompt=config.get("prompt"),
                           roles=config.get("prompts"))
    if not modules:
        return None
    pooling = next((m for m in modules if m["type"].endswith("Pooling")), None)
    mode = (_read_json(source, f"{pooling['path']}/config.json") if pooling else None) or {}
    kinds = [ST_POOLING.get(m) for m in _st_pooling_modes(mode)]
    if len(kinds) != 1 or kinds[0] is None or len(dense) > 1:
        raise ModelLoadError(f"{source}: sentence-transformers pooling {mode} is not one of simcse-pl's poolers")
    normalize = any(m["type"].endswith("Normalize") for m in modules)
    roles = st_roles(source)
    if dense:
        if kinds[0] != "cls_before_pooler":
            raise ModelLoadError(f"{source}: a Dense layer after mean pooling is not one of simcse-pl's poolers")
        return PoolingSpec("cls", _dense_weights(source, dense[0]["path"]), normalize, roles=roles)
    return PoolingSpec(kinds[0], None, normalize, roles=roles)


def st_roles(source: str) -> dict[str, str] | None:
    """The ``query`` / ``document`` prompts of a sentence-transformers folder (``config_sentence_transformers.json``;
    ``passage`` / ``corpus`` read as ``document``, names other models use for it)."""
    prompts = ((_read_json(source, "config_sentence_transformers.json") or {}).get("prompts")) or {}
    document = next((prompts[k] for k in ("document", "passage", "corpus") if prompts.get(k)), None)
    roles = {"query": prompts.get("query"), "document": document}
    return {k: v for k, v in roles.items() if v} or None


def _st_pooling_modes(config: dict[str, Any]) -> list[str]:
    """Pooling modes of a Pooling config: ``pooling_mode`` (sentence-transformers ≥ 6) or the older flags."""
    if "pooling_mode" in config:
        mode = config["pooling_mode"]
        return [mode] if isinstance(mode, str) else list(mode)
    flags = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}
    return [flags.get(k, k) for k, on in config.items() if k.startswith("pooling_mode_") and on]


def _head_weights(source: str, dense: list[dict[str, Any]]) -> dict[str, Tensor]:
    """The MLP head an export kept: ``pooler.safetensors``, else (earlier exports) its sentence-transformers Dense."""
    path = cached_file(source, POOLER_WEIGHTS, _raise_exceptions_for_missing_entries=False)
    if path is not None:
        state = load_file(path)
        return {"weight": state["dense.weight"], "bias": state["dense.bias"]}
    if not dense:
        raise ModelLoadError(f"{source}: {CONFIG_NAME} says the MLP head is used but the folder has no {POOLER_WEIGHTS}")
    return _dense_weights(source, dense[0]["path"])


def _dense_weights(source: str, folder: str) -> dict[str, Tensor]:
    """A sentence-transformers Dense layer (our MLP head: linear + tanh) as ``nn.Linear`` weights."""
    config = _read_json(source, f"{folder}/config.json")
    if not config or not config.get("activation_function", "").endswith("Tanh"):
        raise ModelLoadError(f"{source}/{folder}: only a tanh Dense layer (SimCSE's MLP head) is supported")
    path = cached_file(source, f"{folder}/model.safetensors")
    state = load_file(path)
    return {"weight": state["linear.weight"], "bias": state["linear.bias"]}


def st_max_length(source: str) -> int | None:
    """sentence-transformers' ``max_seq_length``, so a folder encodes as ``SentenceTransformer`` would."""
    config = _read_json(source, "sentence_bert_config.json") if _st_modules(source) else None
    return (config or {}).get("max_seq_length")


def from_checkpoint(
    path: str, trust_remote_code: bool = False, pooler: str | None = None
) -> tuple[SentenceEncoder, PoolingSpec]:
    """The ``SentenceEncoder`` of a ``SimCSEModule`` checkpoint (tensors only: ``weights_only``).

    The checkpoint names the base model, pooler and prompt, as data: it cannot switch on remote code (a crafted file
    that passes ``weights_only`` would otherwise run the code of any folder or hub repo it names). Trained with LoRA,
    it holds the adapters only: the base is loaded (or, random, rebuilt from its seed) from its settings."""
    state = read_checkpoint(path)
    model_cfg = (state.get("hyper_parameters") or {}).get("model")
    if not isinstance(model_cfg, dict) or "pooler" not in model_cfg:
        raise ModelLoadError(f"{path}: no model settings (hyper_parameters.model): not a SimCSEModule checkpoint")
    if model_cfg.get("trust_remote_code") and not trust_remote_code:
        raise ModelLoadError(
            f"{path}: trained with model.trust_remote_code=true, so loading it runs the Python code of "
            f"{model_cfg.get('name_or_path')!r}; if you trust that code, pass trust_remote_code=True "
            "(simcse-eval / simcse-encode: --trust-remote-code)"
        )
    settings = {k: model_cfg.get(k) for k in CHECKPOINT_SETTINGS if model_cfg.get(k) is not None}
    settings.setdefault("name_or_path", None)
    encoder = load_encoder(**settings, trust_remote_code=trust_remote_code)
    weights = state["state_dict"]
    check_finite(weights.items(), path)
    own = {k.removeprefix("encoder."): v for k, v in weights.items() if k.startswith("encoder.")}
    try:
        if any(is_adapter_key(k) for k in own):
            missing, unexpected = encoder.load_state_dict(own, strict=False)
            missing = [k for k in missing if is_adapter_key(k)]
            if missing or unexpected:
                raise RuntimeError(f"adapters missing {missing[:3]}, unexpected weights {unexpected[:3]}")
        else:
            encoder.load_state_dict(own)
    except RuntimeError as exc:
        name = settings.get("name_or_path")
        raise ModelLoadError(f"{path}: its weights do not fit {name!r} ({str(exc).splitlines()[0]})") from None
    tokenizer = load_tokenizer(**settings, trust_remote_code=trust_remote_code)
    mlp = {k.removeprefix("pooler.mlp.dense."): v for k, v in weights.items() if k.startswith("pooler.mlp.dense.")}
    trained = model_cfg["pooler"]
    if trained not in POOLERS:
        raise ModelLoadError(f"{path}: pooler {trained!r} is not one of {', '.join(POOLERS)}")
    keeps_mlp = POOLERS[trained].has_head and not model_cfg.get("mlp_only_train", False)
    kind = trained if keeps_mlp or trained != "cls" else "cls_before_pooler"
    spec = PoolingSpec(kind, mlp if keeps_mlp else None, prompt=model_cfg.get("prompt"), roles=model_cfg.get("prompts"))
    return build(encoder.eval(), tokenizer, pooler or kind, spec), spec


def load_saved(
    path_or_id: str, pooler: str | None = None, trust_remote_code: bool = False, backend: str = "torch",
    file_name: str | None = None,
) -> tuple[SentenceEncoder, PoolingSpec, int | None]:
    """The ``SentenceEncoder`` of a checkpoint, an export, a sentence-transformers or a plain Hugging Face folder
    (or hub id), with how it pools and the maximum length it was saved with (None: the model's own limit);
    ``pooler`` overrides the saved one; ``backend="onnx"``: the backbone through ONNX Runtime (``file_name``)."""
    max_length = None
    if path_or_id.endswith(".ckpt"):
        if backend == "onnx":
            raise ModelLoadError(f"{path_or_id}: the ONNX backend loads an exported folder, not a checkpoint")
        model, spec = from_checkpoint(path_or_id, trust_remote_code, pooler)
    else:
        source = resolve_name_or_path(path_or_id)
        if backend == "onnx":
            encoder = load_backbone(source, file_name, trust_remote_code)
        else:
            encoder = load_encoder(path_or_id, trust_remote_code=trust_remote_code)
        saved = saved_pooling(source)
        # a saved model's tokenizer is used as saved (a decoder's already appends EOS when simcse-pl wrote it)
        tokenizer = load_tokenizer(path_or_id, trust_remote_code=trust_remote_code, decoder_setup=saved is None)
        spec = saved or PoolingSpec(default_pooler(encoder))
        max_length = st_max_length(source)
        model = build(encoder, tokenizer, pooler or spec.kind, spec)
        if backend == "torch":
            check_model_finite(model, source)
    if backend == "onnx":
        check_pooler(model)
    return model, spec, max_length
