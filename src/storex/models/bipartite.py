"""Message passing over the user-item graph, shared by GraphSAGE and GAT.

:class:`BipartiteGNN` holds what both models share: node inputs (id embedding plus projected
features), ``num_layers`` rounds of two convolutions (users -> items, items -> users), per
node type batch norm, the scoring head and the optional rating head; a subclass only says how
one convolution is done. :class:`BipartiteRecommender` wraps it, keeps the per-layer states
and the item -> user adjacency after training, and uses them to embed users unseen in training
(:meth:`BipartiteRecommender.score_new_users`) without touching the rest of the graph, and
items unseen in training (:meth:`BipartiteRecommender.embed_new_items`).

Embedding a new user ``b`` with history ``H`` is the model run on the training graph plus
``b`` and its edges to ``H``. Adding ``b`` changes ``b`` itself and, from layer 1 on, the items
of ``H`` (one more neighbour); users next to ``H`` change only from layer 2 on. So the new
user's states come from each history item recomputed with ``b`` among its neighbours, reading
the other neighbours' cached states: exact for up to 3 layers (the item embeddings returned
for ``H`` are exact for up to 2). Every new user is added alone, so a user's scores do not
depend on who else is in the batch, and the cost is the degrees of ``H``, not the graph.

A new item has features and no edges: its input is its projected features (no id embedding)
and every layer convolves it with no neighbours, so its final state depends on nothing else
and can be computed once and kept. Trained items always have neighbours and an id embedding,
so such a state is off the training distribution unless training shows the model some:
``new_item_rate`` treats that share of items, drawn afresh in every training pass, exactly as
a new item would be treated (no id embedding, no incoming messages; users still hear from
them), which teaches the feature path to place items on its own.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, Final, Literal, Self

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from storex.errors import ConfigError, DataError, ModelError
from storex.graph import ITEM, RATES, REV_RATES, USER
from storex.models.data import DataSpec, InteractionData
from storex.models.layers import NodeInput, PairMLP, RatingHead, reset_children
from storex.models.neural import EmbeddingModule, EmbeddingRecommender, GraphInputs, TrainConfig

Direction = Literal["to_item", "to_user"]
DIRECTIONS: Final[tuple[Direction, Direction]] = ("to_item", "to_user")
HeadName = Literal["dot", "mlp"]
LayerPooling = Literal["last", "mean"]
LAYER_POOLINGS: Final[tuple[LayerPooling, ...]] = ("last", "mean")

#: New users are embedded in groups whose history items have at most this many edges in all.
NEW_USER_EDGE_BUDGET: Final = 1 << 20


class BipartiteGNN(EmbeddingModule):
    """Node inputs, ``num_layers`` user <-> item convolutions and the heads.

    Subclasses build their convolutions and implement :meth:`convolve`; they may override
    :meth:`edges` to give the convolutions a faster form of the training graph.
    """

    def __init__(
        self,
        spec: DataSpec,
        *,
        dim: int,
        num_layers: int,
        dropout: float,
        batch_norm: bool,
        user_ids: bool,
        item_ids: bool,
        id_dropout: float,
        head: HeadName,
        head_hidden: Sequence[int],
        rating_head: bool,
        rating_hidden: Sequence[int],
        normalize_output: bool = False,
        layer_pooling: LayerPooling = "last",
        rating_offset: float = 0.0,
        new_item_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= new_item_rate < 1.0:
            raise ConfigError(f"new_item_rate must be in [0, 1), got {new_item_rate}")
        if new_item_rate and not spec.item_dim:
            raise ConfigError("new_item_rate needs item features: without them no item is new")
        if num_layers < 1:
            raise ConfigError(f"num_layers must be >= 1, got {num_layers}")
        if head not in ("dot", "mlp"):
            raise ConfigError(f"head must be 'dot' or 'mlp', got {head!r}")
        if layer_pooling not in LAYER_POOLINGS:
            raise ConfigError(f"layer_pooling must be 'last' or 'mean', got {layer_pooling!r}")
        self.num_layers = num_layers
        self.dropout = dropout
        self.normalize_output = normalize_output
        self.layer_pooling = layer_pooling
        self.new_item_rate = new_item_rate
        self.user_input = NodeInput(
            spec.num_users, spec.user_dim, dim, use_ids=user_ids, id_dropout=id_dropout
        )
        self.item_input = NodeInput(spec.num_items, spec.item_dim, dim, use_ids=item_ids)
        self.norms = nn.ModuleDict(
            {
                direction: nn.ModuleList(
                    nn.BatchNorm1d(dim) if batch_norm else nn.Identity()
                    for _ in range(num_layers - 1)
                )
                for direction in DIRECTIONS
            }
        )
        self.pair_head = PairMLP(dim, dim, head_hidden, product=True) if head == "mlp" else None
        self.rating_head = (
            RatingHead(dim, rating_hidden, offset=rating_offset) if rating_head else None
        )

    def reset_parameters(self) -> None:
        """Fresh initial weights (called by the trainer after seeding)."""
        reset_children(self)

    @abstractmethod
    def convolve(
        self, layer: int, direction: Direction, x_src: Tensor, x_dst: Tensor, edges: Any
    ) -> Tensor:
        """New states of the ``x_dst`` nodes from their ``x_src`` neighbours along ``edges``
        (an ``[src; dst]`` edge index, or whatever :meth:`edges` returned)."""

    def edges(self, graph: GraphInputs) -> dict[Direction, Any]:
        """The training graph per message direction, as :meth:`convolve` takes it."""
        return {"to_item": graph.edge_index, "to_user": graph.edge_index.flip(0)}

    def step(
        self,
        layer: int,
        direction: Direction,
        x_src: Tensor,
        x_dst: Tensor,
        edges: Any,
        isolated: Tensor | None = None,
    ) -> Tensor:
        """One convolution, then batch norm, ReLU and dropout (none after the last layer).

        The ``isolated`` receivers (indices into ``x_dst``) hear from no neighbour, as a new
        node would not.
        """
        out = self.convolve(layer, direction, x_src, x_dst, edges)
        if isolated is not None:
            alone = self.convolve(layer, direction, x_src[:0], x_dst[isolated], _no_edges(x_dst))
            out = out.index_put((isolated,), alone)
        if layer == self.num_layers - 1:
            return out
        out = F.relu(self.norms[direction][layer](out))
        return F.dropout(out, self.dropout, self.training)

    def readout(self, states: Sequence[Tensor]) -> Tensor:
        """Final embeddings of one node type from its states of layers ``0 .. num_layers``:
        the last state or, with ``layer_pooling="mean"``, the mean of all of them (as
        LightGCN combines its layers, so every hop keeps a direct say in the score); then the
        optional scaling to unit length."""
        out = states[-1] if self.layer_pooling == "last" else torch.stack(list(states)).mean(0)
        return F.normalize(out, dim=-1) if self.normalize_output else out

    def embeddings(self, states: Sequence[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        """User and item embeddings from the ``(user, item)`` states of every layer."""
        return self.readout([u for u, _ in states]), self.readout([i for _, i in states])

    def layer_states(self, graph: GraphInputs) -> list[tuple[Tensor, Tensor]]:
        """``(user, item)`` states of every layer, the inputs first and the outputs last
        (before :meth:`readout`)."""
        items, new = self._as_new_items(self.item_input(graph.item_x), graph.item_x)
        return self._propagate((self.user_input(graph.user_x), items), self.edges(graph), new)

    def forward(self, graph: GraphInputs) -> tuple[Tensor, Tensor]:
        return self.embeddings(self.layer_states(graph))

    def forward_sampled(self, batch: HeteroData) -> tuple[Tensor, Tensor]:
        """States of the nodes of a neighbour-sampled batch (``mode="sampled"`` training):
        ``n_id`` gives their global ids, features are read from ``x`` when the model has any."""
        users = self.user_input(_batch_features(batch, USER, self.user_input), batch[USER].n_id)
        item_x = _batch_features(batch, ITEM, self.item_input)
        items, new = self._as_new_items(self.item_input(item_x, batch[ITEM].n_id), item_x)
        edges = {"to_item": batch[RATES].edge_index, "to_user": batch[REV_RATES].edge_index}
        return self.embeddings(self._propagate((users, items), edges, new))

    def embed_new_items(self, item_x: Tensor) -> Tensor:
        """Final states ``(n, d)`` of items unseen in training: features only, no neighbours
        (each item alone, so a state never depends on the others in the batch)."""
        items = self.item_input.from_features(item_x)
        no_users = items.new_zeros(0, self.user_input.dim)
        states = [items]
        for layer in range(self.num_layers):
            items = self.step(layer, "to_item", no_users, items, _no_edges(items))
            states.append(items)
        return self.readout(states)

    def _as_new_items(self, items: Tensor, item_x: Tensor) -> tuple[Tensor, Tensor | None]:
        """While training, a ``new_item_rate`` share of the items made to look new: input from
        features alone; returns the inputs and those items' rows (None when there are none)."""
        if not self.training or self.new_item_rate == 0.0:
            return items, None
        chosen = torch.rand(items.shape[0], device=items.device) < self.new_item_rate
        rows = torch.nonzero(chosen).flatten()
        return items.index_put((rows,), self.item_input.from_features(item_x[rows])), rows

    def _propagate(
        self,
        inputs: tuple[Tensor, Tensor],
        edges: dict[Direction, Any],
        new_items: Tensor | None = None,
    ) -> list[tuple[Tensor, Tensor]]:
        users, items = inputs
        states = [(users, items)]
        for layer in range(self.num_layers):
            users, items = (
                self.step(layer, "to_user", items, users, edges["to_user"]),
                self.step(layer, "to_item", users, items, edges["to_item"], new_items),
            )
            states.append((users, items))
        return states

    def score_pairs(self, user_emb: Tensor, item_emb: Tensor) -> Tensor:
        if self.pair_head is None:
            return super().score_pairs(user_emb, item_emb)
        return self.pair_head(user_emb, item_emb)

    def score_all(self, user_emb: Tensor, item_emb: Tensor) -> Tensor:
        if self.pair_head is None:
            return super().score_all(user_emb, item_emb)
        return self.pair_head.all(user_emb, item_emb)

    def predict_rating(self, user_emb: Tensor, item_emb: Tensor) -> Tensor | None:
        return None if self.rating_head is None else self.rating_head(user_emb, item_emb)

    @property
    def scores_by_dot_product(self) -> bool:
        return self.pair_head is None

    def embed_new_users(
        self,
        user_x: Tensor,
        owners: Tensor,
        items: Tensor,
        neighbors: tuple[Tensor, Tensor],
        cached: Sequence[tuple[Tensor, Tensor]],
    ) -> tuple[Tensor, Tensor]:
        """Final states of new users and of their history items, each user added alone.

        Parameters
        ----------
        user_x
            Features of the new users ``(B, user_dim)``.
        owners, items
            The history as row-aligned pairs (new user row, item), no pair twice.
        neighbors
            The training item -> user adjacency as ``(ptr, users)`` (CSR rows = items).
        cached
            ``(user, item)`` states of layers ``0 .. num_layers - 1`` on the training graph.

        Returns
        -------
        The users' final states ``(B, d)`` and, per history pair, the item's final state
        with that user added ``(len(items), d)``.
        """
        ptr, neighbor_users = neighbors
        start, degree = ptr[items], ptr[items + 1] - ptr[items]
        copy_of_edge = torch.arange(items.numel()).repeat_interleave(degree)
        offset = (
            torch.arange(copy_of_edge.numel()) - (torch.cumsum(degree, 0) - degree)[copy_of_edge]
        )
        old_users, old_local = torch.unique(
            neighbor_users[start[copy_of_edge] + offset], return_inverse=True
        )
        # Copy k of an item gathers its training neighbours plus its owner, appended after them.
        to_copies = torch.stack(
            [
                torch.cat([old_local, old_users.numel() + owners]),
                torch.cat([copy_of_edge, torch.arange(items.numel())]),
            ]
        )
        to_owners = torch.stack([torch.arange(items.numel()), owners])
        users, copies = self.user_input.from_features(user_x), cached[0][1][items]
        states = [(users, copies)]
        for layer in range(self.num_layers):
            senders = torch.cat([cached[layer][0][old_users], users])
            users, copies = (
                self.step(layer, "to_user", copies, users, to_owners),
                self.step(layer, "to_item", senders, copies, to_copies),
            )
            states.append((users, copies))
        return self.embeddings(states)


class BipartiteRecommender(EmbeddingRecommender):
    """Shared hyperparameters, fitting and cold-start scoring of the user-item GNNs.

    Parameters
    ----------
    embedding_dim
        Width of every state.
    num_layers
        Rounds of message passing (hops).
    dropout, batch_norm
        Applied between layers.
    user_ids, item_ids
        Learn an id embedding per node type (False: the type is represented by its features,
        which must then exist).
    id_dropout
        Share of users whose id embedding is dropped per training pass, so the feature path
        learns to embed users alone (the cold-start path).
    new_item_rate
        Share of items treated as new in each training pass (no id embedding, no incoming
        messages), so the feature path learns to embed items alone (the new-item path, see
        the module docstring).
    head, head_hidden
        Pair score: ``"dot"`` product, or ``"mlp"`` over ``[u, i, u*i]`` with these widths.
    normalize_output
        Scale final embeddings to unit length (dot scores become cosines; pair it with the
        softmax loss, whose temperature then sets the sharpness).
    layer_pooling
        Final embedding: the last layer's state (``"last"``) or the mean of the states of
        layers ``0 .. num_layers`` (``"mean"``, LightGCN's layer combination).
    rating_head, rating_hidden
        Also learn ``offset + MLP([u, i, u*i])`` on explicit ratings (needs
        ``train.rating_weight > 0`` or ``train.loss="mse"``); read it with
        :meth:`predict_ratings`.
    train
        The :class:`~storex.models.neural.TrainConfig`.
    """

    def __init__(
        self,
        embedding_dim: int = 64,
        num_layers: int = 2,
        dropout: float = 0.0,
        batch_norm: bool = False,
        user_ids: bool = True,
        item_ids: bool = True,
        id_dropout: float = 0.0,
        head: HeadName = "dot",
        head_hidden: Sequence[int] = (64,),
        rating_head: bool = False,
        rating_hidden: Sequence[int] = (64,),
        normalize_output: bool = False,
        layer_pooling: LayerPooling = "last",
        new_item_rate: float = 0.0,
        train: TrainConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(train)
        self.embedding_dim = embedding_dim
        self.num_layers = num_layers
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.user_ids = user_ids
        self.item_ids = item_ids
        self.id_dropout = id_dropout
        self.head = head
        self.head_hidden = tuple(head_hidden)
        self.rating_head = rating_head
        self.rating_hidden = tuple(rating_hidden)
        self.normalize_output = normalize_output
        self.layer_pooling = layer_pooling
        self.new_item_rate = new_item_rate
        self._rating_offset = 0.0

    def model_params(self) -> dict[str, Any]:
        return {
            "embedding_dim": self.embedding_dim,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "batch_norm": self.batch_norm,
            "user_ids": self.user_ids,
            "item_ids": self.item_ids,
            "id_dropout": self.id_dropout,
            "head": self.head,
            "head_hidden": list(self.head_hidden),
            "rating_head": self.rating_head,
            "rating_hidden": list(self.rating_hidden),
            "normalize_output": self.normalize_output,
            "layer_pooling": self.layer_pooling,
            "new_item_rate": self.new_item_rate,
        }

    def module_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`BipartiteGNN` from these hyperparameters."""
        return {
            "dim": self.embedding_dim,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "batch_norm": self.batch_norm,
            "user_ids": self.user_ids,
            "item_ids": self.item_ids,
            "id_dropout": self.id_dropout,
            "head": self.head,
            "head_hidden": self.head_hidden,
            "rating_head": self.rating_head,
            "rating_hidden": self.rating_hidden,
            "normalize_output": self.normalize_output,
            "layer_pooling": self.layer_pooling,
            "rating_offset": self._rating_offset,
            "new_item_rate": self.new_item_rate,
        }

    def fit(self, data: InteractionData) -> Self:
        if self.rating_head:
            trained = self.train.loss == "mse" or self.train.rating_weight > 0
            if not data.is_explicit or not trained:
                raise ConfigError(
                    "rating_head needs explicit ratings and a rating loss (train.loss='mse' or "
                    f"train.rating_weight > 0); data explicit: {data.is_explicit}, "
                    f"loss: {self.train.loss!r}, rating_weight: {self.train.rating_weight}"
                )
            self._rating_offset = float(np.nanmean(data.train_rating.numpy()))
        super().fit(data)
        self._keep_graph(data)
        return self

    def _keep_graph(self, data: InteractionData) -> None:
        """Cache what cold-start scoring reads: item -> user CSR and per-layer states."""
        module = self.module_.cpu().eval()
        graph = GraphInputs(
            num_users=data.num_users,
            num_items=data.num_items,
            edge_index=data.train,
            user_x=data.user_x,
            item_x=data.item_x,
            edge_rating=data.train_rating,
        )
        with torch.no_grad():
            states = module.layer_states(graph)
        order = torch.sort(data.train[1], stable=True).indices
        ptr = torch.zeros(data.num_items + 1, dtype=torch.long)
        ptr[1:] = torch.cumsum(torch.bincount(data.train[1], minlength=data.num_items), 0)
        self.item_neighbors_ = (ptr, data.train[0][order].contiguous())
        self.layer_states_ = [(u.detach(), i.detach()) for u, i in states[:-1]]
        self.set_embeddings(*module.embeddings(states))

    def predict_ratings(self, users: Tensor, items: Tensor) -> Tensor:
        """Estimated ratings of row-aligned ``(user, item)`` pairs, shape ``(B,)``; raises
        :class:`NotImplementedError` when built without ``rating_head``."""
        self.check_fitted()
        if users.shape != items.shape:
            raise DataError(f"users {tuple(users.shape)} and items {tuple(items.shape)} differ")
        with torch.no_grad():
            rating = self.module_.predict_rating(self.user_emb_[users], self.item_emb_[items])
        if rating is None:  # NotImplementedError: the evaluator then skips rating metrics
            raise NotImplementedError(f"{type(self).__name__} was built without a rating head")
        return rating

    def score_new_users(self, user_x: Tensor, histories: Sequence[Tensor]) -> Tensor:
        """Scores of users unseen in training, each added alone to the training graph.

        See the module docstring for what is recomputed; without id embeddings for users and
        without dropout, a training user re-added with its own features and edges scores as
        it did in training up to the one extra neighbour of its items.
        """
        return self.score_new_users_with_states(user_x, histories)[0]

    def score_new_users_with_states(
        self, user_x: Tensor, histories: Sequence[Tensor]
    ) -> tuple[Tensor, Tensor]:
        self.check_fitted()
        user_x = self._check_new_user_features(user_x, len(histories))
        owners, items = self._history_pairs(histories)
        scores = torch.empty(user_x.shape[0], self.num_items_)
        states = torch.empty(user_x.shape[0], self.embedding_dim)
        ptr = self.item_neighbors_[0]
        degree = torch.zeros(user_x.shape[0], dtype=torch.long)
        degree.index_add_(0, owners, ptr[items + 1] - ptr[items])
        module = self.module_.eval()
        with torch.no_grad():
            for group in _groups_by_budget(degree, NEW_USER_EDGE_BUDGET):
                lo, hi = int(group[0]), int(group[-1]) + 1
                picked = (owners >= lo) & (owners < hi)
                local, picked_items = owners[picked] - lo, items[picked]
                users, copies = module.embed_new_users(
                    user_x[lo:hi], local, picked_items, self.item_neighbors_, self.layer_states_
                )
                block = module.score_all(users, self.item_emb_)
                block[local, picked_items] = module.score_pairs(users[local], copies)
                scores[lo:hi], states[lo:hi] = block, users
        return scores, states

    def embed_new_items(self, item_x: Tensor) -> Tensor:
        """Final states ``(n, embedding_dim)`` of items unseen in training, from their features
        alone (see the module docstring); raises :class:`NotImplementedError` for a model
        trained without item features, which has nothing to tell new items apart by."""
        self.check_fitted()
        if not self.spec_.item_dim:
            raise NotImplementedError(
                f"{type(self).__name__} was trained without item features: a new item has "
                "nothing to be embedded from"
            )
        item_x = torch.as_tensor(item_x, dtype=torch.float32)
        if item_x.dim() != 2 or item_x.shape[1] != self.spec_.item_dim:
            raise DataError(
                f"new item features have shape {tuple(item_x.shape)}, expected "
                f"(n, {self.spec_.item_dim}) (the training feature columns)",
                column="item_x",
            )
        bad = ~torch.isfinite(item_x)
        if bad.any():
            row, column = (int(i) for i in torch.nonzero(bad)[0])
            raise DataError(
                f"new item feature row {row}, column {column} is NaN or infinite",
                line=row,
                column="item_x",
            )
        with torch.no_grad():
            return self.module_.eval().embed_new_items(item_x)

    def user_states(self, users: Tensor) -> Tensor:
        self.check_fitted()
        return self.user_emb_[users]

    def score_new_items(self, user_states: Tensor, item_states: Tensor) -> Tensor:
        self.check_fitted()
        with torch.no_grad():
            return self.module_.score_all(user_states, item_states)

    def _check_new_user_features(self, user_x: Tensor, count: int) -> Tensor:
        user_x = torch.as_tensor(user_x, dtype=torch.float32)
        expected = (count, self.spec_.user_dim)
        if user_x.dim() != 2 or tuple(user_x.shape) != expected:
            raise DataError(
                f"new user features have shape {tuple(user_x.shape)}, expected {expected} "
                "(one row per history, the training feature columns)",
                column="user_x",
            )
        if not torch.isfinite(user_x).all():
            raise DataError("new user features hold NaN or infinite values", column="user_x")
        return user_x

    def _history_pairs(self, histories: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """``(owner, item)`` pairs of all histories, each pair once, owners ascending."""
        owners, items = [], []
        for row, history in enumerate(histories):
            history = torch.as_tensor(history).reshape(-1)
            if history.numel() and (history.is_floating_point() or history.is_complex()):
                raise DataError(f"history {row} holds non-integer item indices")
            history = history.long()
            bad = (history < 0) | (history >= self.num_items_)
            if bad.any():
                raise DataError(
                    f"history {row} holds item index {int(history[bad][0])}, "
                    f"expected 0 .. {self.num_items_ - 1}"
                )
            unique = torch.unique(history)
            owners.append(torch.full_like(unique, row))
            items.append(unique)
        if not owners:
            return torch.empty(0, dtype=torch.long), torch.empty(0, dtype=torch.long)
        return torch.cat(owners), torch.cat(items)

    def state(self) -> dict[str, Tensor]:
        ptr, users = self.item_neighbors_
        layers = {}
        for layer, (user_state, item_state) in enumerate(self.layer_states_):
            layers[f"layers.{layer}.user"] = user_state
            layers[f"layers.{layer}.item"] = item_state
        return {**super().state(), "neighbors.ptr": ptr, "neighbors.users": users, **layers}

    def set_state(self, state: dict[str, Tensor]) -> None:
        super().set_state(state)
        try:
            self.item_neighbors_ = (state["neighbors.ptr"], state["neighbors.users"])
            self.layer_states_ = [
                (state[f"layers.{layer}.user"], state[f"layers.{layer}.item"])
                for layer in range(self.num_layers)
            ]
        except KeyError as exc:
            raise ModelError(f"saved {type(self).__name__} lacks tensor {exc}") from None


def _batch_features(batch: HeteroData, node_type: str, node_input: NodeInput) -> Tensor:
    store = batch[node_type]
    if node_input.feature_dim == 0:
        return torch.zeros(store.n_id.numel(), 0, device=store.n_id.device)
    if "x" not in store:
        raise ConfigError(
            f"sampled batches carry no {node_type} features, which this model reads; "
            f"train with mode='full' or put them on the sampled graph"
        )
    return store.x.float()


def _no_edges(like: Tensor) -> Tensor:
    """An empty ``[src; dst]`` edge index on ``like``'s device."""
    return torch.empty(2, 0, dtype=torch.long, device=like.device)


def _groups_by_budget(cost: Tensor, budget: int) -> list[Tensor]:
    """Consecutive index runs whose summed ``cost`` stays within ``budget`` (at least one each)."""
    groups, start, total = [], 0, 0
    for index, value in enumerate(cost.tolist()):
        if index > start and total + value > budget:
            groups.append(torch.arange(start, index))
            start, total = index, 0
        total += value
    if start < cost.numel():
        groups.append(torch.arange(start, cost.numel()))
    return groups
