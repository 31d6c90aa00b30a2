"""The routes: ``/`` (the playground page), ``POST /v1/embeddings``, ``POST /similarity``, ``POST /search``,
``GET /health``, ``GET /info``; FastAPI writes their OpenAPI description (``/docs``, ``/openapi.json``).

Every text goes through the model's ``Batcher``, so concurrent requests share forward passes. The API docs
(``/docs``, Swagger UI) are fastapi-offline's: FastAPI's own page loads its scripts from a CDN, which a machine
without internet cannot reach; these come from that package, so no page the server sends loads anything from
elsewhere. ``/redoc`` is off: ReDoc's page loads its logo from redoc.ly whatever its script's origin. Requests carry text
only: no field names a file, a model to load or a code option; ``model`` picks one of the models loaded at startup.
CORS is off (same-origin only) unless ``cors`` names an origin."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from functools import partial
from importlib.resources import files

import numpy as np
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from simcse_pl.serving import errors
from simcse_pl.serving.batcher import Batcher
from simcse_pl.serving.body_limit import BodyLimit
from simcse_pl.serving.corpus import top_k, unit
from simcse_pl.serving.errors import UnknownModel
from simcse_pl.serving.limits import Limits, TooLarge
from simcse_pl.serving.prompts import apply_prompt
from simcse_pl.serving.schemas import (
    Embedding, EmbeddingsRequest, EmbeddingsResponse, SearchHit, SearchRequest, SearchResponse, SimilarityRequest,
    SimilarityResponse, Usage,
)
from simcse_pl.serving.served_model import ServedModel

STATIC = files("simcse_pl.serving") / "static"


@dataclass(frozen=True)
class Batching:
    """The collection window and batch size of every model's ``Batcher``; ``enabled=False``: one call a request.
    ``pass_size``: texts in one forward pass within a call (``ServedModel.encode``)."""

    enabled: bool = True
    window_ms: float = 5.0
    max_batch: int = 256
    pass_size: int = 32


class Server:
    """The loaded models, their batchers and the ``--corpus`` documents with their vectors per model and prompt."""

    def __init__(self, models: list[ServedModel], corpus: list[str], limits: Limits, batching: Batching) -> None:
        self.models = {m.id: m for m in models}
        self.default = models[0].id
        self.corpus = corpus
        self.limits = limits
        self.batching = batching
        self.batchers = {m.id: Batcher(partial(m.encode, pass_size=batching.pass_size), batching.window_ms,
                                       batching.max_batch, batching.enabled) for m in models}
        self._corpus_vectors: dict[tuple[str, str | None], np.ndarray] = {}

    def model(self, name: str | None) -> ServedModel:
        if name is None:
            return self.models[self.default]
        if name not in self.models:
            raise UnknownModel(f"model={name!r}: not loaded here (loaded: {', '.join(self.models)})")
        return self.models[name]

    async def encode(self, model: ServedModel, texts: list[str], prompt: str | None = None) -> np.ndarray:
        return await self.batchers[model.id].encode(apply_prompt(model.prompts, prompt, texts))

    async def corpus_vectors(self, model: ServedModel, prompt: str | None) -> np.ndarray:
        """The ``--corpus`` file's vectors under ``model`` and ``prompt``, encoded on first use and kept."""
        key = (model.id, prompt)
        if key not in self._corpus_vectors:
            self._corpus_vectors[key] = await self.encode(model, self.corpus, prompt)
        return self._corpus_vectors[key]


def create_app(server: Server, cors: str | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        """Batchers start, then the ``--corpus`` file is encoded by each model before the first request (a large
        one takes a while: ``/health`` answers once searches are fast)."""
        for batcher in server.batchers.values():
            await batcher.start()
        if server.corpus:
            for model in server.models.values():
                await server.corpus_vectors(model, None)
        yield
        for batcher in server.batchers.values():
            await batcher.stop()

    app = FastAPIOffline(title="simcse-serve", summary="Sentence embeddings, similarity and search", lifespan=lifespan,
                         redoc_url=None)
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=server.limits.max_body_bytes)
    if cors:
        app.add_middleware(CORSMiddleware, allow_origins=[cors], allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type", "Authorization"])
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    limits = server.limits

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/info")
    async def info() -> dict[str, object]:
        return {"models": [m.info() for m in server.models.values()], "default_model": server.default,
                "corpus_size": len(server.corpus), "limits": asdict(limits), "batching": asdict(server.batching)}

    @app.post("/v1/embeddings")
    async def embeddings(request: EmbeddingsRequest) -> EmbeddingsResponse:
        """OpenAI's embeddings API: ``input`` one text or a list, ``data[i].embedding`` its vector."""
        texts = [request.input] if isinstance(request.input, str) else request.input
        limits.check_texts("input", texts)
        model = server.model(request.model)
        vectors = await server.encode(model, texts, request.prompt_name)
        if request.dimensions is not None:
            try:
                dim = model.model.check_dim(request.dimensions, f"dimensions={request.dimensions}")
            except ValueError as exc:
                raise errors.Refused(str(exc)) from None
            vectors = vectors[:, :dim]
            vectors = unit(vectors) if model.model.normalize else vectors
        data = [Embedding(index=i, embedding=_encoded(v, request.encoding_format)) for i, v in enumerate(vectors)]
        tokens = model.count_tokens(texts)
        return EmbeddingsResponse(data=data, model=model.id, usage=Usage(prompt_tokens=tokens, total_tokens=tokens))

    @app.post("/similarity")
    async def similarity(request: SimilarityRequest) -> SimilarityResponse:
        """Cosine similarity of ``sentence`` to each of ``candidates`` (``SimCSE.similarity``)."""
        limits.check_texts("candidates", [request.sentence, *request.candidates])
        model = server.model(request.model)
        start = time.perf_counter()
        vectors = unit(await server.encode(model, [request.sentence, *request.candidates], request.prompt_name))
        scores = (vectors[1:] @ vectors[0]).tolist()
        return SimilarityResponse(model=model.id, scores=scores, took_ms=_ms(start))

    @app.post("/search")
    async def search(request: SearchRequest) -> SearchResponse:
        """The ``top_k`` documents (pasted ``documents``, else the ``--corpus`` file) closest to ``query``."""
        limits.check_texts("query", [request.query])
        if request.top_k > limits.max_top_k:
            raise TooLarge(f"top_k: {request.top_k}, more than the limit of {limits.max_top_k}")
        model = server.model(request.model)
        start = time.perf_counter()
        if request.documents is not None:
            limits.check_texts("documents", request.documents, limits.max_corpus)
            texts = request.documents
            documents = await server.encode(model, texts, request.document_prompt_name)
        elif server.corpus:
            texts = server.corpus
            documents = await server.corpus_vectors(model, request.document_prompt_name)
        else:
            raise errors.NoCorpus("documents: none given and the server has no --corpus file")
        query = (await server.encode(model, [request.query], request.query_prompt_name))[0]
        ranked = top_k(query, documents, texts, request.top_k)
        hits = [SearchHit(rank=r + 1, **hit._asdict()) for r, hit in enumerate(ranked)]
        return SearchResponse(model=model.id, hits=hits, corpus_size=len(texts), took_ms=_ms(start))

    return app


def _encoded(vector: np.ndarray, encoding_format: str) -> list[float] | str:
    """A vector as OpenAI sends it: a list of floats, or base64 of its little-endian float32 bytes."""
    if encoding_format == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return vector.astype(np.float32).tolist()


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
