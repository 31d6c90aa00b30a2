"""simcse-pl: contrastive sentence-embedding training (SimCSE) on PyTorch Lightning + Hydra."""

import simcse_pl.config  # noqa: F401 - registers train_schema and the per_device resolver with Hydra
from simcse_pl.datamodule import SimCSEDataModule
from simcse_pl.losses import InfoNCE
from simcse_pl.module import SimCSEModule
from simcse_pl.pooling import Pooler

__all__ = ["InfoNCE", "Pooler", "SimCSEDataModule", "SimCSEModule"]
