"""Training of embedding models: one loop, its losses and its callbacks."""

from storex.train.callbacks import EarlyStopping, RankingValidator
from storex.train.trainer import Trainer, build_graph_inputs

__all__ = ["EarlyStopping", "RankingValidator", "Trainer", "build_graph_inputs"]
