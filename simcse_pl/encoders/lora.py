"""LoRA through peft: only adapter weights train, only they are checkpointed, and the export merges them.

``model.lora.r`` (null: off) wraps the backbone with ``peft.get_peft_model``; every backbone weight is frozen and
the adapters (``lora_A`` / ``lora_B`` of the ``target_modules``) train. ``alpha`` defaults to 2r and the targets of
the decoders in ``simcse_pl.encoders.backbone.DECODERS`` to all their linear projections, as LLM2Vec; other models take
peft's default targets for their architecture, or ``model.lora.target_modules``.

Checkpoints hold the adapter weights (keys with ``lora_``) and no frozen base weight: the base is rebuilt from
``model.name_or_path`` (or a seeded ``model.random_init``) when a run resumes or a checkpoint is loaded. The export
adds each adapter's ``B·A·scale`` to its base weight, without touching the training module, and writes a plain
Hugging Face model (``AutoModel`` / ``SentenceTransformer`` load it), plus the adapter alone in peft's format.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from torch import Tensor, nn

from simcse_pl.console import chatter_muted
from simcse_pl.errors import ModelLoadError

log = logging.getLogger(__name__)

ADAPTER_MARK = "lora_"  # in the names of peft's LoRA weights: lora_A, lora_B, lora_embedding_A/B, lora_magnitude_vector
ADAPTER_DIR = "adapter"


def is_peft(model: nn.Module) -> bool:
    try:
        from peft import PeftModel
    except ImportError:
        return False
    return isinstance(model, PeftModel)


def is_adapter_key(key: str) -> bool:
    return ADAPTER_MARK in key


# peft reads transformers 5's deprecated ``is_gradient_checkpointing`` (its own code, not ours: a FutureWarning on
# every LoRA model with gradient checkpointing on)
PEFT_CHATTER = {"warnings_matching": [r"`is_gradient_checkpointing` is deprecated"]}


def add_lora(backbone: nn.Module, r: int, alpha: float | None = None, dropout: float = 0.0,
             target_modules: list[str] | None = None) -> nn.Module:
    """``backbone`` with LoRA adapters (a ``PeftModel``); every other weight frozen."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=int(r), lora_alpha=float(alpha if alpha is not None else 2 * r), lora_dropout=float(dropout),
                        target_modules=list(target_modules) if target_modules else None, bias="none")
    try:
        with chatter_muted(**PEFT_CHATTER):
            model = get_peft_model(backbone, config)
    except ValueError as exc:
        raise ModelLoadError(
            f"model.lora: {str(exc).splitlines()[0]} (set model.lora.target_modules to the names of the "
            f"{type(backbone).__name__}'s linear layers to adapt)"
        ) from None
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    log.info("LoRA r=%d on %s: %s trainable parameters of %s (%.3f%%)", r, ", ".join(sorted(model.peft_config["default"].target_modules)),
             f"{trainable:,}", f"{total:,}", 100 * trainable / max(total, 1))
    return model


def merged_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """The base model's weights with each adapter merged in (``W + ΔW``), under the base model's own names;
    ``model`` is left as it is (nothing merged in place)."""
    from peft.tuners.lora import LoraLayer

    base = model.get_base_model()
    state = {k.replace(".base_layer.", "."): v for k, v in base.state_dict().items() if not is_adapter_key(k)}
    for name, layer in base.named_modules():
        if isinstance(layer, LoraLayer):
            for adapter in layer.active_adapters:
                weight = layer.get_base_layer().weight
                key = f"{name}.weight"
                state[key] = state[key] + layer.get_delta_weight(adapter).to(weight.dtype)
    return state


def save_merged(model: nn.Module, out_dir: str, adapter: bool = True) -> None:
    """A plain Hugging Face model with the adapters merged, and (``adapter``) the adapter alone in ``adapter/``."""
    base = model.get_base_model()
    base.save_pretrained(out_dir, state_dict={k: v.detach().contiguous() for k, v in merged_state_dict(model).items()})
    if adapter:
        model.save_pretrained(os.path.join(out_dir, ADAPTER_DIR))


def lora_settings(model: dict[str, Any]) -> dict[str, Any] | None:
    """``model.lora`` when it is on (``r`` set), else None."""
    lora = model.get("lora") or {}
    return lora if lora.get("r") else None
