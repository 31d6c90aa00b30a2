"""Load on ``simcse-serve``: latency and throughput of ``POST /v1/embeddings`` at several numbers of concurrent
clients, with batching on and off, against 127.0.0.1 only.

    flock /tmp/simcse-cpu.lock python scripts/benchmark_serve.py MODEL            # 2,000 requests at 1, 8, 32 clients
    python scripts/benchmark_serve.py MODEL --requests 200 --clients 4 --modes batched
    python scripts/benchmark_serve.py --port 8000                                    # a server already running here

For each mode the script starts its own server (``python -m simcse_pl.cli.serve MODEL``, ``--no-batching`` for
``unbatched``) on a free 127.0.0.1 port, warms it up, then for each client count sends ``--requests`` requests of
1-8 sentences (seeded, the same for every run; vectors as base64, as the OpenAI client asks for them) from that
many concurrent clients, stopping early after ``--max-seconds``. It prints one row per mode and client count
(requests, errors, p50/p95/p99 latency, requests/s, sentences/s, and the CPU time the clients themselves took per
request) and, with both modes, batched over unbatched throughput at the most clients. ``--rounds N`` measures the
modes N times in turn (servers started afresh) and prints each round's ratio and their median: a shared machine's
speed drifts from minute to minute. The clients are aiohttp's, about 0.5 ms of CPU a request: they run on the
server's cores, and httpx's (about 4 ms a request here) took a quarter of a core from the batched server.
``--port`` measures a server already running on 127.0.0.1 instead (mode ``running``). Exit status 1 when any
request failed.

With MODEL, it then measures the ceiling in this process, with no HTTP and no clients: the first
``--ceiling-requests`` requests encoded one call each (what the unbatched server does) and grouped into batches of
``--max-batch`` texts in passes of ``--pass-size`` (what the batched server does when requests queue up), with the
server's options from ``--serve-args``. Their ratio is the most batching can gain on this machine's cores: the
servers add the same HTTP and client work per request to both modes, which only lowers it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from typing import NamedTuple
from pathlib import Path

import aiohttp
import numpy as np
import torch

from simcse_pl.cli.serve import parser as serve_parser
from simcse_pl.serving.served_model import load_model

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
WORDS = ("a the man woman child dog cat bird plays runs eats sleeps reads sings guitar ball fish book song in on "
         "under near park house river street red blue big small old young quickly slowly today yesterday").split()


class Level(NamedTuple):
    mode: str
    clients: int
    latencies: list[float]
    errors: int
    sentences: int
    seconds: float
    client_cpu: float

    def row(self) -> str:
        p50, p95, p99 = (np.percentile(self.latencies, q) * 1000 if self.latencies else float("nan")
                         for q in (50, 95, 99))
        done = len(self.latencies) + self.errors
        return (f"{self.mode:<10}{self.clients:>8}{done:>10}{self.errors:>8}{p50:>10.1f}{p95:>10.1f}{p99:>10.1f}"
                f"{self.throughput:>10.1f}{self.sentences / self.seconds:>12.1f}{self.client_cpu / done * 1000:>14.2f}")

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds


HEADER = (f"{'mode':<10}{'clients':>8}{'requests':>10}{'errors':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}"
          f"{'req/s':>10}{'sent/s':>12}{'client cpu ms':>14}")


def requests(count: int, seed: int) -> list[list[str]]:
    """``count`` requests of 1-8 sentences of 4-18 words, the same for a given seed."""
    rng = random.Random(seed)
    return [[" ".join(rng.choices(WORDS, k=rng.randint(4, 18))) for _ in range(rng.randint(1, 8))]
            for _ in range(count)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_server(args: Sequence[str], port: int, timeout: float = 180) -> subprocess.Popen[str]:
    """``python -m simcse_pl.cli.serve ARGS --port PORT`` (this checkout's package first), once ``/health`` answers."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "simcse_pl.cli.serve", *args, "--host", HOST, "--port", str(port)]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return wait_until_up(process, port, timeout)


def wait_until_up(process: subprocess.Popen[str], port: int, timeout: float = 180) -> subprocess.Popen[str]:
    """``process`` once it answers ``/health`` on ``port``; its output in the error when it exits or hangs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().strip() if process.stdout else ""
            raise RuntimeError(f"simcse-serve exited with {process.returncode}: {output}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"simcse-serve did not answer within {timeout:.0f} s")


async def load(url: str, batches: list[list[str]], clients: int, max_seconds: float,
               encoding_format: str = "base64") -> tuple[list[float], int, int, float]:
    """Send ``batches`` from ``clients`` concurrent clients until all are sent or ``max_seconds`` pass:
    (latencies of the answered ones, errors, sentences answered, seconds)."""
    pending = iter(batches)
    latencies: list[float] = []
    errors = sentences = 0
    start = time.perf_counter()

    async def client(http: aiohttp.ClientSession) -> None:
        nonlocal errors, sentences
        for texts in pending:
            if time.perf_counter() - start > max_seconds:
                return
            sent = time.perf_counter()
            try:
                async with http.post(url, json={"input": texts, "encoding_format": encoding_format}) as answer:
                    ok = answer.status == 200 and len((await answer.json())["data"]) == len(texts)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                ok = False
            if ok:
                latencies.append(time.perf_counter() - sent)
                sentences += len(texts)
            else:
                errors += 1

    connections = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connections, timeout=aiohttp.ClientTimeout(total=60)) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return latencies, errors, sentences, time.perf_counter() - start


def cpu_seconds() -> float:
    """CPU time of this process (the clients) so far: they share the cores with the server."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(args: argparse.Namespace, mode: str, port: int, batches: list[list[str]]) -> list[Level]:
    """Every client count against the server on ``port``, after a warm-up at the most clients (first calls of a
    shape allocate its memory: the batched server's large batches form only under that load)."""
    url = f"http://{HOST}:{port}/v1/embeddings"
    most = max(args.clients)
    asyncio.run(load(url, batches[:max(20, 4 * most)], most, args.max_seconds, args.encoding_format))
    levels = []
    for clients in args.clients:
        cpu = cpu_seconds()
        measured = asyncio.run(load(url, batches, clients, args.max_seconds, args.encoding_format))
        latencies, errors, sentences, seconds = measured
        levels.append(Level(mode, clients, latencies, errors, sentences, seconds, cpu_seconds() - cpu))
        print(levels[-1].row(), flush=True)
    return levels


def measure_own_server(args: argparse.Namespace, mode: str, batches: list[list[str]]) -> list[Level]:
    """``measure`` on a server started for ``mode`` (``--no-batching`` for unbatched), stopped afterwards."""
    port = free_port()
    server = start_server([args.model, *(["--no-batching"] if mode == "unbatched" else []), *args.serve_args], port)
    try:
        return measure(args, mode, port, batches)
    finally:
        server.terminate()
        server.wait(timeout=30)


def ceiling(args: argparse.Namespace, batches: list[list[str]]) -> list[str]:
    """Requests/s encoding ``batches`` in this process one call per request, then in the batched server's batches:
    the throughput each mode would have if HTTP and the clients cost nothing."""
    serve = serve_parser().parse_args([args.model, *args.serve_args])
    if serve.threads:
        torch.set_num_threads(serve.threads)
    model = load_model(serve.model, backend=serve.backend, file_name=serve.onnx_file, device=serve.device)
    requests_ = batches[:args.ceiling_requests]
    groups, group = [], []
    for texts in requests_:
        if group and sum(map(len, group)) + len(texts) > serve.max_batch:
            groups.append(group)
            group = []
        group.append(texts)
    groups.append(group)

    def rate(calls: list[list[str]]) -> float:
        model.encode(calls[0], serve.pass_size)  # warm-up
        start = time.perf_counter()
        for texts in calls:
            model.encode(texts, serve.pass_size)
        return len(requests_) / (time.perf_counter() - start)

    alone = rate(requests_)
    together = rate([[t for texts in g for t in texts] for g in groups])
    return [f"ceiling, in this process without HTTP ({len(requests_)} requests, {torch.get_num_threads()} threads): "
            f"one call per request {alone:.1f} req/s, batches of up to {serve.max_batch} texts in passes of "
            f"{serve.pass_size} {together:.1f} req/s: {together / alone:.2f}x"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", nargs="?", help="what simcse-serve serves (a run folder, an export …)")
    p.add_argument("--port", type=int, help="measure the server already running on 127.0.0.1:PORT instead")
    p.add_argument("--requests", type=int, default=2000, help="requests per client count (default 2000)")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32], help="concurrent clients (default 1 8 32)")
    p.add_argument("--modes", nargs="+", choices=("batched", "unbatched"), default=["batched", "unbatched"])
    p.add_argument("--max-seconds", type=float, default=120, help="stop a level after this long (default 120)")
    p.add_argument("--encoding-format", choices=("base64", "float"), default="base64",
                   help="how vectors come back (default base64: what the OpenAI client asks for)")
    p.add_argument("--rounds", type=int, default=1,
                   help="measure the modes this many times in turn, servers started afresh (a shared machine's speed "
                        "drifts by 10-20%%; the ratio's median is printed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ceiling-requests", type=int, default=400,
                   help="requests of the in-process ceiling measured after the servers (0: skip it)")
    p.add_argument("--serve-args", nargs=argparse.REMAINDER, default=[],
                   help="passed on to simcse-serve (e.g. --backend onnx); last on the line")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if min(args.requests, args.rounds, *args.clients) < 1 or (args.model is None) == (args.port is None):
        print("benchmark_serve: error: give MODEL or --port (not both); --requests, --clients, --rounds positive",
              file=sys.stderr)
        return 2
    batches = requests(args.requests, args.seed)
    target = args.model or f"the server on port {args.port}"
    print(f"{args.requests} requests of 1-8 sentences ({sum(map(len, batches))} sentences) to {target} on {HOST}")
    print(HEADER)
    try:
        if args.port is not None:
            levels = measure(args, "running", args.port, batches)
        else:
            levels = [level for _ in range(args.rounds) for mode in args.modes
                      for level in measure_own_server(args, mode, batches)]
    except RuntimeError as exc:
        print(f"benchmark_serve: error: {exc}", file=sys.stderr)
        return 2
    most = max(args.clients)
    at_most = {mode: [level.throughput for level in levels if level.clients == most and level.mode == mode]
               for mode in ("batched", "unbatched")}
    if all(at_most.values()):
        ratios = [b / u for b, u in zip(at_most["batched"], at_most["unbatched"], strict=True)]
        print(f"at {most} clients, batched / unbatched throughput: {' '.join(f'{r:.2f}x' for r in ratios)}"
              + (f" (median {np.median(ratios):.2f}x of {len(ratios)} rounds)" if len(ratios) > 1 else ""))
    if args.model is not None and args.ceiling_requests > 0:
        print("\n".join(ceiling(args, batches)))
    return 1 if any(level.errors for level in levels) else 0


if __name__ == "__main__":
    sys.exit(main())
