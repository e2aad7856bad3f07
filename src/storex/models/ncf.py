"""Neural collaborative filtering (NeuMF): a GMF tower and an MLP tower, fused.

The score of a pair is ``h_g . (p_u * q_i) + MLP([p'_u; q'_i])``, the NeuMF output layer
over the concatenated towers written as a sum; ``sigmoid`` of it is the probability of an
interaction, which is what the default binary cross-entropy with 4 sampled negatives per
positive trains. The embeddings handed to the trainer are the two towers' tables side by
side, so the contract's per-batch gather and regularisation apply unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from storex.errors import ConfigError
from storex.models.data import DataSpec
from storex.models.layers import PairMLP
from storex.models.neural import EmbeddingModule, EmbeddingRecommender, GraphInputs, TrainConfig
from storex.models.registry import register

#: NCF's training recipe: pointwise log loss with 4 negatives per positive.
NCF_TRAIN_DEFAULTS: dict[str, Any] = {"loss": "bce", "negatives": 4}


class NCFModule(EmbeddingModule):
    """GMF embeddings of width ``factors`` and MLP embeddings of ``mlp_layers[0] // 2``."""

    def __init__(
        self,
        num_users: int,
        num_items: int,
        *,
        factors: int,
        mlp_layers: Sequence[int],
        dropout: float,
    ) -> None:
        super().__init__()
        if factors < 1:
            raise ConfigError(f"factors must be >= 1, got {factors}")
        if len(mlp_layers) < 2 or mlp_layers[0] % 2:
            raise ConfigError(
                "mlp_layers must start with an even input width (two embeddings) and have at "
                f"least one hidden layer, got {list(mlp_layers)}"
            )
        self.factors = factors
        half = mlp_layers[0] // 2
        self.gmf_user = nn.Embedding(num_users, factors)
        self.gmf_item = nn.Embedding(num_items, factors)
        self.mlp_user = nn.Embedding(num_users, half)
        self.mlp_item = nn.Embedding(num_items, half)
        self.gmf_out = nn.Linear(factors, 1, bias=False)
        self.tower = PairMLP(half, half, list(mlp_layers[1:]), dropout=dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Fresh initial weights (called by the trainer after seeding)."""
        for table in (self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item):
            nn.init.normal_(table.weight, std=0.01)
        self.gmf_out.reset_parameters()
        self.tower.reset_parameters()

    def forward(self, graph: GraphInputs) -> tuple[Tensor, Tensor]:
        users = torch.cat([self.gmf_user.weight, self.mlp_user.weight], dim=1)
        items = torch.cat([self.gmf_item.weight, self.mlp_item.weight], dim=1)
        return users, items

    def score_pairs(self, user_emb: Tensor, item_emb: Tensor) -> Tensor:
        """Logits of row-aligned pairs (``sigmoid`` gives the interaction probability)."""
        k = self.factors
        gmf = self.gmf_out(user_emb[:, :k] * item_emb[:, :k]).squeeze(-1)
        return gmf + self.tower(user_emb[:, k:], item_emb[:, k:])

    def score_all(self, user_emb: Tensor, item_emb: Tensor) -> Tensor:
        """Logits of every item per user; the MLP tower runs in item blocks."""
        k = self.factors
        gmf = (user_emb[:, :k] * self.gmf_out.weight) @ item_emb[:, :k].T
        return gmf + self.tower.all(user_emb[:, k:], item_emb[:, k:])


@register
class NCFModel(EmbeddingRecommender):
    """NeuMF recommender (``name = "ncf"``).

    Parameters
    ----------
    factors
        Width of the GMF embeddings.
    mlp_layers
        MLP tower widths: the input (two concatenated embeddings of half this width each),
        then each hidden layer; the paper's ``(64, 32, 16, 8)``.
    dropout
        Dropout after every hidden layer of the tower.
    train
        The :class:`~storex.models.neural.TrainConfig`; unset fields default to NCF's recipe
        (``loss="bce"``, ``negatives=4``) instead of the shared defaults.
    """

    name: ClassVar[str] = "ncf"

    def __init__(
        self,
        factors: int = 8,
        mlp_layers: Sequence[int] = (64, 32, 16, 8),
        dropout: float = 0.0,
        train: TrainConfig | dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(train, TrainConfig):
            train = {**NCF_TRAIN_DEFAULTS, **(train or {})}
        super().__init__(train)
        self.factors = factors
        self.mlp_layers = tuple(mlp_layers)
        self.dropout = dropout

    def model_params(self) -> dict[str, Any]:
        return {
            "factors": self.factors,
            "mlp_layers": list(self.mlp_layers),
            "dropout": self.dropout,
        }

    def build_module(self, spec: DataSpec) -> NCFModule:
        return NCFModule(
            spec.num_users,
            spec.num_items,
            factors=self.factors,
            mlp_layers=self.mlp_layers,
            dropout=self.dropout,
        )
