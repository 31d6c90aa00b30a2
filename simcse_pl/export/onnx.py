"""Write the ONNX files of an exported model, for fast CPU inference (simcse_pl/onnx_backend.py):

    python -m simcse_pl.cli.onnx outputs/.../model            # onnx/model.onnx + onnx/model_quint8_avx2.onnx
    python -m simcse_pl.cli.onnx outputs/.../model --no-quantize

The libraries do the work: ``torch.onnx.export(dynamo=True)`` (torch.export + onnxscript; the TorchScript
exporter is deprecated, and its trace of this transformers version's attention mask gave wrong token embeddings)
writes the backbone with sentence-transformers' ONNX signature and dynamic batch and sequence axes; ONNX Runtime's
``quantize_dynamic`` writes the int8 copy with the settings of Optimum's ``AutoQuantizationConfig.avx2`` (uint8
weights, per channel, symmetric, full 8-bit range), which sentence-transformers'
``export_dynamic_quantized_onnx_model(model, "avx2", dir)`` applies: uint8 weights do not saturate on CPUs without
VNNI, so the file suits any x86 CPU.

Why not sentence-transformers itself: its ONNX and OpenVINO backends need optimum-onnx / optimum-intel, and the
published ones (optimum-onnx 0.1.0: transformers<4.58; optimum-intel 2.2.0: transformers<5.6) do not support this
project's transformers 5. The files here are where its ``backend="onnx"`` looks, for when they do.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor, nn

from simcse_pl.console import chatter_muted
from simcse_pl.encoders.backbone import model_inputs
from simcse_pl.encoders.sentence_encoder import SentenceEncoder
from simcse_pl.errors import ModelLoadError
from simcse_pl.export.layout import INT8_FILE, ONNX_FILE
from simcse_pl.export.onnx_runtime import (
    INSTALL, OUTPUT, check_pooler, check_saved_pooling, import_onnxruntime, write_digests,
)
from simcse_pl.export.saved_model import load_saved
from simcse_pl.export.staging import staged_folder

# two rows of different lengths: torch.export specialises an axis it only ever sees at size 1
TRACE_SENTENCES = ["a sentence long enough to trace the encoder with", "a short one"]
# what the exporter and the quantizer print on every export and is no news: torch.onnx lists the torchvision
# operators it skips (this model has none), warns that the inputs' shared batch / sequence axes keep one name
# each (they do share them), and ONNX Runtime advises a pre-processing pass meant for vision models
EXPORTER_CHATTER = {"loggers": ["torch.onnx._internal.exporter._registration"],
                    "warnings_matching": [r"# The axis name: \w+ will not be used"]}
QUANTIZER_CHATTER = {"records_matching": [r"^Please consider to run pre-processing before quantization"]}


class TokenEmbeddings(nn.Module):
    """The backbone with sentence-transformers' ONNX signature: token ids -> ``last_hidden_state``."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        return self.backbone(**model_inputs(input_ids, attention_mask, token_type_ids)).last_hidden_state


def export_onnx(model_dir: str | os.PathLike[str], quantize: bool = True) -> list[str]:
    """Write ``<model_dir>/onnx/model.onnx`` (and, with ``quantize``, ``onnx/model_quint8_avx2.onnx``) from the
    model saved in ``model_dir`` (simcse-pl's export or a sentence-transformers folder); returns the paths written.
    ``onnx/`` is written whole or not at all (``staged_folder``): a failed write (``ExportError``, a full disk)
    leaves the earlier one, and no file of it stays beside the new ones."""
    model = _onnx_ready(str(model_dir))
    final = os.path.join(model_dir, os.path.dirname(ONNX_FILE))
    with staged_folder(final) as stage:
        written = _write_files(model, str(stage), quantize)
    return [os.path.join(final, os.path.relpath(path, stage)) for path in written]


def write_onnx(model_dir: str | os.PathLike[str], quantize: bool = True) -> list[str]:
    """``export_onnx`` into a new ``onnx/`` of a folder that is itself being staged (simcse-export writes the
    export, card and ONNX files in one stage, so a failure here discards them all)."""
    model = _onnx_ready(str(model_dir))
    folder = os.path.join(model_dir, os.path.dirname(ONNX_FILE))
    os.mkdir(folder)
    return _write_files(model, folder, quantize)


def _onnx_ready(model_dir: str) -> SentenceEncoder:
    """The model of ``model_dir``, loaded, once it is known the ONNX backend can run it: a pooler or prompt it
    cannot run is refused before the (slow) export."""
    if not os.path.isdir(model_dir):
        raise ModelLoadError(f"{model_dir}: no such model folder")
    check_saved_pooling(model_dir)
    import_onnxruntime()
    model, _, _ = load_saved(model_dir)
    check_pooler(model)
    return model


def _write_files(model: SentenceEncoder, folder: str, quantize: bool) -> list[str]:
    """``model.onnx`` (and its int8 copy) in ``folder``, named as ``ONNX_FILE`` / ``INT8_FILE`` are in onnx/, and
    their SHA-256s (``ONNX_DIGESTS``), which loading checks."""
    path = os.path.join(folder, os.path.basename(ONNX_FILE))
    _export_backbone(model.encoder, model.tokenizer(TRACE_SENTENCES, padding=True, return_tensors="pt"), path)
    written = [path]
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        written.append(os.path.join(folder, os.path.basename(INT8_FILE)))
        with chatter_muted(**QUANTIZER_CHATTER):
            quantize_dynamic(path, written[1], per_channel=True, reduce_range=False, weight_type=QuantType.QUInt8,
                             extra_options={"WeightSymmetric": True, "ActivationSymmetric": False})
    return [*written, write_digests(written)]


def _export_backbone(backbone: nn.Module, tokens: dict[str, Tensor], path: str) -> None:
    """torch.onnx's dynamo exporter on ``TokenEmbeddings``, batch and sequence axes dynamic (optimum's names)."""
    try:
        import onnxscript  # noqa: F401  (torch.onnx's dynamo exporter needs it)
    except ImportError:
        raise ModelLoadError(f"exporting to ONNX needs onnx and onnxscript: {INSTALL}") from None
    names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in tokens]
    batch, length = torch.export.Dim("batch_size"), torch.export.Dim("sequence_length")
    with chatter_muted(**EXPORTER_CHATTER):
        program = torch.onnx.export(
            TokenEmbeddings(backbone).eval(), (), kwargs={k: tokens[k] for k in names}, dynamo=True,
            dynamic_shapes={k: {0: batch, 1: length} for k in names}, output_names=[OUTPUT], verbose=False,
        )
    program.save(path)
