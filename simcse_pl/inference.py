"""SimCSE: encode sentences, compare them and search a corpus with a trained (or any) encoder.

``SimCSE.from_pretrained`` takes a directory written by ``simcse_pl.export`` (its ``simcse_pl.json`` names the
pooler and the prompt template), a sentence-transformers directory (pooling read from ``modules.json``: mean,
cls, lasttoken, cls + tanh Dense), a plain Hugging Face model id or folder ([CLS] for an encoder, the last token
for a decoder), or a Lightning ``.ckpt`` of ``SimCSEModule`` (with LoRA: the base model named in it plus the
checkpoint's adapters). Each becomes a ``SentenceEncoder`` (simcse_pl/encoder.py), the object training uses, and
vectors come from ``evaluation.encode``, the same code that scores STS, so search and benchmark agree. Poolers
are built by registered name only: no file chooses code.

``pooler="cls"`` means [CLS] + the model's trained MLP head when it keeps one at inference, else the encoder's
own pooler layer (SimCSE's convention for its released checkpoints, whose head is saved there).

``truncate_dim=k`` keeps the first ``k`` coordinates of each vector (then normalises, when asked): the use of a
model trained with ``loss=matryoshka``, whose export lists the trained sizes (``trained_dims``). Per call
(``encode(..., truncate_dim=k)``) or for every call (``from_pretrained(..., truncate_dim=k)``; ``similarity``,
``build_index`` and ``search`` then use it too). ``encode`` takes sentence-transformers' argument names and
returns what it returns (numpy by default), so code moves between the two unchanged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import Tensor, nn
from transformers import PreTrainedModel
from transformers.tokenization_utils_base import PreTrainedTokenizerBase
from transformers.utils import cached_file

from simcse_pl.encoder import ModelLoadError, SentenceEncoder, family_of, load_encoder, load_tokenizer, resolve_name_or_path
from simcse_pl.evaluation import encode, positive_int
from simcse_pl.export import CONFIG_NAME, POOLER_WEIGHTS
from simcse_pl.lora import is_adapter_key
from simcse_pl.onnx_backend import BACKENDS, check_device, check_pooler, load_backbone
from simcse_pl.poolers import POOLERS
from simcse_pl.progress import EncodingProgress
from simcse_pl.resume import read_checkpoint

# sentence-transformers pooling modes that one of our poolers reproduces
ST_POOLING = {"mean": "avg", "cls": "cls_before_pooler", "lasttoken": "last_token"}
# the settings of a checkpoint's model.* that loading it uses (all plain data; the pooler is a registered name)
CHECKPOINT_SETTINGS = ("name_or_path", "random_init", "pooler", "mlp_only_train", "prompt", "bidirectional",
                       "padding_side", "attention_dropout", "dtype", "lora")


class Hit(NamedTuple):
    index: int
    sentence: str
    score: float


class PoolingSpec(NamedTuple):
    """How a saved model pools: the pooler kind, its trained MLP head (if kept at inference), unit-norm output."""

    kind: str
    mlp: dict[str, Tensor] | None = None
    normalize: bool = False
    trained_dims: list[int] | None = None  # the prefix sizes a Matryoshka objective trained (simcse_pl.json)
    prompt: dict[str, Any] | None = None  # model.prompt (simcse_pl.json)


class SimCSE:
    """A sentence encoder: ``encode``, ``similarity``, and ``build_index`` + ``search`` over a corpus."""

    def __init__(
        self,
        model: SentenceEncoder,
        device: str | torch.device | None = None,
        max_length: int | None = None,
        normalize: bool = False,
        precision: str = "auto",
        truncate_dim: int | None = None,
        trained_dims: list[int] | None = None,
    ) -> None:
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.eval().to(self.device)
        default = _max_length(model)
        self.max_length = default if max_length is None else positive_int("max_length", max_length)
        self.normalize = normalize
        self.precision = precision  # see evaluation.PRECISIONS: "auto" is fp32 on CPUs, bf16/fp16 on GPUs
        self.trained_dims = trained_dims
        self.truncate_dim = None if truncate_dim is None else self.check_dim(truncate_dim)
        self.corpus: list[str] = []
        self._index: Any = None

    @property
    def encoder(self) -> nn.Module:
        return self.model.encoder

    @property
    def pooler(self) -> nn.Module:
        return self.model.pooler

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        return self.model.tokenizer

    @classmethod
    def from_pretrained(
        cls,
        path_or_id: str | os.PathLike[str],
        pooler: str | None = None,
        device: str | torch.device | None = None,
        max_length: int | None = None,
        precision: str = "auto",
        trust_remote_code: bool = False,
        truncate_dim: int | None = None,
        backend: str = "torch",
        file_name: str | None = None,
    ) -> SimCSE:
        """Load a model; ``pooler`` overrides the one it was saved with. ``trust_remote_code`` lets transformers
        run the model folder's (or hub repo's) own Python code; only the caller can allow it, never a file.
        ``truncate_dim``: every vector cut to its first ``truncate_dim`` coordinates (a Matryoshka model's
        ``trained_dims``), sentence-transformers' name for it.
        ``backend="onnx"``: the backbone through ONNX Runtime on the CPU (simcse_pl/onnx_backend.py), read from
        ``file_name`` in the folder (default ``onnx/model.onnx``; ``onnx/model_quint8_avx2.onnx`` for int8), as
        sentence-transformers' ``backend`` and ``model_kwargs={"file_name": ...}``."""
        path_or_id = str(path_or_id)
        if backend not in BACKENDS:
            raise ValueError(f"backend={backend!r} is not one of {', '.join(BACKENDS)}")
        if file_name is not None and backend != "onnx":
            raise ValueError(f"file_name={file_name!r} names an ONNX file: pass backend='onnx' too")
        if pooler is not None and pooler not in POOLERS:
            raise ValueError(f"pooler={pooler!r} is not one of {', '.join(POOLERS)}")
        if path_or_id.endswith(".ckpt"):
            if backend == "onnx":
                raise ModelLoadError(f"{path_or_id}: the ONNX backend loads an exported folder, not a checkpoint")
            model, spec = _from_checkpoint(path_or_id, trust_remote_code, pooler)
        else:
            source = resolve_name_or_path(path_or_id)
            if backend == "onnx":
                encoder = load_backbone(source, file_name, trust_remote_code)
            else:
                encoder = load_encoder(path_or_id, trust_remote_code=trust_remote_code)
            saved = _saved_pooling(source)
            # a saved model's tokenizer is used as saved (a decoder's already appends EOS when simcse-pl wrote it)
            tokenizer = load_tokenizer(path_or_id, trust_remote_code=trust_remote_code, decoder_setup=saved is None)
            spec = saved or PoolingSpec(_default_pooler(encoder))
            max_length = _st_max_length(source) if max_length is None else max_length
            model = _build(encoder, tokenizer, pooler or spec.kind, spec)
        if backend == "onnx":
            check_pooler(model.pooler)
            device = check_device(device)
        return cls(model, device, max_length, spec.normalize, precision, truncate_dim, spec.trained_dims)

    @property
    def dimension(self) -> int:
        """The size of the full sentence vectors (every pooler keeps the encoder's hidden size)."""
        return self.model.hidden_size

    def check_dim(self, dim: int, label: str | None = None) -> int:
        """``dim`` if vectors can be cut to it; the error names ``label`` (default ``truncate_dim=<dim>``; the
        CLIs pass their own option)."""
        positive_int("truncate_dim", dim)
        if dim > self.dimension:
            trained = f" (trained sizes: {', '.join(map(str, self.trained_dims))})" if self.trained_dims else ""
            raise ValueError(f"{label or f'truncate_dim={dim}'}: larger than the model's {self.dimension}-dimensional vectors{trained}")
        return dim

    def embed(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        """Sentence vectors for token ids, exactly as ``SimCSEModule.embed`` computes them (the same
        ``SentenceEncoder``)."""
        return self.model(input_ids, attention_mask, token_type_ids)

    def encode(
        self,
        sentences: str | Sequence[str],
        batch_size: int = 128,
        show_progress_bar: bool = False,
        normalize_embeddings: bool | None = None,
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        truncate_dim: int | None = None,
    ) -> np.ndarray | Tensor | list[Tensor]:
        """``[n, d]`` float32 vectors (``[d]`` for one string), as sentence-transformers' ``encode`` returns them
        and with its argument names, so code written for one runs on the other: a numpy array by default, a tensor
        with ``convert_to_tensor=True``, a list of tensors with ``convert_to_numpy=False``.
        ``normalize_embeddings`` defaults to the model's own setting; ``truncate_dim`` keeps the first coordinates
        (default: the model's ``truncate_dim``, else all), normalised after the cut. ``show_progress_bar``: a bar on
        a terminal, plain lines on stderr elsewhere (simcse_pl/progress.py)."""
        single = isinstance(sentences, str)
        batch = _sentences("sentences", sentences)
        dim = self.truncate_dim if truncate_dim is None else self.check_dim(truncate_dim)
        progress = EncodingProgress(len(batch)) if show_progress_bar else None
        vectors = encode(self.embed, self.tokenizer, batch, batch_size, self.max_length, self.device, self.precision,
                         progress=progress and progress.update)
        if progress is not None:
            progress.close()
        if dim is not None:
            vectors = vectors[:, :dim].contiguous()
        if self.normalize if normalize_embeddings is None else normalize_embeddings:
            vectors = F.normalize(vectors, dim=-1)
        vectors = vectors[0] if single else vectors
        if convert_to_tensor:
            return vectors
        return vectors.numpy() if convert_to_numpy else list(vectors)

    def _unit_vectors(self, sentences: list[str], batch_size: int = 128) -> Tensor:
        """Unit-length ``[n, d]`` tensors: what cosine similarity and search compare."""
        return self.encode(sentences, batch_size, normalize_embeddings=True, convert_to_tensor=True)

    def similarity(self, a: str | Sequence[str], b: str | Sequence[str], batch_size: int = 128) -> float | np.ndarray:
        """Cosine similarity: a float for two strings, else a ``[len(a), len(b)]`` array."""
        x = self._unit_vectors(_sentences("a", a), batch_size)
        y = self._unit_vectors(_sentences("b", b), batch_size)
        scores = (x @ y.T).numpy()
        return float(scores[0, 0]) if isinstance(a, str) and isinstance(b, str) else scores

    def build_index(self, corpus: Sequence[str], batch_size: int = 128) -> None:
        """Encode ``corpus`` for ``search``: a faiss inner-product index when faiss is installed, else a tensor.

        All or nothing: the corpus and its index are replaced together once the new index is built, so a
        failure leaves the previous pair in place (never old vectors pointing into new sentences)."""
        sentences = _sentences("corpus", corpus)
        vectors = self._unit_vectors(sentences, batch_size)
        try:
            import faiss
        except ImportError:
            index: Any = vectors
        else:
            index = faiss.IndexFlatIP(vectors.shape[1])
            index.add(vectors.numpy())
        self.corpus, self._index = sentences, index

    def search(self, queries: str | Sequence[str], top_k: int = 5) -> list[Hit] | list[list[Hit]]:
        """The ``top_k`` corpus sentences most cosine-similar to each query, best first."""
        positive_int("top_k", top_k)
        if self._index is None:
            raise RuntimeError("call build_index(corpus) before search")
        single = isinstance(queries, str)
        q = self._unit_vectors(_sentences("queries", queries))
        k = min(top_k, len(self.corpus))
        if isinstance(self._index, Tensor):
            scores, ids = (q @ self._index.T).topk(k, dim=-1)
        else:
            scores, ids = (torch.from_numpy(a) for a in self._index.search(q.numpy(), k))
        hits = [
            [Hit(int(i), self.corpus[int(i)], float(s)) for s, i in zip(row_s, row_i, strict=True)]
            for row_s, row_i in zip(scores, ids, strict=True)
        ]
        return hits[0] if single else hits


def _sentences(name: str, value: str | Sequence[str]) -> list[str]:
    """``value`` (one string or several) as a list, or a ``ValueError`` naming the argument when it is empty
    or holds something other than a string: the tokenizer's own error for those names neither."""
    items = [value] if isinstance(value, str) else list(value)
    if not items:
        raise ValueError(f"{name} is empty: give at least one sentence")
    bad = next((i for i, item in enumerate(items) if not isinstance(item, str)), None)
    if bad is not None:
        raise ValueError(f"{name}[{bad}] is {type(items[bad]).__name__}, not a string")
    return items


def _own_pooler(encoder: PreTrainedModel) -> nn.Module | None:
    """BERT-style pooler layer (dense + tanh) of the encoder, if it has one."""
    pooler = getattr(encoder, "pooler", None)
    return pooler if isinstance(getattr(pooler, "dense", None), nn.Linear) else None


def _default_pooler(encoder: nn.Module) -> str:
    """No saved pooling: SimCSE's [CLS] (through the encoder's own pooler layer when it has one) for an encoder, the
    last token (EOS) for a decoder."""
    if family_of(str(encoder.config.model_type)) == "decoder":
        return "last_token"
    return "cls" if _own_pooler(encoder) else "cls_before_pooler"


def _build(encoder: nn.Module, tokenizer: PreTrainedTokenizerBase, kind: str, spec: PoolingSpec) -> SentenceEncoder:
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
    return model


def _read_json(source: str, filename: str) -> Any:
    """``filename`` of a local model folder or hub repo, or None when it has no such file."""
    path = cached_file(source, filename, _raise_exceptions_for_missing_entries=False)
    if path is None:
        return None
    with open(path) as f:
        return json.load(f)


def _st_modules(source: str) -> list[dict[str, Any]]:
    return _read_json(source, "modules.json") or []


def _saved_pooling(source: str) -> PoolingSpec | None:
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
        return PoolingSpec(kind if kept else "cls_before_pooler", mlp, trained_dims=dims, prompt=config.get("prompt"))
    if not modules:
        return None
    pooling = next((m for m in modules if m["type"].endswith("Pooling")), None)
    mode = (_read_json(source, f"{pooling['path']}/config.json") if pooling else None) or {}
    kinds = [ST_POOLING.get(m) for m in _st_pooling_modes(mode)]
    if len(kinds) != 1 or kinds[0] is None or len(dense) > 1:
        raise ModelLoadError(f"{source}: sentence-transformers pooling {mode} is not one of simcse-pl's poolers")
    normalize = any(m["type"].endswith("Normalize") for m in modules)
    if dense:
        if kinds[0] != "cls_before_pooler":
            raise ModelLoadError(f"{source}: a Dense layer after mean pooling is not one of simcse-pl's poolers")
        return PoolingSpec("cls", _dense_weights(source, dense[0]["path"]), normalize)
    return PoolingSpec(kinds[0], None, normalize)


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


def _st_max_length(source: str) -> int | None:
    """sentence-transformers' ``max_seq_length``, so a folder encodes as ``SentenceTransformer`` would."""
    config = _read_json(source, "sentence_bert_config.json") if _st_modules(source) else None
    return (config or {}).get("max_seq_length")


def _max_length(model: SentenceEncoder) -> int:
    """The tokenizer's limit, capped by the positions the encoder has (some tokenizers say "unlimited"), less what
    a prompt template adds."""
    tokenizer, encoder = model.tokenizer, model.encoder
    positions = getattr(encoder.config, "max_position_embeddings", None) or tokenizer.model_max_length
    extra = model.prompt.extra_tokens if model.prompt is not None else 0
    return min(tokenizer.model_max_length, positions) - extra


def _from_checkpoint(
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
    spec = PoolingSpec(kind, mlp if keeps_mlp else None, prompt=model_cfg.get("prompt"))
    return _build(encoder.eval(), tokenizer, pooler or kind, spec), spec
