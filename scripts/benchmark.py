"""What simcse-pl costs over a plain PyTorch loop, and whether the data pipeline keeps up.

    python scripts/benchmark.py model=minilm-l6 batch_size=64 max_len=32 steps=30 precision=32 compile=false

In one process it times training steps of the real ``SimCSEModule`` under ``lightning.Trainer`` (built from
the project's configs: conf/trainer, conf/logger/csv, conf/callbacks minus the checkpoint writers, which
write every N steps, not every step) and of a plain loop doing the same math: same initial weights, batch,
precision, loss, AdamW + linear schedule, gradient clipping. The two interleave step by step (after
each Trainer step a callback runs one plain step), so both see the same machine load. A Trainer step is
timed from the end of the previous plain step to the end of its own: everything it costs, data fetch,
hooks and logging included; a plain step from its batch fetch to its optimizer step. Peak memory is
measured in separate short runs. The dataloader alone is timed on wiki text
(``wiki/wiki1m_head11914.txt`` of the data root: ``$SIMCSE_DATA_DIR``, else ``.data-root`` here, else ``./data``) through ``SimCSEDataModule``'s training loader.

Any ``key.sub=value`` argument is a training-config override, e.g. LoRA, bf16 and gradient checkpointing on a
1B-parameter decoder shape (random weights, GPU):

    python scripts/benchmark.py model=llama-1b-shape model.lora.r=16 model.gradient_checkpointing=true \
        precision=bf16-true batch_size=64 max_len=32

``model``: a conf/model name. Those whose weights are not on this machine (``bert-base``, ``bert-large``)
are built with random weights from a ``BertConfig`` of their shape, with all-MiniLM-L6-v2's tokenizer (the
same uncased WordPiece vocabulary); ``tiny`` is the random character-level test model.
Output ends with ``ratio: X.XX`` = simcse-pl median step time / plain loop median step time.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn
from torch.utils.data import DataLoader
from transformers import BertConfig, BertModel, get_linear_schedule_with_warmup

from simcse_pl.console import quiet_libraries
from simcse_pl.data.collate import Collator
from simcse_pl.data_root import data_root
from simcse_pl.training.datamodule import SimCSEDataModule
from simcse_pl.encoders.backbone import load_tokenizer
from simcse_pl.training.module import SimCSEModule
from simcse_pl.data.sources.text_lines import TextLines

REPO = Path(__file__).resolve().parent.parent
DEFAULTS = {
    "model": "minilm-l6", "batch_size": 64, "max_len": 32, "steps": 20, "warmup": 3,
    "precision": "32", "compile": False, "data_batches": 60, "num_workers": None, "device": "auto",
}
RANDOM_SHAPES = {
    "bert-base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
    "bert-large": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096},
}
WORDPIECE = "sentence-transformers/all-MiniLM-L6-v2"  # uncased WordPiece, bert-base-uncased's vocabulary
CHECKPOINT_WRITERS = ("model_checkpoint", "resume_checkpoint")


def project_config(args: DictConfig, tmp: str, overrides: list[str]) -> DictConfig:
    """The training config a user would run, with this benchmark's model, precision and step count, and the
    user's own ``overrides`` last."""
    precision = {"32": "32-true"}.get(str(args.precision), str(args.precision))
    overrides = [
        f"model={args.model}", f"trainer={'gpu' if args.device == 'cuda' else 'cpu'}",
        f"trainer.precision={precision}", f"model.compile={str(args.compile).lower()}",
        f"data.batch_size={args.batch_size}", f"data.max_len={args.max_len}", f"paths.output_dir={tmp}",
        "+trainer.enable_checkpointing=false", *overrides,
    ]
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("train", overrides=overrides)


def model_config(cfg: DictConfig, tmp: str) -> dict[str, Any]:
    """``cfg.model`` as a dict; a shape without local weights is saved with random weights to ``tmp``."""
    model = OmegaConf.to_container(cfg.model, resolve=True)
    name = cfg.model.get("name_or_path")
    shape = next((s for key, s in RANDOM_SHAPES.items() if name and name.startswith(key)), None)
    if shape is not None:
        tokenizer = load_tokenizer(WORDPIECE)
        torch.manual_seed(0)
        BertModel(BertConfig(vocab_size=tokenizer.vocab_size, **shape)).save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        model["name_or_path"] = tmp
    return model


def build_module(cfg: DictConfig, model: dict[str, Any]) -> SimCSEModule:
    """The SimCSEModule ``run()`` would build (``model.compile`` included), its random parts seeded."""
    torch.manual_seed(0)
    return SimCSEModule(model=model, loss=instantiate(cfg.loss), optim=OmegaConf.to_container(cfg.optim))


def wiki_path() -> Path | None:
    root = Path(data_root().path)
    path = root / "wiki" / "wiki1m_head11914.txt"
    return path if path.exists() else None


def fixed_batch(tokenizer: Any, batch_size: int, max_len: int) -> dict[str, Tensor]:
    """The first ``batch_size`` wiki sentences (made-up ones without the data), tokenized as in training."""
    path = wiki_path()
    lines = path.read_text(encoding="utf-8").splitlines() if path else []
    sentences = [s for s in lines if s.strip()][:batch_size]
    sentences += [f"a made up sentence number {i} for timing" for i in range(batch_size - len(sentences))]
    batch = Collator(tokenizer, max_len)([(s,) for s in sentences])
    return {k: v for k, v in batch.items() if isinstance(v, Tensor)}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Memory:
    """Peak memory of a phase: CUDA allocated bytes, or on CPU the process RSS sampled every 5 ms."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    @contextmanager
    def track(self) -> Iterator[list[float]]:
        peak = [0.0]
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            yield peak
            peak[0] = torch.cuda.max_memory_allocated(self.device) / 2**20
            return
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.005):
                peak[0] = max(peak[0], rss_mib())

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield peak
        finally:
            done.set()
            thread.join()

    @property
    def label(self) -> str:
        return "peak CUDA alloc" if self.device.type == "cuda" else "peak RSS"


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Interleaved(pl.Callback):
    """Runs one plain step after each Trainer step, timing both (see the module docstring)."""

    def __init__(self, plain: PlainLoop | None, batch: dict[str, Tensor], n: int, device: torch.device) -> None:
        self.plain = plain
        self.batches = iter(DataLoader([batch] * n, batch_size=None))
        self.device = device
        self.times: dict[str, list[float]] = {"simcse-pl (Trainer)": [], "plain PyTorch loop": []}
        self.resumed: float | None = None  # when the Trainer got the machine back

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        sync(self.device)
        start = time.perf_counter()
        if self.resumed is not None:
            self.times["simcse-pl (Trainer)"].append(start - self.resumed)
        if self.plain is not None:
            with torch.enable_grad():
                self.plain.step(next(self.batches))
            sync(self.device)
        self.resumed = time.perf_counter()
        self.times["plain PyTorch loop"].append(self.resumed - start)


def run_lightning(cfg: DictConfig, module: SimCSEModule, batch: dict[str, Tensor], n: int, timer: Interleaved) -> None:
    """``n`` steps of ``module`` under the project's trainer, logger and callbacks (not checkpoint writers)."""
    callbacks = [instantiate(c) for k, c in (cfg.callbacks or {}).items() if c is not None and k not in CHECKPOINT_WRITERS]
    logger = [instantiate(c) for c in (cfg.logger or {}).values() if c is not None and "_target_" in c]
    trainer = instantiate(cfg.trainer, max_steps=n, callbacks=[*callbacks, timer], logger=logger or False)
    trainer.fit(module, train_dataloaders=DataLoader([batch] * n, batch_size=None))


class PlainLoop:
    """SimCSE in plain PyTorch: [CLS] (+ MLP) or the masked mean of two dropout views, InfoNCE, AdamW, linear
    decay, clipping."""

    def __init__(self, twin: SimCSEModule, cfg: DictConfig, total_steps: int, device: torch.device) -> None:
        """Takes the encoder, MLP head and loss of ``twin``, a second module built like the Trainer's."""
        self.encoder = twin.encoder.to(device).train()
        self.mlp = twin.pooler.mlp.to(device).train() if twin.pooler.mlp is not None else nn.Identity()
        self.mean = twin.pooler.kind in ("avg", "mean")  # else [CLS]
        self.loss = twin.objective
        self.device = device
        optim = cfg.optim
        params = [p for m in (self.encoder, self.mlp) for p in m.parameters() if p.requires_grad]
        self.params = params
        self.optimizer = torch.optim.AdamW(
            params, lr=optim.lr, betas=tuple(optim.betas), eps=optim.eps, weight_decay=optim.weight_decay,
            fused=device.type == "cuda" or None,
        )
        self.scheduler = get_linear_schedule_with_warmup(self.optimizer, 0, total_steps)
        self.clip = cfg.trainer.get("gradient_clip_val")
        precision = str(cfg.trainer.precision)
        dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)
        self.autocast: Callable[[], Any] = (
            (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else nullcontext
        )
        self.scaler = torch.amp.GradScaler(device.type) if precision == "16-mixed" else None

    def step(self, batch: dict[str, Tensor]) -> None:
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        b, length = batch["input_ids"].shape[0], batch["input_ids"].shape[-1]
        views = {k: v.expand(-1, 2, -1).reshape(-1, length) for k, v in batch.items()}  # two dropout views
        with self.autocast():
            hidden = self.encoder(**views).last_hidden_state
            if self.mean:
                mask = views["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1)
            else:
                pooled = hidden[:, 0]
            z = self.mlp(pooled).view(b, 2, -1)
            loss = self.loss(z)
        if self.scaler:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        if self.clip:
            torch.nn.utils.clip_grad_norm_(self.params, self.clip)
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    def run(self, batch: dict[str, Tensor], n: int) -> None:
        for b in DataLoader([batch] * n, batch_size=None):
            self.step(b)


def time_dataloader(cfg: DictConfig, tokenizer: Any, args: DictConfig) -> tuple[float, int] | None:
    """Sentences/s of SimCSEDataModule's training loader on wiki text, from its first batch to its last."""
    path = wiki_path()
    if path is None:
        return None
    workers = cfg.data.num_workers if args.num_workers is None else args.num_workers
    datamodule = SimCSEDataModule(
        source=TextLines(str(path)), tokenizer=tokenizer, batch_size=args.batch_size, max_len=args.max_len,
        num_workers=workers, seed=0,
    )
    datamodule.setup("fit")
    stamps = []
    for i, _ in enumerate(datamodule.train_dataloader()):
        stamps.append(time.perf_counter())
        if i + 1 >= args.data_batches:
            break
    return (len(stamps) - 1) * args.batch_size / (stamps[-1] - stamps[0]), workers


def parse(argv: list[str]) -> tuple[DictConfig, list[str]]:
    """The benchmark's own arguments, and the training-config overrides (``key.sub=value``) among ``argv``."""
    overrides = [a for a in argv if "." in a.split("=", 1)[0]]
    args = OmegaConf.merge(OmegaConf.create(DEFAULTS), OmegaConf.from_dotlist([a for a in argv if a not in overrides]))
    unknown = set(args) - set(DEFAULTS)
    if unknown:
        sys.exit(f"unknown argument(s): {', '.join(sorted(unknown))}; known: {', '.join(DEFAULTS)}, "
                 "or a config override key.sub=value")
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    return args, overrides


def main(argv: list[str]) -> None:
    args, overrides = parse(argv)
    quiet_libraries()  # Lightning's GPU/TPU lines and tips, as train.py has them off: the table is the output
    device = torch.device(args.device)
    pl.seed_everything(0, verbose=False)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = project_config(args, tmp, overrides)
        model = model_config(cfg, tmp)
        tokenizer = load_tokenizer(**model)
        module, twin = build_module(cfg, model), build_module(cfg, model)  # same seed: same initial weights
        assert all(torch.equal(a, b) for a, b in zip(module.state_dict().values(), twin.state_dict().values()))
        n = args.warmup + args.steps
        plain = PlainLoop(twin, cfg, total_steps=n + args.warmup, device=device)
        batch = fixed_batch(tokenizer, args.batch_size, args.max_len)
        timer = Interleaved(plain, batch, n, device)
        run_lightning(cfg, module, batch, n, timer)
        times = {name: values[args.warmup :] for name, values in timer.times.items()}
        # memory is measured apart (sampling would perturb the timed steps), one model on the device at a time:
        # the Trainer has put its module back on the CPU, and the plain loop is freed before the Trainer runs
        memory = Memory(device)
        peaks = {}
        with memory.track() as peak:
            plain.run(batch, args.warmup)
        peaks["plain PyTorch loop"] = peak[0]
        del plain, twin, timer
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
        with memory.track() as peak:
            run_lightning(cfg, module, batch, args.warmup, Interleaved(None, batch, args.warmup, device))
        peaks["simcse-pl (Trainer)"] = peak[0]
        data = time_dataloader(cfg, tokenizer, args)

    params = sum(p.numel() for p in module.parameters()) / 1e6
    trained = sum(p.numel() for p in module.parameters() if p.requires_grad) / 1e6
    print(
        f"\nmodel={args.model} ({params:.2f}M params, {trained:.2f}M trained) {' '.join(overrides)} batch_size={args.batch_size} max_len={args.max_len} "
        f"(padded length {batch['input_ids'].shape[-1]}) precision={cfg.trainer.precision} compile={args.compile} "
        f"device={device}{'' if device.type == 'cuda' else f' ({torch.get_num_threads()} threads)'} "
        f"steps={args.steps} (interleaved) after {args.warmup} warm-up"
    )
    print(f"{'':22s} {'median step':>12s} {'sentences/s':>12s} {memory.label:>16s}")
    medians = {}
    for name, values in times.items():
        medians[name] = statistics.median(values)
        print(f"{name:22s} {medians[name] * 1e3:9.1f} ms {args.batch_size / medians[name]:12.1f} {peaks[name]:12.0f} MiB")
    train_rate = args.batch_size / medians["simcse-pl (Trainer)"]
    if data is None:
        print(f"dataloader alone: skipped (no wiki/wiki1m_head11914.txt under the data root {data_root()})")
    else:
        rate, workers = data
        print(f"{'dataloader alone':22s} {'':12s} {rate:12.1f} {'':16s} ({workers} workers; {rate / train_rate:.1f}x training)")
    print(f"ratio: {medians['simcse-pl (Trainer)'] / medians['plain PyTorch loop']:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
