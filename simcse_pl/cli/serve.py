"""``simcse-serve``: a model behind a JSON API and a playground page (simcse_pl/serving/).

    simcse-serve outputs/quickstart/<date>_<time>                      # a run folder: its export and scores
    simcse-serve RUN --compare untrained --corpus docs.txt             # trained vs. starting model, side by side
    simcse-serve MODEL --backend onnx --port 8080                      # an export with simcse-export --onnx

Binds 127.0.0.1 unless ``--host`` says otherwise; CORS off unless ``--cors ORIGIN``. Models load before the
server starts; an error in them (or in ``--corpus``) is one line and exit status 2. SIGTERM or Ctrl-C stops it
within seconds (uvicorn's own signal handling, with a short grace period for open requests)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from simcse_pl.cli.evaluate import _positive_int
from simcse_pl.errors import DataError, ModelLoadError
from simcse_pl.serving.limits import Limits

SHUTDOWN_GRACE_S = 3  # open requests get this long after SIGTERM, then the server exits anyway
# torch's OpenMP threads sleep when idle instead of spinning: the model's thread shares the cores with the event loop
# (and, on one machine, with the clients), and a spinning thread takes the core the others need to hand it work.
# Measured at 32 clients on 2 cores: +14% batched, +5% unbatched. Set before torch loads; OMP_WAIT_POLICY wins.
OMP_WAIT = ("OMP_WAIT_POLICY", "PASSIVE")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simcse-serve", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="run folder, export, .ckpt, sentence-transformers or Hugging Face folder / id")
    p.add_argument("--compare", metavar="MODEL2",
                   help="a second model answered beside the first; 'untrained': the run's starting model")
    p.add_argument("--corpus", metavar="FILE", help="documents for /search, one a line")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--cors", metavar="ORIGIN", help="allow browser pages from ORIGIN to call the API (default: none)")
    p.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    p.add_argument("--onnx-file", metavar="NAME", help="with --backend onnx: the file (default onnx/model.onnx)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 … (default: cuda when available)")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="let transformers run the model's own Python code (never turned on by a file or a request)")
    p.add_argument("--no-batching", action="store_true", help="one forward pass per request (benchmark baseline)")
    p.add_argument("--batch-window-ms", type=float, default=5.0, help="how long a batch collects requests (default 5)")
    p.add_argument("--max-batch", type=_positive_int, default=256, help="texts a batch collects (default 256)")
    p.add_argument("--pass-size", type=_positive_int, default=32,
                   help="texts in one forward pass, grouped by length so passes pad little (default 32; on a GPU, "
                        "where a pass of 256 costs about what one of 32 does, --max-batch)")
    p.add_argument("--threads", type=_positive_int,
                   help="torch's CPU threads for the model (default: torch's own, one per core)")
    p.add_argument("--max-texts", type=_positive_int, default=256, help="texts in one request")
    p.add_argument("--max-chars", type=_positive_int, default=4000, help="characters in one text")
    p.add_argument("--max-corpus", type=_positive_int, default=10_000, help="documents in a search corpus")
    p.add_argument("--max-body-bytes", type=_positive_int,
                   help="bytes in one request body (default: max-texts x max-chars x 6 + 64 KiB, room for every "
                        f"character as a \\uXXXX escape: {Limits().max_body_bytes:,} with the defaults)")
    return p


def build_server(args: argparse.Namespace) -> Any:
    """The loaded models (MODEL, then --compare), the corpus, limits and batching, as ``serving.app.Server``."""
    import torch

    from simcse_pl.serving.app import Batching, Server
    from simcse_pl.serving.corpus import read_corpus
    from simcse_pl.serving.served_model import UNTRAINED, load_model, load_untrained

    if args.threads:
        torch.set_num_threads(args.threads)
    load = {"backend": args.backend, "file_name": args.onnx_file, "device": args.device,
            "trust_remote_code": args.trust_remote_code}
    limits = Limits(args.max_texts, args.max_chars, args.max_corpus, max_body_bytes=args.max_body_bytes)
    corpus = read_corpus(args.corpus, limits) if args.corpus else []
    models = [load_model(args.model, **load)]
    if args.compare == UNTRAINED:
        models.append(load_untrained(args.model, args.trust_remote_code, args.device))
    elif args.compare:
        second = load_model(args.compare, **load)
        if second.id == models[0].id:
            second.id = f"{second.id} (compare)"
        models.append(second)
    batching = Batching(not args.no_batching, args.batch_window_ms, args.max_batch, args.pass_size)
    return Server(models, corpus, limits, batching)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.environ.setdefault(*OMP_WAIT)
    try:
        import uvicorn

        from simcse_pl.serving.app import create_app
    except ImportError as exc:
        print(f"simcse-serve: error: {exc.name} is missing: pip install 'simcse-pl[serve]'", file=sys.stderr)
        return 2
    from simcse_pl.console import quiet_libraries

    quiet_libraries()
    try:
        server = build_server(args)
    except (DataError, ModelLoadError, ValueError, OSError) as exc:
        print(f"simcse-serve: error: {exc}", file=sys.stderr)
        return 2
    names = ", ".join(server.models)
    print(f"simcse-serve: {names} on http://{args.host}:{args.port}/ (API: /openapi.json, /docs)", flush=True)
    uvicorn.run(create_app(server, args.cors), host=args.host, port=args.port, log_level="warning",
                timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
    return 0


if __name__ == "__main__":
    sys.exit(main())
