"""``python -m simcse_pl.cli.onnx MODEL_DIR [--no-quantize]``: write the ONNX files of an exported model
(simcse_pl/export/onnx.py), for ``SimCSE.from_pretrained(dir, backend="onnx")`` and ``simcse-eval --backend onnx``.
``simcse-export RUN --onnx`` does the same while exporting a run."""

from __future__ import annotations

import argparse
import os
import sys

from simcse_pl.errors import ModelLoadError
from simcse_pl.export.onnx import export_onnx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simcse_pl.cli.onnx", description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", help="exported model folder (simcse-pl or sentence-transformers)")
    parser.add_argument("--no-quantize", dest="quantize", action="store_false", help="skip the int8 file")
    args = parser.parse_args(argv)
    try:
        paths = export_onnx(args.model_dir, args.quantize)
    except (ModelLoadError, ValueError) as exc:
        print(f"onnx_export: error: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"{path}: {os.path.getsize(path) / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
