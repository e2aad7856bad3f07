"""Building blocks shared by the graph models: node inputs and pair-scoring MLPs.

:class:`NodeInput` makes a node's first state from a learnable id embedding plus a projection
of its features; dropping the id part at random while training teaches the feature path to
stand alone, which is what lets a model embed a user it never saw. :class:`PairMLP` scores
(user, item) pairs with an MLP whose first layer is split per input block, so scoring every
item for a batch of users never materialises the ``(B, I, 2d)`` concatenation.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Final

import torch
from torch import Tensor, nn

from storex.errors import ConfigError

#: Upper bound on the elements of one ``(users, items, width)`` block in :meth:`PairMLP.all`.
PAIR_BLOCK_ELEMENTS: Final = 1 << 22


class NodeInput(nn.Module):
    """Layer-0 state of one node type: id embedding plus a linear projection of features.

    Parameters
    ----------
    num_nodes
        Nodes known at training time (rows of the id embedding).
    feature_dim
        Width of the encoded features (0: ids only).
    dim
        Output width.
    use_ids
        Learn an id embedding (False: the node is its features, fully inductive).
    id_dropout
        While training, the share of nodes whose id embedding is zeroed in a forward pass, so
        that the feature path is trained to work alone (as it must for unseen nodes).
    """

    def __init__(
        self,
        num_nodes: int,
        feature_dim: int,
        dim: int,
        *,
        use_ids: bool = True,
        id_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not use_ids and feature_dim == 0:
            raise ConfigError("a node type without features needs id embeddings (use_ids=True)")
        if not 0.0 <= id_dropout < 1.0:
            raise ConfigError(f"id_dropout must be in [0, 1), got {id_dropout}")
        self.dim = dim
        self.feature_dim = feature_dim
        self.id_dropout = id_dropout
        self.embedding = nn.Embedding(num_nodes, dim) if use_ids else None
        self.project = nn.Linear(feature_dim, dim) if feature_dim else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.embedding is not None:
            nn.init.normal_(self.embedding.weight, std=0.1)
        if self.project is not None:
            self.project.reset_parameters()

    def forward(self, x: Tensor, ids: Tensor | None = None) -> Tensor:
        """States of known nodes: all of them in id order, or those of ``ids`` (``x`` holds
        the features of the same rows)."""
        out = self.from_features(x)
        if self.embedding is None:
            return out
        own = self.embedding.weight if ids is None else self.embedding(ids)
        if self.training and self.id_dropout > 0:
            keep = torch.rand(own.shape[0], 1, device=own.device) >= self.id_dropout
            own = own * keep
        return out + own

    def from_features(self, x: Tensor) -> Tensor:
        """States of nodes from their features alone (unseen nodes have no id embedding)."""
        if self.project is None:
            return torch.zeros(x.shape[0], self.dim, device=x.device)
        return self.project(x)


class PairMLP(nn.Module):
    """MLP over ``[u, i]`` (and ``u * i`` when ``product``) giving one score per pair.

    The first layer keeps one weight per input block, so ``W [u; i; u*i]`` is computed as
    ``W_u u + W_i i + W_p (u*i)``: user and item terms once each, only the product per pair.
    """

    def __init__(
        self,
        user_dim: int,
        item_dim: int,
        hidden: Sequence[int],
        *,
        product: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not hidden:
            raise ConfigError("an MLP head needs at least one hidden layer")
        if product and user_dim != item_dim:
            raise ConfigError(f"u * i needs equal widths, got {user_dim} and {item_dim}")
        first = hidden[0]
        self.user_part = nn.Linear(user_dim, first)
        self.item_part = nn.Linear(item_dim, first, bias=False)
        self.product_part = nn.Linear(user_dim, first, bias=False) if product else None
        layers: list[nn.Module] = [nn.ReLU(), nn.Dropout(dropout)]
        for width_in, width_out in pairwise(hidden):
            layers += [nn.Linear(width_in, width_out), nn.ReLU(), nn.Dropout(dropout)]
        layers.append(nn.Linear(hidden[-1], 1))
        self.rest = nn.Sequential(*layers)

    def reset_parameters(self) -> None:
        reset_children(self)

    def forward(self, user: Tensor, item: Tensor) -> Tensor:
        """Scores of row-aligned pairs ``(B, du), (B, di) -> (B,)``."""
        first = self.user_part(user) + self.item_part(item)
        if self.product_part is not None:
            first = first + self.product_part(user * item)
        return self.rest(first).squeeze(-1)

    def all(self, user: Tensor, item: Tensor) -> Tensor:
        """Scores of every item for each user ``(B, du), (I, di) -> (B, I)``, in item blocks."""
        user_term = self.user_part(user).unsqueeze(1)
        item_term = self.item_part(item).unsqueeze(0)
        width = max(user_term.shape[-1], user.shape[-1])
        step = max(1, PAIR_BLOCK_ELEMENTS // max(1, user.shape[0] * width))
        blocks = []
        for start in range(0, item.shape[0], step):
            first = user_term + item_term[:, start : start + step]
            if self.product_part is not None:
                pairs = user.unsqueeze(1) * item[start : start + step].unsqueeze(0)
                first = first + self.product_part(pairs)
            blocks.append(self.rest(first).squeeze(-1))
        if not blocks:
            return user.new_zeros(user.shape[0], 0)
        return torch.cat(blocks, dim=1)


class RatingHead(nn.Module):
    """Rating of a (user, item) pair: ``offset + MLP([u, i, u*i])``.

    ``offset`` starts at the mean training rating so the MLP only learns deviations.
    """

    def __init__(self, dim: int, hidden: Sequence[int], *, offset: float = 0.0) -> None:
        super().__init__()
        self.mlp = PairMLP(dim, dim, hidden, product=True)
        self.initial_offset = float(offset)
        self.offset = nn.Parameter(torch.tensor(self.initial_offset))

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()
        with torch.no_grad():
            self.offset.fill_(self.initial_offset)

    def forward(self, user: Tensor, item: Tensor) -> Tensor:
        return self.offset + self.mlp(user, item)


def reset_children(module: nn.Module) -> None:
    """Re-initialise every child that can (``reset_parameters``), walking through containers.

    The trainer calls a module's ``reset_parameters`` after seeding, so a fit is reproducible
    whatever the random state was when the module was built.
    """
    for child in module.children():
        reset = getattr(child, "reset_parameters", None)
        if callable(reset):
            reset()
        else:
            reset_children(child)
