"""Issue 24, friction 5: the inference side loads no Lightning. ``import lightning`` took 19.6 of simcse-eval's
20.7 s. Each console script (and ``SimCSE``) does real work on a tiny model in one fresh process, and after each
step no ``lightning`` / ``pytorch_lightning`` module may be in ``sys.modules`` (--help alone is
tests/integration/test_help.py). The fast check of the same property, from the source: tests/unit/test_inference_imports.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from onnx_fixtures import export_tiny
from simcse_pl.losses import InfoNCE
from simcse_pl.training.module import SimCSEModule
from sts_fixtures import write_senteval_root
from tiny_model import TINY_MODEL

REPO = Path(__file__).resolve().parents[2]
PROBE = r"""
import json, sys
from pathlib import Path

work = Path(sys.argv[1])
model, data = str(work / "model"), str(work / "data")
steps = {}


def lightning_loaded():
    return sorted(k for k in sys.modules if k.split(".")[0] in ("lightning", "pytorch_lightning"))[:3]


def step(name, run):
    status = run()
    steps[name] = {"status": status, "lightning": lightning_loaded()}


from simcse_pl.inference import SimCSE
step("SimCSE", lambda: SimCSE.from_pretrained(model, device="cpu").encode(["a cat", "the dog"]).shape[0] - 2)
from simcse_pl.cli.evaluate import encode_main, eval_main
step("simcse-encode", lambda: encode_main([model, str(work / "lines.txt"), "--output", str(work / "v.npy")]))
step("simcse-eval", lambda: eval_main([model, "--tasks", "stsb", "--data-dir", data]))
from simcse_pl.cli.export import main as export_main
step("simcse-export", lambda: export_main([str(work / "tiny.ckpt"), "--output", str(work / "exported")]))
from simcse_pl.cli.mine import main as mine_main
step("simcse-mine", lambda: mine_main([model, str(work / "pairs.jsonl"), "--output", str(work / "mined.jsonl"),
                                       "--num-negatives", "1", "--faiss", "no"]))
from simcse_pl.cli.serve import build_server, parser
step("simcse-serve", lambda: 0 if build_server(parser().parse_args([model, "--device", "cpu"])) else 1)
print("STEPS " + json.dumps(steps))
"""


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("no_lightning")
    export_tiny(work / "model", pooler="avg")
    write_senteval_root(work / "data", pairs_per_file=4)
    (work / "lines.txt").write_text("a man plays\nthe cat sleeps\n\ndogs run\n", encoding="utf-8")
    rows = [{"query": f"query {i}", "positive": f"a document about {i}"} for i in range(6)]
    (work / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    module = SimCSEModule(model=TINY_MODEL, loss=InfoNCE())
    torch.save({"state_dict": module.state_dict(), "global_step": 1, "hyper_parameters": {"model": TINY_MODEL}},
               work / "tiny.ckpt")
    return work


@pytest.mark.slow  # ~25 s of CPU: one process importing torch and running six tools; the static check is fast
def test_no_inference_path_imports_lightning(work: Path):
    done = subprocess.run([sys.executable, "-c", PROBE, str(work)], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    steps = json.loads(done.stdout.rsplit("STEPS ", 1)[1])
    assert list(steps) == ["SimCSE", "simcse-encode", "simcse-eval", "simcse-export", "simcse-mine", "simcse-serve"]
    assert {name: s["status"] for name, s in steps.items()} == dict.fromkeys(steps, 0), done.stderr[-3000:]
    assert {name: s["lightning"] for name, s in steps.items()} == dict.fromkeys(steps, [])

