"""LightGCN and its LightGCN++ generalisation: ID embeddings smoothed over the user-item graph.

Propagation has no weights and no non-linearity: layer ``k + 1`` is ``A_hat @ h(k)`` with

``A_hat = D^-alpha A D^-beta``, i.e. node ``r`` receives ``deg(r)^-alpha * deg(c)^-beta *
h_c`` from each neighbour ``c``. ``alpha = beta = 0.5`` is LightGCN's symmetric normalisation;
other values trade how much a popular sender or a busy receiver counts (LightGCN++).

``h(k)`` is ``e(k)`` itself or, with ``normalize_layers``, ``e(k)`` scaled to unit length so
that embedding norms (which grow with popularity) do not leak into the neighbours' sums.

The final embedding pools the layers: the plain mean of ``e(0) .. e(K)`` (LightGCN) or, with
``gamma`` set, ``gamma * e(0) + (1 - gamma) * mean(e(1) .. e(K))`` (LightGCN++), so the weight
of the node's own free embedding is a hyperparameter instead of ``1 / (K + 1)``.
``normalize_output`` scales the final embeddings to unit length, so scores are cosines (pair it
with the softmax loss and a temperature). ``item_bias`` adds a learned popularity term per item,
carried as one extra embedding column (users hold 1 there), so scores stay dot products.

Sparse products use CSR matrices with a precomputed transpose for the backward pass, which on
CPU is several times faster than autograd through ``torch.sparse.mm`` on COO tensors.

``forward_sampled`` propagates over a neighbour-sampled subgraph instead (``mode="sampled"``
training, for graphs where a full propagation per step is too slow): the same weights
``deg(r)^-alpha * deg(c)^-beta`` with *global* degrees, each received sum scaled by
``deg(r) / sampled(r)`` so that it estimates the full sum without bias; a node that kept all
its neighbours gets exactly the full-graph value.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from storex.errors import ConfigError
from storex.graph import ITEM, RATES, REV_RATES, USER
from storex.models.data import DataSpec
from storex.models.neural import EmbeddingModule, EmbeddingRecommender, GraphInputs, TrainConfig
from storex.models.registry import register


class _SparseProduct(torch.autograd.Function):
    """``matrix @ dense`` whose gradient uses a precomputed ``matrix.T`` (both CSR)."""

    @staticmethod
    def forward(ctx: Any, matrix: Tensor, transpose: Tensor, dense: Tensor) -> Tensor:
        ctx.transpose = transpose
        return torch.sparse.mm(matrix, dense)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, None, Tensor]:
        return None, None, torch.sparse.mm(ctx.transpose, grad)


def normalized_adjacency(
    edge_index: Tensor, num_users: int, num_items: int, alpha: float = 0.5, beta: float = 0.5
) -> tuple[Tensor, Tensor, Tensor]:
    """``D^-alpha A D^-beta`` of the bipartite graph (users first), its transpose, and degrees.

    Returns CSR tensors of shape ``(U + I, U + I)`` and the float degree of every node.
    """
    users, items = edge_index[0], edge_index[1] + num_users
    size = num_users + num_items
    rows, cols = torch.cat([users, items]), torch.cat([items, users])
    degree = torch.bincount(rows, minlength=size).float()
    safe = degree.clamp(min=1.0)
    values = safe[rows].pow(-alpha) * safe[cols].pow(-beta)
    coo = torch.sparse_coo_tensor(
        torch.stack([rows, cols]), values, (size, size), check_invariants=False
    ).coalesce()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return coo.to_sparse_csr(), coo.t().coalesce().to_sparse_csr(), degree


class LightGCNModule(EmbeddingModule):
    """Free user and item embeddings, propagated over the training graph (see module doc)."""

    def __init__(
        self,
        num_users: int,
        num_items: int,
        embedding_dim: int = 64,
        num_layers: int = 3,
        alpha: float = 0.5,
        beta: float = 0.5,
        gamma: float | None = None,
        normalize_layers: bool = False,
        normalize_output: bool = False,
        item_bias: bool = False,
        init_std: float = 0.1,
    ) -> None:
        super().__init__()
        self.num_users, self.num_items = num_users, num_items
        self.num_layers = num_layers
        self.alpha, self.beta, self.gamma = alpha, beta, gamma
        self.normalize_layers = normalize_layers
        self.normalize_output = normalize_output
        self.init_std = init_std
        self.bias = nn.Parameter(torch.zeros(num_items)) if item_bias else None
        self.user_emb = nn.Embedding(num_users, embedding_dim)
        self.item_emb = nn.Embedding(num_items, embedding_dim)
        self.reset_parameters()
        # Training degree of every item, kept with the weights for the cold-start fold-in.
        self.register_buffer("item_degree", torch.zeros(num_items))
        self._graph_key: Tensor | None = None
        self._adjacency: tuple[Tensor, Tensor] | None = None

    def reset_parameters(self) -> None:
        """Normal initialisation with a small spread (large ones slow early training)."""
        nn.init.normal_(self.user_emb.weight, std=self.init_std)
        nn.init.normal_(self.item_emb.weight, std=self.init_std)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def ego_embeddings(self) -> tuple[Tensor, Tensor]:
        """The free (layer-0) embeddings, which the L2 penalty applies to."""
        return self.user_emb.weight, self.item_emb.weight

    def adjacency(self, graph: GraphInputs) -> tuple[Tensor, Tensor]:
        """The normalised adjacency and its transpose, built once per training graph."""
        if self._adjacency is None or self._graph_key is not graph.edge_index:
            matrix, transpose, degree = normalized_adjacency(
                graph.edge_index.to(self.user_emb.weight.device),
                self.num_users,
                self.num_items,
                self.alpha,
                self.beta,
            )
            self.item_degree.copy_(degree[self.num_users :])
            self._graph_key, self._adjacency = graph.edge_index, (matrix, transpose)
        return self._adjacency

    def layers(self, graph: GraphInputs, noise: float = 0.0) -> list[Tensor]:
        """``e(0) .. e(K)`` over users then items; ``noise`` adds SimGCL-style perturbations."""
        matrix, transpose = self.adjacency(graph)
        current = torch.cat([self.user_emb.weight, self.item_emb.weight])
        out = [current]
        for _ in range(self.num_layers):
            sent = F.normalize(current, dim=1) if self.normalize_layers else current
            current = _SparseProduct.apply(matrix, transpose, sent)
            if noise > 0:
                direction = F.normalize(torch.rand_like(current), dim=1)
                current = current + torch.sign(current) * direction * noise
            out.append(current)
        return out

    def pool(self, layers: Sequence[Tensor]) -> Tensor:
        """Final embeddings from the layers (mean, or gamma-weighted LightGCN++ pooling)."""
        if self.gamma is None or len(layers) == 1:
            final = torch.stack(list(layers)).mean(dim=0)
        else:
            propagated = torch.stack(list(layers[1:])).mean(dim=0)
            final = self.gamma * layers[0] + (1.0 - self.gamma) * propagated
        return F.normalize(final, dim=1) if self.normalize_output else final

    def forward(self, graph: GraphInputs, noise: float = 0.0) -> tuple[Tensor, Tensor]:
        final = self.pool(self.layers(graph, noise))
        users, items = final[: self.num_users], final[self.num_users :]
        return self._with_bias(users, items)

    def forward_sampled(self, batch: HeteroData) -> tuple[Tensor, Tensor]:
        """Embeddings of a sampled batch's nodes (see the module docstring).

        ``batch`` comes from the trainer's ``LinkLoader``: global ids in ``n_id``, global
        training degrees in ``degree``. Nodes further out than ``num_layers`` hops are only
        inputs; the seeds' embeddings are exact when no neighbour was dropped.
        """
        users, items = batch[USER].n_id, batch[ITEM].n_id
        offset = users.numel()
        to_item, to_user = batch[RATES].edge_index, batch[REV_RATES].edge_index
        senders = torch.cat([to_item[0], to_user[0] + offset])
        receivers = torch.cat([to_item[1] + offset, to_user[1]])
        degree = torch.cat([batch[USER].degree, batch[ITEM].degree]).float().clamp(min=1.0)
        sampled = torch.bincount(receivers, minlength=degree.numel()).float().clamp(min=1.0)
        weight = degree[receivers].pow(1.0 - self.alpha) / sampled[receivers]
        weight = (weight * degree[senders].pow(-self.beta)).unsqueeze(1)
        current = torch.cat([self.user_emb(users), self.item_emb(items)])
        layers = [current]
        for _ in range(self.num_layers):
            sent = F.normalize(current, dim=1) if self.normalize_layers else current
            current = torch.zeros_like(current).index_add_(0, receivers, sent[senders] * weight)
            layers.append(current)
        final = self.pool(layers)
        return self._with_bias(final[:offset], final[offset:], items)

    def _with_bias(
        self, users: Tensor, items: Tensor, item_ids: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        if self.bias is None:
            return users, items
        bias = self.bias if item_ids is None else self.bias[item_ids]
        return (
            torch.cat([users, users.new_ones(users.shape[0], 1)], dim=1),
            torch.cat([items, bias.unsqueeze(1)], dim=1),
        )

    def fold_in(self, item_emb: Tensor, histories: Sequence[Tensor]) -> Tensor:
        """Embeddings for users unseen in training, from the items they touched.

        One propagation step from the trained item embeddings: ``|H|^-alpha * sum over i in H
        of deg(i)^-beta * item_emb[i]``, exactly how a layer would reach a new user node, then
        unit length when the model scores by cosine. A user with no history gets zeros here;
        :meth:`LightGCN.score_new_users` gives them the mean trained user instead.
        """
        if self.bias is not None:
            item_emb = item_emb[:, :-1]
        degree = self.item_degree.to(item_emb.device).clamp(min=1.0)
        rows = []
        for history in histories:
            items = torch.as_tensor(history, dtype=torch.long, device=item_emb.device).unique()
            if items.numel() == 0:
                rows.append(torch.zeros(item_emb.shape[1], device=item_emb.device))
                continue
            weights = degree[items].pow(-self.beta) * float(items.numel()) ** -self.alpha
            rows.append((weights.unsqueeze(1) * item_emb[items]).sum(dim=0))
        users = torch.stack(rows) if rows else item_emb.new_zeros(0, item_emb.shape[1])
        users = F.normalize(users, dim=1) if self.normalize_output else users
        return users if self.bias is None else torch.cat([users, users.new_ones(len(users), 1)], 1)


@register
class LightGCN(EmbeddingRecommender):
    """LightGCN / LightGCN++ recommender.

    Parameters
    ----------
    embedding_dim, num_layers
        Size of the free embeddings and number of propagation steps.
    alpha, beta
        Exponents of the receiver and sender degrees in ``D^-alpha A D^-beta``.
    gamma
        Weight of the layer-0 embedding in the pooled output; None: plain mean of all layers.
    normalize_layers, normalize_output
        Unit-length embeddings before each propagation / for the final scores.
    item_bias
        Learn a popularity term per item, added to every score.
    init_std
        Standard deviation of the normal initialisation.
    train
        :class:`~storex.models.neural.TrainConfig` (or its dict).
    """

    name = "lightgcn"

    def __init__(
        self,
        embedding_dim: int = 64,
        num_layers: int = 3,
        alpha: float = 0.5,
        beta: float = 0.5,
        gamma: float | None = None,
        normalize_layers: bool = False,
        normalize_output: bool = False,
        item_bias: bool = False,
        init_std: float = 0.1,
        train: TrainConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(train)
        if embedding_dim < 1 or num_layers < 0:
            raise ConfigError(
                f"embedding_dim must be >= 1 and num_layers >= 0, got {embedding_dim}, {num_layers}"
            )
        if gamma is not None and not 0.0 <= gamma <= 1.0:
            raise ConfigError(f"gamma must be in [0, 1] or None, got {gamma}")
        self.embedding_dim, self.num_layers = embedding_dim, num_layers
        self.alpha, self.beta, self.gamma = alpha, beta, gamma
        self.normalize_layers, self.normalize_output = normalize_layers, normalize_output
        self.item_bias = item_bias
        self.init_std = init_std

    def model_params(self) -> dict[str, Any]:
        return {
            "embedding_dim": self.embedding_dim,
            "num_layers": self.num_layers,
            "alpha": self.alpha,
            "beta": self.beta,
            "gamma": self.gamma,
            "normalize_layers": self.normalize_layers,
            "normalize_output": self.normalize_output,
            "item_bias": self.item_bias,
            "init_std": self.init_std,
        }

    def build_module(self, spec: DataSpec) -> LightGCNModule:
        return LightGCNModule(spec.num_users, spec.num_items, **self.model_params())

    def score_new_users(self, user_x: Tensor, histories: Sequence[Tensor]) -> Tensor:
        """Scores for unseen users by folding in their histories (see ``fold_in``).

        Users without any history are scored as the mean trained user, which ranks the items
        most users like first.
        """
        self.check_fitted()
        with torch.no_grad():
            users = self.module_.fold_in(self.item_emb_, histories)
            empty = torch.tensor([len(torch.as_tensor(h).unique()) == 0 for h in histories])
            if empty.any():
                users[empty] = self.user_emb_.mean(dim=0)
            return self.module_.score_all(users, self.item_emb_)
