"""Concurrent requests share forward passes: those arriving within the window are encoded in one call and each
gets its own rows back; a full batch goes at once; with batching off each request is its own call; an error in
the call reaches every request of the batch."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from simcse_pl.serving.batcher import Batcher


class Recorder:
    """An encoder that remembers each call's texts; a text's vector is its length (so rows can be checked)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        if "boom" in texts:
            raise RuntimeError("boom")
        self.calls.append(list(texts))
        return np.array([[len(t)] for t in texts], dtype=np.float32)


def serve(batcher: Batcher, requests: list[list[str]]) -> list[np.ndarray | BaseException]:
    async def go() -> list[np.ndarray | BaseException]:
        await batcher.start()
        try:
            return await asyncio.gather(*(batcher.encode(r) for r in requests), return_exceptions=True)
        finally:
            await batcher.stop()

    return asyncio.run(go())


REQUESTS = [["a"], ["bb", "ccc"], ["dddd"], ["eeeee", "f", "gg"]]


def test_requests_in_the_window_share_one_call():
    encode = Recorder()
    answers = serve(Batcher(encode, window_ms=50, max_batch=64), REQUESTS)
    assert len(encode.calls) == 1 and encode.calls[0] == [t for r in REQUESTS for t in r]
    for request, rows in zip(REQUESTS, answers, strict=True):
        assert rows[:, 0].tolist() == [len(t) for t in request]


def test_a_full_batch_does_not_wait():
    encode = Recorder()
    serve(Batcher(encode, window_ms=10_000, max_batch=3), REQUESTS)  # would take 10 s a batch if it waited
    assert [len(c) for c in encode.calls] == [3, 4]


def test_without_batching_each_request_is_one_call():
    encode = Recorder()
    answers = serve(Batcher(encode, enabled=False), REQUESTS)
    assert encode.calls == REQUESTS and answers[1][:, 0].tolist() == [2, 3]


def test_an_error_reaches_every_request_of_its_batch():
    answers = serve(Batcher(Recorder(), window_ms=50), [["ok"], ["boom"]])
    assert all(isinstance(a, RuntimeError) for a in answers)


@pytest.mark.parametrize("enabled", [True, False])
def test_stop_returns_at_once(enabled: bool):
    async def go() -> None:
        batcher = Batcher(Recorder(), enabled=enabled)
        await batcher.start()
        await asyncio.wait_for(batcher.stop(), 1)

    asyncio.run(go())
