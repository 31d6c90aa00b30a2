"""simcse-pl: contrastive sentence-embedding training (SimCSE) on PyTorch Lightning + Hydra."""

from simcse_pl.datamodule import SimCSEDataModule
from simcse_pl.losses import InfoNCE
from simcse_pl.module import SimCSEModule
from simcse_pl.pooling import Pooler

__all__ = ["InfoNCE", "Pooler", "SimCSEDataModule", "SimCSEModule"]
