"""Graph and embedding models: one torch module contract, one recommender wrapper.

A model is an :class:`EmbeddingModule` (propagation: graph -> user and item embeddings, plus
a scoring head) wrapped by an :class:`EmbeddingRecommender` subclass that names it, holds its
hyperparameters and builds it for a :class:`~storex.models.data.DataSpec`. Training is the
shared :class:`storex.train.Trainer`; after training the final embeddings are kept, so
``score`` is a matrix product (or the head over them) and serving never propagates again
unless a user's neighbourhood changes.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Self

import torch
from torch import Tensor, nn

from storex.models.base import Recommender
from storex.models.data import DataSpec, InteractionData

LossName = Literal["bpr", "bce", "softmax", "mse"]


@dataclass(frozen=True)
class TrainConfig:
    """How a neural model is trained (shared by every model)."""

    loss: LossName = "bpr"
    epochs: int = 100
    batch_size: int = 4096
    lr: float = 1e-3
    weight_decay: float = 0.0
    embedding_reg: float = 1e-4
    negatives: int = 1
    negative_sampling: Literal["uniform", "popularity"] = "uniform"
    temperature: float = 0.2
    rating_weight: float = 0.0
    #: Rated pairs per step for the ``rating_weight`` term (None: ``batch_size``). Full softmax
    #: steps over a few hundred users; the rating term then needs far more pairs per step.
    rating_batch_size: int | None = None
    patience: int = 10
    eval_every: int = 1
    metric: str = "ndcg@20"
    #: ``"auto"``: ``"sampled"`` above ``extra["sampled_above"]`` training edges (see
    #: :mod:`storex.train.trainer`) for modules that can, ``"full"`` otherwise.
    mode: Literal["auto", "full", "sampled"] = "auto"
    num_neighbors: tuple[int, ...] = (10, 5)
    seed: int = 42
    device: str = "auto"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # JSON turns the tuple into a list; keep one form so saved params compare equal.
        object.__setattr__(self, "num_neighbors", tuple(self.num_neighbors))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GraphInputs:
    """The training graph on the training device, built once per fit.

    ``edge_index`` is ``[user; item]`` of the training positives; ``adjacency`` the symmetric
    normalised bipartite adjacency (users first, then items) as a sparse tensor, built by the
    trainer when a module asks for it via ``needs_adjacency``.
    """

    num_users: int
    num_items: int
    edge_index: Tensor
    user_x: Tensor
    item_x: Tensor
    edge_rating: Tensor
    adjacency: Tensor | None = None


class EmbeddingModule(nn.Module):
    """Propagation plus scoring head. Subclasses implement :meth:`forward`."""

    needs_adjacency: bool = False

    @abstractmethod
    def forward(self, graph: GraphInputs) -> tuple[Tensor, Tensor]:
        """User and item embeddings, shapes ``(U, d)`` and ``(I, d)``."""

    def score_pairs(self, user_emb: Tensor, item_emb: Tensor) -> Tensor:
        """Score of row-aligned pairs ``(B, d), (B, d) -> (B,)``; dot product by default."""
        return (user_emb * item_emb).sum(dim=-1)

    def score_all(self, user_emb: Tensor, item_emb: Tensor) -> Tensor:
        """Scores of every item for each user ``(B, d), (I, d) -> (B, I)``."""
        return user_emb @ item_emb.T

    def predict_rating(self, user_emb: Tensor, item_emb: Tensor) -> Tensor | None:
        """Rating estimate of row-aligned pairs, or None when the model has no rating head."""
        return None

    @property
    def scores_by_dot_product(self) -> bool:
        """Whether :meth:`score_all` is the plain product ``user_emb @ item_emb.T``."""
        return type(self).score_all is EmbeddingModule.score_all


class EmbeddingRecommender(Recommender):
    """A :class:`Recommender` around an :class:`EmbeddingModule`, trained by the Trainer."""

    def __init__(self, train: TrainConfig | dict[str, Any] | None = None) -> None:
        self.train = train if isinstance(train, TrainConfig) else TrainConfig(**(train or {}))

    @abstractmethod
    def build_module(self, spec: DataSpec) -> EmbeddingModule:
        """A fresh, untrained module for data of this shape."""

    def model_params(self) -> dict[str, Any]:
        """Hyperparameters of the module (subclasses list theirs)."""
        return {}

    def get_params(self) -> dict[str, Any]:
        return {**self.model_params(), "train": self.train.to_dict()}

    def fit(self, data: InteractionData) -> Self:
        from storex.train import Trainer

        self.spec_ = data.spec
        torch.manual_seed(self.train.seed)  # the initial weights follow the seed too
        self.module_ = self.build_module(self.spec_)
        processes = int(self.train.extra.get("processes", 1))
        if processes > 1:
            from storex.train.distributed import fit_distributed

            self.history_ = fit_distributed(self, data, processes)
            return self
        trainer = Trainer(self.train)
        self.history_ = trainer.fit(self, data)
        self.trainer_mode_ = trainer.mode_  # "full" or "sampled", what mode="auto" chose
        return self

    def set_embeddings(self, user_emb: Tensor, item_emb: Tensor) -> None:
        """Keep the final embeddings (the Trainer calls this with the best epoch's)."""
        self.user_emb_ = user_emb.detach().cpu()
        self.item_emb_ = item_emb.detach().cpu()

    def score(self, users: Tensor) -> Tensor:
        self.check_fitted()
        with torch.no_grad():
            return self.module_.score_all(self.user_emb_[users], self.item_emb_)

    def dot_factors(self) -> tuple[Tensor, Tensor] | None:
        self.check_fitted()
        if not self.module_.scores_by_dot_product:
            return None
        return self.user_emb_, self.item_emb_

    def item_vectors(self) -> Tensor | None:
        """The final item embeddings (what ``score`` multiplies user embeddings with)."""
        self.check_fitted()
        return self.item_emb_

    def state(self) -> dict[str, Tensor]:
        return {
            **{f"module.{k}": v for k, v in self.module_.state_dict().items()},
            "user_emb": self.user_emb_,
            "item_emb": self.item_emb_,
        }

    def set_state(self, state: dict[str, Tensor]) -> None:
        self.module_ = self.build_module(self.spec_)
        module_state = {k[len("module.") :]: v for k, v in state.items() if k.startswith("module.")}
        self.module_.load_state_dict(module_state)
        self.module_.eval()
        self.set_embeddings(state["user_emb"], state["item_emb"])
