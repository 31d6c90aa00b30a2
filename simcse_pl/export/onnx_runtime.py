"""ONNX Runtime as the backbone of a ``SentenceEncoder``: fast CPU inference of an export
(``SimCSE.from_pretrained(dir, backend="onnx")``).

The files are laid out as sentence-transformers' ``backend="onnx"`` reads them, so one export serves both:
``<dir>/onnx/model.onnx`` is the transformer alone (inputs ``input_ids``, ``attention_mask`` and, when the tokenizer
makes them, ``token_type_ids``; output ``last_hidden_state``, the token embeddings), and the int8 file is the one
sentence-transformers' ``export_dynamic_quantized_onnx_model(model, "avx2", dir)`` writes,
``onnx/model_quint8_avx2.onnx``. As in sentence-transformers, pooling runs after the graph: here the pooler classes
of simcse_pl/poolers (and a kept MLP head) run in torch on the ONNX token embeddings, exactly as on the torch
backbone's, so no pooling is restated. What cannot run on the last layer's token embeddings of the plain sentence
is refused by ``check_pooler``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import torch
from torch import Tensor, nn
from transformers import AutoConfig
from transformers.modeling_outputs import BaseModelOutput
from transformers.utils import cached_file

from simcse_pl.data.files import file_sha256
from simcse_pl.errors import ModelLoadError
from simcse_pl.export.layout import CONFIG_NAME
from simcse_pl.encoders.sentence_encoder import SentenceEncoder
from simcse_pl.export.layout import ONNX_DIGESTS, ONNX_FILE

BACKENDS = ("torch", "onnx")
INSTALL = "pip install 'simcse-pl[onnx]'"
OUTPUT = "last_hidden_state"
REWRITE = "write it again with simcse-export --onnx or python -m simcse_pl.cli.onnx <model folder>"


def import_onnxruntime() -> Any:
    """onnxruntime, or a one-line error naming the extra that installs it (it is not a core dependency)."""
    try:
        import onnxruntime
    except ImportError:
        raise ModelLoadError(f"the ONNX backend needs onnxruntime: {INSTALL}") from None
    return onnxruntime


def check_saved_pooling(source: str) -> None:
    """The ONNX graph ends at the token embeddings, so the folder must say how to pool them (``simcse_pl.json`` or
    sentence-transformers' ``modules.json``); a plain Hugging Face folder's default, [CLS] through the encoder's own
    pooler layer, needs weights that are not in the graph."""
    if not any(cached_file(source, name, _raise_exceptions_for_missing_entries=False)
               for name in (CONFIG_NAME, "modules.json")):
        raise ModelLoadError(f"{source}: the ONNX backend needs an export that records its pooling ({CONFIG_NAME} "
                             "or modules.json); export it with simcse-pl first")


def check_pooler(model: SentenceEncoder) -> None:
    """Refuse, in one line, a pooler (or prompt) that needs more than the last layer's token embeddings of the
    sentence."""
    pooler = model.pooler
    if pooler.needs_hidden_states:
        raise ModelLoadError(f"pooler {pooler.kind!r} reads layers other than the last, and the ONNX graph outputs "
                             "the last layer only (sentence-transformers' layout): use backend='torch'")
    if model.prompt is not None:
        raise ModelLoadError("a prompt template (model.prompt) runs the backbone on more than the sentence (the "
                             "template, its own position ids for denoising): use backend='torch'")


class OnnxBackbone(nn.Module):
    """A Hugging Face backbone's forward (token ids -> ``last_hidden_state``) run by ONNX Runtime on the CPU, with
    as many threads as torch has when it is built (``torch.set_num_threads``), so the two backends compare."""

    def __init__(self, path: str, config: Any) -> None:
        super().__init__()
        ort = import_onnxruntime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        self.session = open_session(ort, path, options)
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.config = config

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None,
                output_hidden_states: bool = False) -> BaseModelOutput:
        given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        feed = {k: v.cpu().numpy() for k, v in given.items() if v is not None and k in self.input_names}
        (hidden,) = self.session.run([OUTPUT], feed)
        return BaseModelOutput(last_hidden_state=torch.from_numpy(hidden))


def open_session(ort: Any, path: str, options: Any) -> Any:
    """ONNX Runtime's session of ``path``, or one ``ModelLoadError`` naming the file when it is not a model
    (truncated, garbage: onnxruntime raises its own exception types) or not a token-embedding graph (inputs
    ``input_ids`` and ``attention_mask``, output ``last_hidden_state``)."""
    try:
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - InvalidProtobuf, Fail, InvalidGraph ... all mean "not a usable model"
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ModelLoadError(f"{path}: not a readable ONNX model ({reason}); {REWRITE}") from None
    inputs = {i.name for i in session.get_inputs()}
    outputs = {o.name for o in session.get_outputs()}
    if not {"input_ids", "attention_mask"} <= inputs or OUTPUT not in outputs:
        raise ModelLoadError(f"{path}: not a token-embedding graph (inputs {sorted(inputs)}, outputs "
                             f"{sorted(outputs)}; expected input_ids, attention_mask -> {OUTPUT}); {REWRITE}")
    return session


def write_digests(paths: list[str]) -> str:
    """``ONNX_DIGESTS`` beside the ONNX files ``paths`` (all in one folder): what ``check_digest`` compares with."""
    folder = os.path.dirname(paths[0])
    target = os.path.join(folder, os.path.basename(ONNX_DIGESTS))
    with open(target, "w", encoding="utf-8") as f:
        json.dump({os.path.basename(p): file_sha256(p) for p in paths}, f, indent=2)
    return target


def check_digest(source: str, name: str, path: str) -> None:
    """Refuse an ONNX file changed since its export wrote ``ONNX_DIGESTS``: weights edited or an operator swapped
    still load and run, and would give other vectors without a word. Files the export did not write (no record,
    or not named in it: a sentence-transformers folder, an optimised copy added later) are not checked."""
    record = cached_file(source, ONNX_DIGESTS, _raise_exceptions_for_missing_entries=False)
    if record is None:
        return
    try:
        expected = json.loads(open(record, encoding="utf-8").read()).get(os.path.basename(name))
    except (ValueError, AttributeError):
        raise ModelLoadError(f"{record}: not the JSON object of SHA-256s the export writes; {REWRITE}") from None
    if expected is not None and file_sha256(path) != expected:
        raise ModelLoadError(f"{path}: changed since it was exported (its SHA-256 is not the one {ONNX_DIGESTS} "
                             f"records); {REWRITE}")


def load_backbone(source: str, file_name: str | None = None, trust_remote_code: bool = False) -> OnnxBackbone:
    """The ONNX backbone of the model folder (or hub repo) ``source``: ``file_name`` inside it, default
    ``onnx/model.onnx`` (``INT8_FILE`` for the int8 one)."""
    check_saved_pooling(source)
    name = file_name or ONNX_FILE
    path = cached_file(source, name, _raise_exceptions_for_missing_entries=False)
    if path is None:
        raise ModelLoadError(f"{source}: no {name}; write it with: python -m simcse_pl.cli.onnx {source}")
    check_digest(source, name, path)
    return OnnxBackbone(path, AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code))


def check_device(device: str | torch.device | None) -> torch.device:
    """The ONNX backend runs on the CPU (onnxruntime's CPUExecutionProvider); another device is a one-line error."""
    chosen = torch.device(device or "cpu")
    if chosen.type != "cpu":
        raise ValueError(f"device={str(chosen)!r}: the ONNX backend runs on the CPU (or use backend='torch')")
    return chosen
