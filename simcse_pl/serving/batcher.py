"""Concurrent requests encoded together, as text-embeddings-inference and infinity do: one forward pass over
many requests' texts costs far less per text than one pass per request (on a CPU the fixed cost of a call is
most of a small one's time).

The first waiting request opens a collection window (``window_ms``); requests that arrive within it join the
batch until it holds ``max_batch`` texts, then one call encodes them all and each request gets its rows back. The
model runs in one worker thread, so the event loop keeps accepting requests while it computes, and two forward
passes never share the model. ``enabled=False`` encodes each request on its own (the benchmark's baseline)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

Encode = Callable[[list[str]], np.ndarray]


@dataclass
class _Waiting:
    texts: list[str]
    result: asyncio.Future[np.ndarray] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Batcher:
    """``await encode(texts)`` -> ``[len(texts), d]`` vectors, computed together with other waiting requests."""

    def __init__(self, encode: Encode, window_ms: float = 5.0, max_batch: int = 256, enabled: bool = True) -> None:
        self._encode = encode
        self.window_s = window_ms / 1000
        self.max_batch = max_batch
        self.enabled = enabled
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="simcse-encode")
        self._queue: asyncio.Queue[_Waiting] | None = None
        self._worker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Begin collecting (on the running event loop: the server's, created after the model loaded)."""
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._collect()) if self.enabled else None

    async def stop(self) -> None:
        """Stop collecting and drop queued work: shutdown must not wait for a backlog."""
        if self._worker is not None:
            self._worker.cancel()
        self._thread.shutdown(wait=False, cancel_futures=True)

    async def encode(self, texts: list[str]) -> np.ndarray:
        if not self.enabled:
            return await asyncio.get_running_loop().run_in_executor(self._thread, self._encode, texts)
        assert self._queue is not None, "Batcher.start() first"
        waiting = _Waiting(texts)
        await self._queue.put(waiting)
        return await waiting.result

    async def _collect(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            size, deadline = len(batch[0].texts), loop.time() + self.window_s
            while size < self.max_batch:
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), deadline - loop.time()))
                except asyncio.TimeoutError:  # TimeoutError from 3.11 on
                    break
                size += len(batch[-1].texts)
            await self._run(batch)

    async def _run(self, batch: list[_Waiting]) -> None:
        """One forward pass for the whole batch; its rows handed back in order (an error goes to every request)."""
        texts = [t for waiting in batch for t in waiting.texts]
        try:
            vectors = await asyncio.get_running_loop().run_in_executor(self._thread, self._encode, texts)
        except Exception as exc:  # noqa: BLE001 - handed to the requests that wait on it
            for waiting in batch:
                if not waiting.result.done():
                    waiting.result.set_exception(exc)
            return
        start = 0
        for waiting in batch:
            if not waiting.result.done():  # a request whose client went away is cancelled
                waiting.result.set_result(vectors[start:start + len(waiting.texts)])
            start += len(waiting.texts)
