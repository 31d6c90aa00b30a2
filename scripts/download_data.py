"""Fetch SimCSE's training corpora and SentEval's STS data into the data root, and cut the samples.

    python scripts/download_data.py --data-dir ./data            # quickstart files only (if missing)
    python scripts/download_data.py --data-dir ./data --full     # + wiki1m, nli_for_simcse, STS12-16, SICK-R
    python scripts/download_data.py --data-dir ./data --from DIR # use files already downloaded into DIR

Sources (Hugging Face dataset ``princeton-nlp/datasets-for-simcse``, as SimCSE's own scripts use):
``wiki1m_for_simcse.txt``, ``nli_for_simcse.csv`` and ``senteval.tar`` (SentEval's STS12-16, STS-B, SICK).
Nothing is downloaded when the files are already there.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tarfile
from pathlib import Path

REPO = "princeton-nlp/datasets-for-simcse"
QUICKSTART = ["wiki/wiki1m_head11914.txt", "stsb/sts-train.csv", "stsb/sts-dev.csv", "stsb/sts-test.csv"]
FULL = [
    "wiki/wiki1m_for_simcse.txt",
    "nli/nli_for_simcse.csv",
    "sick/SICK_test_annotated.txt",
    *(f"STS{y}-en-test" for y in range(12, 17)),
]
WIKI_SAMPLE, NLI_SAMPLE = 11_914, 72


def fetch(name: str, source_dir: Path | None, cache: Path) -> Path:
    """A raw file from ``source_dir`` when given, else from the hub (cached)."""
    if source_dir is not None:
        path = source_dir / name
        if not path.exists():
            sys.exit(f"{path}: not found (--from {source_dir})")
        return path
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(REPO, name, repo_type="dataset", cache_dir=str(cache)))


def head(src: Path, dst: Path, lines: int) -> None:
    """The first ``lines`` lines of ``src`` (line endings kept byte for byte)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        for i, line in enumerate(fin):
            if i >= lines:
                break
            fout.write(line)


def unpack_senteval(tar_path: Path, data_dir: Path) -> None:
    """Place SentEval's files in this project's layout: STS1X-en-test/, stsb/, sick/."""
    with tarfile.open(tar_path) as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            parts = Path(member.name).parts
            name = parts[-1]
            year = next((p for p in parts if p.startswith("STS1") and p.endswith("-en-test")), None)
            if year:
                target = data_dir / year / name
            elif "STSBenchmark" in parts and name.startswith("sts-") and name.endswith(".csv"):
                target = data_dir / "stsb" / name
            elif name == "SICK_test_annotated.txt":
                target = data_dir / "sick" / name
            else:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as fin, open(target, "wb") as fout:  # type: ignore[union-attr]
                shutil.copyfileobj(fin, fout)


def missing(data_dir: Path, names: list[str]) -> list[str]:
    return [n for n in names if not (data_dir / n).exists()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("SIMCSE_DATA_DIR", "data"))
    parser.add_argument("--full", action="store_true", help="also the full corpora and all STS tasks")
    parser.add_argument("--from", dest="source_dir", type=Path, help="folder with already downloaded raw files")
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir)
    wanted = QUICKSTART + (FULL if args.full else [])
    todo = missing(data_dir, wanted)
    if not todo:
        print(f"data present in {data_dir}: nothing to download")
        return 0
    print(f"fetching into {data_dir}: {', '.join(todo)}")
    cache = data_dir / ".cache"
    if any(n.startswith(("stsb/", "sick/", "STS1")) for n in todo):
        unpack_senteval(fetch("senteval.tar", args.source_dir, cache), data_dir)
    if any(n.startswith("wiki/") for n in todo):
        wiki = fetch("wiki1m_for_simcse.txt", args.source_dir, cache)
        head(wiki, data_dir / "wiki/wiki1m_head11914.txt", WIKI_SAMPLE)
        if args.full:
            shutil.copyfile(wiki, data_dir / "wiki/wiki1m_for_simcse.txt")
    if args.full and "nli/nli_for_simcse.csv" in todo:
        nli = fetch("nli_for_simcse.csv", args.source_dir, cache)
        (data_dir / "nli").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(nli, data_dir / "nli/nli_for_simcse.csv")
        head(nli, data_dir / "nli/nli_for_simcse_head72.csv", NLI_SAMPLE + 1)  # + header
    still = missing(data_dir, wanted)
    if still:
        print(f"still missing after download: {', '.join(still)}", file=sys.stderr)
        return 1
    print(f"data ready in {data_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
