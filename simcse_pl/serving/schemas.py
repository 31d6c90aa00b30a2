"""The request and response bodies. Types are strict (a number is not a sentence), lists are never empty and
strings never blank: pydantic refuses the rest with a 422 before any model runs (``errors.py`` makes it one line).
Counts and lengths are the server's ``Limits`` (413), checked in the routes since they are set at startup.

``/v1/embeddings`` has the shape of OpenAI's embeddings API (``input``, ``model``, ``encoding_format``,
``dimensions``; ``data[].embedding``, ``usage``), so OpenAI clients and RAG tools talk to it unchanged; fields
those clients add and this server does not use (``user``) are ignored there, and refused elsewhere."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text = Annotated[str, StringConstraints(strict=True, min_length=1)]
Texts = Annotated[list[Text], Field(min_length=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    input: Text | Texts
    model: str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[int, Field(strict=True, gt=0)] | None = None
    prompt_name: str | None = Field(None, description="one of the model's prompts (GET /info), e.g. query")


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: Usage


class SimilarityRequest(Strict):
    sentence: Text
    candidates: Texts
    model: str | None = None
    prompt_name: str | None = None


class SimilarityResponse(BaseModel):
    model: str
    scores: list[float]
    took_ms: float


class SearchRequest(Strict):
    query: Text
    top_k: Annotated[int, Field(strict=True, gt=0)] = 5
    documents: Texts | None = Field(None, description="search these instead of the --corpus file")
    model: str | None = None
    query_prompt_name: str | None = None
    document_prompt_name: str | None = None


class SearchHit(BaseModel):
    rank: int
    index: int
    text: str
    score: float


class SearchResponse(BaseModel):
    model: str
    hits: list[SearchHit]
    corpus_size: int
    took_ms: float
