"""SimCSE: encode sentences, compare them and search a corpus with a trained (or any) encoder.

``SimCSE.from_pretrained`` takes a directory written by ``simcse_pl.export.writer`` (its ``simcse_pl.json`` names the
pooler and the prompt template), a sentence-transformers directory (pooling read from ``modules.json``: mean, cls,
lasttoken, cls + tanh Dense), a plain Hugging Face model id or folder ([CLS] for an encoder, the last token for a
decoder), or a Lightning ``.ckpt`` of ``SimCSEModule`` (with LoRA: the base model named in it plus the checkpoint's
adapters); simcse_pl/saved_model.py reads each. Each becomes a ``SentenceEncoder`` (simcse_pl/encoder.py), the
object training uses, and vectors come from ``evaluation.encode``, the same code that scores STS, so search and
benchmark agree. Poolers are built by registered name only: no file chooses code.

``pooler="cls"`` means [CLS] + the model's trained MLP head when it keeps one at inference, else the encoder's
own pooler layer (SimCSE's convention for its released checkpoints, whose head is saved there).

``truncate_dim=k`` keeps the first ``k`` coordinates of each vector (then normalises, when asked): the use of a
model trained with ``loss=matryoshka``, whose export lists the trained sizes (``trained_dims``). Per call
(``encode(..., truncate_dim=k)``) or for every call (``from_pretrained(..., truncate_dim=k)``; ``similarity``,
``build_index`` and ``search`` then use it too). ``encode`` takes sentence-transformers' argument names and
returns what it returns (numpy by default), so code moves between the two unchanged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from simcse_pl.encoders.sentence_encoder import ROLES, SentenceEncoder
from simcse_pl.evaluation import encode, positive_int
from simcse_pl.export.onnx_runtime import BACKENDS, check_device
from simcse_pl.encoders.poolers import POOLERS
from simcse_pl.evaluation.progress import EncodingProgress
from simcse_pl.export.saved_model import load_saved

log = logging.getLogger(__name__)


class Hit(NamedTuple):
    index: int
    sentence: str
    score: float


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
        self._warned_dims: set[int] = set()  # check_dim warns once per untrained size
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
        model, spec, saved_length = load_saved(path_or_id, pooler, trust_remote_code, backend, file_name)
        max_length = saved_length if max_length is None else max_length
        if backend == "onnx":
            device = check_device(device)
        return cls(model, device, max_length, spec.normalize, precision, truncate_dim, spec.trained_dims)

    @property
    def dimension(self) -> int:
        """The size of the full sentence vectors (every pooler keeps the encoder's hidden size)."""
        return self.model.hidden_size

    def check_dim(self, dim: int, label: str | None = None) -> int:
        """``dim`` if vectors can be cut to it; the error names ``label`` (default ``truncate_dim=<dim>``; the
        CLIs pass their own option). A model that records the sizes it was trained to be cut to (an export of a
        ``loss=matryoshka`` run) warns once, in one line, for another size: nothing trained that prefix to stand
        alone, so it was accepted silently and scored low."""
        positive_int("truncate_dim", dim)
        label = label or f"truncate_dim={dim}"
        trained = ", ".join(map(str, self.trained_dims or []))
        if dim > self.dimension:
            sizes = f" (trained sizes: {trained})" if trained else ""
            raise ValueError(f"{label}: larger than the model's {self.dimension}-dimensional vectors{sizes}")
        if trained and dim not in (*self.trained_dims, self.dimension) and dim not in self._warned_dims:
            self._warned_dims.add(dim)
            log.warning("%s: not one of the sizes this model was trained to be cut to (%s); vectors cut to %d "
                        "coordinates may score well below those", label, trained, dim)
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
        prompt_name: str | None = None,
        prompt: str | None = None,
    ) -> np.ndarray | Tensor | list[Tensor]:
        """``[n, d]`` float32 vectors (``[d]`` for one string), as sentence-transformers' ``encode`` returns them
        and with its argument names, so code written for one runs on the other: a numpy array by default, a tensor
        with ``convert_to_tensor=True``, a list of tensors with ``convert_to_numpy=False``.
        ``normalize_embeddings`` defaults to the model's own setting; ``truncate_dim`` keeps the first coordinates
        (default: the model's ``truncate_dim``, else all), normalised after the cut. ``show_progress_bar``: a bar on
        a terminal, plain lines on stderr elsewhere (simcse_pl/progress.py). ``prompt_name`` (``"query"`` /
        ``"document"``: the model's ``prompts``, model.prompts in training) or ``prompt`` (any text) goes before each
        sentence, as sentence-transformers adds its prompts."""
        single = isinstance(sentences, str)
        prefix = prompt if prompt is not None else self.prompt_text(prompt_name)
        batch = [prefix + s for s in _sentences("sentences", sentences)]
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

    def prompt_text(self, prompt_name: str | None) -> str:
        """The prefix the model keeps under ``prompt_name`` ("" for None, or a role it has no prefix for, as
        sentence-transformers' ``encode_query`` falls back to no prompt)."""
        if prompt_name is None:
            return ""
        if prompt_name not in ROLES:
            raise ValueError(f"prompt_name={prompt_name!r} is not one of {', '.join(ROLES)}")
        return self.model.roles.get(prompt_name, "")

    def encode_query(self, sentences: str | Sequence[str], **kwargs: Any) -> np.ndarray | Tensor | list[Tensor]:
        """``encode`` with the model's query prompt (sentence-transformers' ``encode_query``)."""
        return self.encode(sentences, prompt_name="query", **kwargs)

    def encode_document(self, sentences: str | Sequence[str], **kwargs: Any) -> np.ndarray | Tensor | list[Tensor]:
        """``encode`` with the model's document prompt (sentence-transformers' ``encode_document``)."""
        return self.encode(sentences, prompt_name="document", **kwargs)

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


def _max_length(model: SentenceEncoder) -> int:
    """The tokenizer's limit, capped by the positions the encoder has (some tokenizers say "unlimited"), less what
    a prompt template adds."""
    tokenizer, encoder = model.tokenizer, model.encoder
    positions = getattr(encoder.config, "max_position_embeddings", None) or tokenizer.model_max_length
    extra = model.prompt.extra_tokens if model.prompt is not None else 0
    return min(tokenizer.model_max_length, positions) - extra


