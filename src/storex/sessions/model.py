"""The session model: item graph encoder, session readout and scoring over all items.

Item inputs are a learned id embedding plus a projection of the item's Laplacian positional
encoding. The encoder (GraphSAGE, GAT or graph transformer) turns them into item states over
the co-occurrence graph; the readout turns a session's steps into one vector; every item is
scored by the cosine of its state with that vector times ``scale`` (normalised scores train
better on small data and keep the softmax temperature one number), plus a learned bonus for
the items already in the session (:meth:`SessionGraphModule.repeat_bonus`) and, as an
option, the co-occurrence prior of the session's items (:mod:`storex.sessions.prior`).
With ``repeat_mixture`` the scores are instead log-probabilities of RepeatNet's two modes
(:meth:`SessionGraphModule.mixture_scores`).

Propagation (:meth:`SessionGraphModule.item_states`), session encoding and scoring are kept
apart: training runs all three, while serving and the ONNX export compute the item states
once and reuse them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from storex.devices import training_device
from storex.errors import ConfigError
from storex.sessions.encoders import ENCODER_KINDS, ItemEncoder, make_item_encoder
from storex.sessions.graph import ItemGraph
from storex.sessions.positional import random_sign_flip
from storex.sessions.prior import CooccurrencePrior
from storex.sessions.readout import SessionReadout
from storex.sessions.samples import PAD

LOSSES = ("full", "sampled")
MIN_PROBABILITY = 1e-30
"""Floor of the mixture's probabilities before the log (items far down tie there)."""


@dataclass(frozen=True)
class SessionModelConfig:
    """Hyperparameters of a session model and its training.

    Attributes
    ----------
    encoder
        ``graphsage``, ``gat`` or ``graph_transformer``.
    dim, layers, heads
        Width, encoder layers and attention heads (GAT and transformer).
    feed_forward
        The transformer's feed-forward sub-layer (the reference recipe leaves it out).
    pe_dim
        Laplacian positional encoding width (0: none).
    dropout
        In the encoder and the readout.
    repeat_bonus
        Learn a bonus, by recency, for items already in the session (see
        :meth:`SessionGraphModule.repeat_bonus`).
    repeat_mixture
        Use those recency weights in a mixture instead of a bonus: a gate read from the
        session vector mixes the softmax over all items with a distribution over the
        session's own items (:meth:`SessionGraphModule.mixture_scores`). Needs
        ``repeat_bonus`` and the ``full`` loss.
    graph_prior
        Add the co-occurrence prior of the session's items to the scores
        (:class:`storex.sessions.prior.CooccurrencePrior`).
    scale
        Cosine scores are multiplied by it (the inverse softmax temperature).
    loss
        ``full`` softmax over every item, or ``sampled`` against ``negatives`` shared items.
    label_smoothing
        Share of the full softmax's target mass spread over all items (keeps a small data
        set from pushing scores of the few seen items to extremes).
    lr, weight_decay, batch_size, epochs, patience
        Adam and the loop; early stopping watches ``metric`` on valid every epoch.
    seed, threads
        Randomness of the whole fit; CPU threads of torch.
    device
        Where training runs: ``auto`` (a GPU when there is one), ``cpu``, ``cuda`` ...; the
        trained model always serves, saves and exports from the CPU.
    """

    encoder: str = "graph_transformer"
    dim: int = 64
    layers: int = 2
    heads: int = 2
    feed_forward: bool = False
    pe_dim: int = 16
    dropout: float = 0.3
    repeat_bonus: bool = True
    repeat_mixture: bool = False
    graph_prior: bool = False
    scale: float = 12.0
    loss: str = "full"
    negatives: int = 1024
    label_smoothing: float = 0.0
    lr: float = 0.01
    weight_decay: float = 0.0
    batch_size: int = 512
    epochs: int = 40
    patience: int = 5
    metric: str = "ndcg@10"
    seed: int = 0
    threads: int = 1
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.encoder not in ENCODER_KINDS:
            raise ConfigError(f"encoder must be one of {ENCODER_KINDS}, got {self.encoder!r}")
        if self.loss not in LOSSES:
            raise ConfigError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        for name in ("dim", "heads", "negatives", "batch_size", "epochs", "threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("layers", "pe_dim", "patience"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("dropout", "label_smoothing"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.scale <= 0 or self.lr <= 0:
            raise ConfigError("scale and lr must be > 0")
        if self.repeat_mixture and not (self.repeat_bonus and self.loss == "full"):
            raise ConfigError("repeat_mixture needs repeat_bonus and the full loss")
        training_device(self.device)  # a ConfigError now rather than after the data is read
        family, _, k = self.metric.partition("@")
        if family not in ("recall", "ndcg", "mrr") or not k.isdigit():
            raise ConfigError(f"metric must be recall@K, ndcg@K or mrr@K, got {self.metric!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SessionModelConfig:
        """From settings; unknown keys are a :class:`ConfigError` naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown session model setting(s) {unknown}; known: {sorted(known)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SessionGraphModule(nn.Module):
    """The network of a session model (see the module docstring); ``max_length`` is the
    window of steps the readout reads."""

    encodings: Tensor

    def __init__(
        self,
        config: SessionModelConfig,
        num_items: int,
        max_length: int,
        encodings: Tensor | None = None,
        neighbours: tuple[Tensor, Tensor] | None = None,
    ) -> None:
        super().__init__()
        if config.pe_dim and (encodings is None or encodings.shape != (num_items, config.pe_dim)):
            raise ConfigError(
                f"pe_dim={config.pe_dim} needs positional encodings of shape "
                f"({num_items}, {config.pe_dim})"
            )
        self.config = config
        self.embedding = nn.Embedding(num_items, config.dim)
        self.register_buffer(
            "encodings",
            encodings.float()
            if config.pe_dim and encodings is not None
            else torch.zeros(num_items, 0),
        )
        self.project_pe = (
            nn.Linear(config.pe_dim, config.dim, bias=False) if config.pe_dim else None
        )
        self.encoder: ItemEncoder = make_item_encoder(
            config.encoder,
            config.dim,
            config.layers,
            heads=config.heads,
            feed_forward=config.feed_forward,
            dropout=config.dropout,
        )
        self.readout = SessionReadout(config.dim, max_length, dropout=config.dropout)
        self.repeat = nn.Parameter(torch.zeros(max_length)) if config.repeat_bonus else None
        self.repeat_gate = nn.Linear(config.dim, 1) if config.repeat_mixture else None
        self.prior = _prior(config, num_items, max_length, neighbours)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.embedding.weight, std=0.1)
        if self.project_pe is not None:
            self.project_pe.reset_parameters()
        self.encoder.reset_parameters()
        self.readout.reset_parameters()
        if self.repeat is not None:
            nn.init.zeros_(self.repeat)
        if self.repeat_gate is not None:
            self.repeat_gate.reset_parameters()
        if self.prior is not None:
            self.prior.reset_parameters()

    @property
    def num_items(self) -> int:
        return int(self.embedding.num_embeddings)

    def item_states(self, graph: ItemGraph) -> Tensor:
        """``(N, dim)`` states of every item after the graph encoder."""
        x = self.embedding.weight
        if self.project_pe is not None:
            encodings = random_sign_flip(self.encodings) if self.training else self.encodings
            x = x + self.project_pe(encodings)
        return self.encoder(x, graph)

    def encode_sessions(self, items: Tensor, events: Tensor, states: Tensor) -> Tensor:
        """``(B, dim)`` unit-length session vectors."""
        return F.normalize(self.readout(items, events, states), dim=-1)

    def score(self, sessions: Tensor, unit_states: Tensor, items: Tensor) -> Tensor:
        """``(B, N)`` scaled cosine of every item with each session (``unit_states`` are the
        normalised item states), plus :meth:`session_bonus`; or, with ``repeat_mixture``,
        :meth:`mixture_scores`."""
        cosines = self.config.scale * sessions @ unit_states.T
        if self.repeat_gate is not None:
            return self.mixture_scores(cosines, sessions, items)
        return cosines + self.session_bonus(items)

    def mixture_scores(self, cosines: Tensor, sessions: Tensor, items: Tensor) -> Tensor:
        """``(B, N)`` log-probabilities of RepeatNet's two modes (Ren et al., 2019).

        Explore: the softmax of the scaled cosines (plus the co-occurrence prior) over the
        items not in the session (else the latest item, closest to the session vector, holds
        a top slot it never earns: repeats are merged, so it is never next). Repeat: the
        session's items, weighted by a softmax of their recency weights. A per-session gate
        mixes the two. An additive bonus must fight the cosine, and a session item whose state
        points away from the session vector stayed out of the top hundreds; in the mixture it
        keeps its repeat share. The scores are log-probabilities, so the full softmax loss
        trains them unchanged.
        """
        if self.repeat is None or self.repeat_gate is None:
            raise ConfigError("mixture scores need repeat_mixture (its weights and gate)")
        if self.prior is not None:
            cosines = cosines + self.prior(items)
        real = items != PAD
        recency = self.repeat[-items.shape[1] :].expand_as(items).masked_fill(~real, -1e9)
        weights = torch.softmax(recency, dim=1) * real
        slots = items.clamp(min=0)
        repeat = torch.zeros_like(cosines).scatter_add(1, slots, weights)
        seen = torch.zeros_like(cosines).scatter_add(1, slots, real.to(cosines.dtype)) > 0
        explore = torch.softmax(cosines.masked_fill(seen, -1e9), dim=1)
        gate = torch.sigmoid(self.repeat_gate(sessions))
        mixed = (1.0 - gate) * explore + gate * repeat
        return torch.log(mixed.clamp(min=MIN_PROBABILITY))

    def session_bonus(self, items: Tensor) -> Tensor:
        """``(B, N)`` what the session's items add to the scores apart from the cosine: the
        repeat bonus and the co-occurrence prior (each zero without its option)."""
        bonus = self.repeat_bonus(items, self.num_items)
        return bonus if self.prior is None else bonus + self.prior(items)

    def repeat_bonus(self, items: Tensor, num_items: int) -> Tensor:
        """``(B, N)``: a learned bonus, by recency, for the items already in each session.

        Shoppers return to products they viewed; a cosine alone cannot tell "seen a few
        steps ago" (often the next item) from "seen just now" (never the next item, as
        repeats are merged), so each window column carries its own bonus. Zero without the
        option.
        """
        scores = torch.zeros(items.shape[0], num_items, device=items.device)
        if self.repeat is None:
            return scores
        bonus = self.repeat[-items.shape[1] :].expand_as(items) * (items != PAD)
        return scores.scatter_add(1, items.clamp(min=0), bonus)

    def forward(self, items: Tensor, events: Tensor, graph: ItemGraph) -> Tensor:
        states = self.item_states(graph)
        sessions = self.encode_sessions(items, events, states)
        return self.score(sessions, F.normalize(states, dim=-1), items)


def _prior(
    config: SessionModelConfig,
    num_items: int,
    max_length: int,
    neighbours: tuple[Tensor, Tensor] | None,
) -> CooccurrencePrior | None:
    """The co-occurrence prior of the option, from the neighbour table it needs."""
    if not config.graph_prior:
        return None
    if neighbours is None or neighbours[0].shape[0] != num_items:
        raise ConfigError(f"graph_prior needs the neighbour table of the {num_items} items")
    return CooccurrencePrior(*neighbours, max_length)


class SessionScoringModule(nn.Module):
    """Scores from a session alone, with the item states fixed: what is exported and served."""

    states: Tensor
    unit_states: Tensor

    def __init__(self, module: SessionGraphModule, states: Tensor) -> None:
        super().__init__()
        self.module = module
        self.register_buffer("states", states.detach().clone())
        self.register_buffer("unit_states", F.normalize(states.detach(), dim=-1))

    def forward(self, items: Tensor, events: Tensor) -> Tensor:
        sessions = self.module.encode_sessions(items, events, self.states)
        return self.module.score(sessions, self.unit_states, items)
