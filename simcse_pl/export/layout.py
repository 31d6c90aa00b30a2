"""The names of the files an export folder holds beside the Hugging Face model, in one place: the writer, the
readers, the model card and the ONNX backend all refer to them, and none of them needs another to know them."""

from __future__ import annotations

CONFIG_NAME = "simcse_pl.json"
POOLER_WEIGHTS = "pooler.safetensors"
ONNX_FILE = "onnx/model.onnx"
INT8_FILE = "onnx/model_quint8_avx2.onnx"  # sentence-transformers' name for the avx2 dynamic int8 quantisation
ONNX_DIGESTS = "onnx/sha256.json"  # {file name: SHA-256} of the ONNX files as exported, checked when one is loaded
CARD_NAME = "README.md"
ST_MODULES = "modules.json"  # sentence-transformers reads this first: the modules that make the model

# The type of the one module a non-exportable export's modules.json names. sentence-transformers (>= 6) quotes it in
# full in its refusal; with trust_remote_code=True it tries to import it and its error quotes it up to the first dot,
# so the advice comes before any dot. It ends in none of Pooling/Dense/Normalize, which readers look for.
ST_REFUSAL_HEAD = "simcse-pl export that sentence-transformers cannot load"
ST_REFUSAL = (
    ST_REFUSAL_HEAD + " (trust_remote_code does not change that): load it with "
    "simcse_pl.inference.SimCSE.from_pretrained(folder); transformers' AutoModel loads the backbone alone, without "
    "its pooler. Why: {reason}"
)


def st_refusal_modules(reason: str) -> list[dict[str, str]]:
    """What a folder that is no sentence-transformers model writes as ``modules.json``: one module whose type is the
    explanation, so ``SentenceTransformer(folder)`` fails saying how to load it instead of silently building a
    mean-pooling model (its fallback for a Hugging Face folder without modules.json) that gives other vectors."""
    return [{"idx": 0, "name": "0", "path": "", "type": ST_REFUSAL.format(reason=reason)}]


def is_st_refusal(modules: list[dict[str, str]]) -> bool:
    """Whether ``modules`` (a folder's modules.json) is ``st_refusal_modules``: the folder is no
    sentence-transformers model."""
    return any(str(m.get("type", "")).startswith(ST_REFUSAL_HEAD) for m in modules)
