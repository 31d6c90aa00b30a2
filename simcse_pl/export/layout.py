"""The names of the files an export folder holds beside the Hugging Face model, in one place: the writer, the
readers, the model card and the ONNX backend all refer to them, and none of them needs another to know them."""

from __future__ import annotations

CONFIG_NAME = "simcse_pl.json"
POOLER_WEIGHTS = "pooler.safetensors"
ONNX_FILE = "onnx/model.onnx"
INT8_FILE = "onnx/model_quint8_avx2.onnx"  # sentence-transformers' name for the avx2 dynamic int8 quantisation
CARD_NAME = "README.md"
