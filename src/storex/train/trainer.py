"""One training loop for every embedding model.

:class:`Trainer` builds the training graph once, then per epoch draws batches for the chosen
loss, propagates, steps Adam, validates every ``eval_every`` epochs, stops early on the
validation metric, logs and checkpoints, and finally hands the best epoch's embeddings to the
recommender.

Losses (``TrainConfig.loss``):

* ``"bpr"``, ``"bce"``: batches of ``batch_size`` training pairs, ``negatives`` sampled items per
  pair (``uniform`` or ``popularity``, never a known training positive), plus
  ``embedding_reg`` times the L2 norm of the batch's free embeddings.
* ``"softmax"``: batches of ``batch_size`` *users*; each user's training positives are scored
  against every item (multinomial log-likelihood with ``temperature``). With
  ``extra["softmax"] = "sampled"`` batches are pairs against ``negatives`` sampled items
  instead (for very large catalogues).
* ``"mse"``: batches of rated training pairs, squared error of the module's rating head.
  ``rating_weight > 0`` adds this term to any ranking loss on explicit data, over
  ``rating_batch_size`` random rated pairs per step.

Validation reports ranking metrics and, for a module with a rating head on data with valid
ratings, ``rmse`` and ``mae``. ``metric`` picks the one early stopping watches: ``"ndcg@20"``
and the like (higher is better) or ``"rmse"`` / ``"mae"`` (lower is better).

Options in ``TrainConfig.extra``: ``checkpoint_dir``, ``log_path``, ``resume`` (defaults for the
keyword arguments of :meth:`Trainer.fit`); ``softmax`` (``"full"`` or ``"sampled"``);
``softmax_per_user`` (full softmax averaged per user rather than per positive pair);
``cl_weight``, ``cl_noise``, ``cl_temperature`` (SimGCL: InfoNCE between two noisy
propagations, for modules whose ``forward`` takes ``noise``); ``popularity_alpha`` (exponent of
the popularity sampler, 0.75); ``threads`` (CPU threads: a count, or ``"auto"``, the default:
the cores the load average leaves free, see :mod:`storex.train.threads`);
``eval_batch_size``.

``mode="sampled"`` trains on neighbour-sampled mini-batches (PyG ``LinkLoader`` over the
interleaved positive/negative pairs, with :func:`storex.graph.make_neighbor_sampler` and
``num_neighbors``, padded with its last fanout to the module's ``num_layers`` hops) for modules
that define ``forward_sampled(batch: HeteroData) -> (user_emb, item_emb)`` for the nodes of the
batch; validation and the final embeddings still use the full-graph ``forward``. The batch's
nodes carry their global training ``degree`` beside ``n_id``.

``mode="auto"`` (the default) picks ``"sampled"`` when the training graph has more than
``extra["sampled_above"]`` edges (:data:`SAMPLED_ABOVE`, 2M) and the module can (it has
``forward_sampled``, the loss is bpr or bce, no contrastive term), ``"full"`` otherwise: one
full propagation per step stops being affordable at that size. ``extra["valid_users"]``
(:data:`VALID_USERS`, 20K) caps the valid users ranked for early stopping: above it a fixed
subset drawn with ``seed``; the epoch log says ``valid_users=N of M`` when it applies.

Optional module hooks: ``ego_embeddings() -> (user, item)`` for the L2 penalty (the output
embeddings are penalised otherwise) and ``reset_parameters()``, which a fresh (not resumed) fit
calls after seeding so that two fits with one seed give the same model.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.loader import LinkLoader

from storex.devices import training_device
from storex.errors import ConfigError, ModelError
from storex.evaluate.metrics import RATING_METRICS
from storex.graph import ITEM, RATES, REV_RATES, USER, KnownPositives, sample_negatives
from storex.graph.neighbors import make_neighbor_sampler
from storex.models.data import InteractionData
from storex.models.neural import EmbeddingModule, EmbeddingRecommender, GraphInputs, TrainConfig
from storex.train import losses
from storex.train.callbacks import (
    EarlyStopping,
    EpochLog,
    RankingValidator,
    RatingValidator,
    Validator,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from storex.train.threads import resolve_threads

log = logging.getLogger(__name__)

BEST_FILE = "model_best.pth"
LAST_FILE = "model_last.pth"
SAMPLED_ABOVE = 2_000_000
"""Training edges above which ``mode="auto"`` trains on sampled neighbourhoods."""
VALID_USERS = 20_000
"""Valid users ranked for early stopping at most (a fixed seeded subset above it)."""


class Trainer:
    """Trains an :class:`EmbeddingRecommender`'s module (see the module docstring)."""

    def __init__(
        self, config: TrainConfig | None = None, *, rank: int = 0, world_size: int = 1
    ) -> None:
        """``rank`` of ``world_size`` processes in a ``torch.distributed`` group (see
        :mod:`storex.train.distributed`, which starts them): each takes its share of every
        epoch's batches, gradients are averaged across the group, rank 0 validates."""
        self.config = config or TrainConfig()
        self.rank, self.world_size = rank, world_size

    def fit(
        self,
        recommender: EmbeddingRecommender,
        data: InteractionData,
        *,
        validator: Validator | None = None,
        checkpoint_dir: str | Path | None = None,
        log_path: str | Path | None = None,
        resume: bool | None = None,
    ) -> list[dict[str, Any]]:
        """Train ``recommender.module_`` on ``data`` and return the per-epoch history.

        Parameters
        ----------
        validator
            Called with ``score_fn(users) -> (B, I)`` scores, returns ranking metrics that
            include ``config.metric`` (unless that is a rating error); defaults to
            NDCG/recall@10/20 on ``data.valid`` with train masked. Rating errors on the valid
            ratings are added beside it. Without valid pairs and validator, the last epoch is
            kept.
        checkpoint_dir
            Where ``model_best.pth`` and ``model_last.pth`` go (``extra["checkpoint_dir"]``).
        log_path
            JSON-lines file of epoch records (``extra["log_path"]``); TensorBoard events go
            beside it when tensorboard is installed.
        resume
            Continue from ``checkpoint_dir/model_last.pth`` (``extra["resume"]``).
        """
        cfg = self.config
        extra = dict(cfg.extra)
        checkpoint_dir = _path(checkpoint_dir, extra.get("checkpoint_dir"))
        log_path = _path(log_path, extra.get("log_path"))
        resume = bool(extra.get("resume", False)) if resume is None else resume
        if resume and checkpoint_dir is None:
            raise ConfigError("resume needs a checkpoint_dir")
        _check_config(cfg)
        if self.rank != 0:
            log_path = None  # rank 0 writes the epoch log and checkpoints
        rating_metric = cfg.metric in RATING_METRICS

        torch.set_num_threads(resolve_threads(extra.get("threads")))
        device = training_device(cfg.device)
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        module: EmbeddingModule = recommender.module_
        if not resume and hasattr(module, "reset_parameters"):
            module.reset_parameters()
        module.to(device)
        graph = build_graph_inputs(data, module, device)
        self.mode_ = resolve_mode(cfg, data, module)
        objective = _objective(cfg, self.mode_, data, module, graph, rng)
        objective.share = (self.rank, self.world_size)
        if self.rank != 0:
            validator = None
        elif validator is None and data.valid.numel():
            ks = sorted({10, 20} if rating_metric else {10, 20, _cutoff(cfg.metric)})
            validator = RankingValidator(
                data,
                ks=ks,
                batch_size=extra.get("eval_batch_size", 1024),
                max_users=int(extra.get("valid_users", VALID_USERS)),
                seed=cfg.seed,
            )
            ranked, total = validator.users.size, validator.total_users
            if ranked < total:
                log.info("validating on valid_users=%d of %d (fixed seeded subset)", ranked, total)
        log.info("training mode %s over %d training edges", self.mode_, data.train.shape[1])
        rating_validator = (
            RatingValidator(data) if rating_metric or _has_ratings(data.valid_rating) else None
        )
        optimizer = torch.optim.Adam(module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        stopper = EarlyStopping(cfg.patience, lower_is_better=rating_metric)
        run = _Run(history=[], best=None, start=0)
        if resume:
            run = _restore(checkpoint_dir / LAST_FILE, module, optimizer, stopper, rng)

        with EpochLog(log_path, cfg.epochs, run.start) as epoch_log:
            for epoch in range(run.start + 1, cfg.epochs + 1):
                if self._agreed_stop(stopper.should_stop):
                    break
                record = self._train_epoch(epoch, module, graph, objective, optimizer, rng)
                if validator is not None and (epoch % cfg.eval_every == 0 or epoch == cfg.epochs):
                    started = time.perf_counter()
                    metrics, user_emb, item_emb = _validate(
                        module, graph, validator, rating_validator, epoch
                    )
                    if cfg.metric not in metrics:
                        raise ConfigError(_missing_metric(cfg.metric, metrics, module))
                    record.update(metrics)
                    record["eval_seconds"] = round(time.perf_counter() - started, 4)
                    if isinstance(validator, RankingValidator):
                        record["valid_users"] = int(validator.users.size)
                    if stopper.update(metrics[cfg.metric]):
                        run.best = _snapshot(module, epoch, metrics[cfg.metric], user_emb, item_emb)
                        if checkpoint_dir is not None and self.rank == 0:
                            save_checkpoint(
                                checkpoint_dir / BEST_FILE,
                                {**run.best, "history": [*run.history, record]},
                            )
                run.history.append(record)
                epoch_log.write(record)
                if checkpoint_dir is not None and self.rank == 0:
                    save_checkpoint(
                        checkpoint_dir / LAST_FILE,
                        _resumable(cfg, epoch, run, module, optimizer, stopper, rng),
                    )

        if self.rank != 0:
            return run.history  # rank 0 returns the model
        if run.best:
            module.load_state_dict(run.best["module"])
            recommender.set_embeddings(run.best["user_emb"], run.best["item_emb"])
            log.info("best %s=%.5f at epoch %d", cfg.metric, run.best["metric"], run.best["epoch"])
        else:
            module.eval()
            with torch.no_grad():
                user_emb, item_emb = module(graph)
            _check_finite(user_emb, item_emb, len(run.history))
            recommender.set_embeddings(user_emb, item_emb)
        module.eval()
        return run.history

    def _train_epoch(
        self,
        epoch: int,
        module: EmbeddingModule,
        graph: GraphInputs,
        objective: _Objective,
        optimizer: torch.optim.Optimizer,
        rng: np.random.Generator,
    ) -> dict[str, Any]:
        started = time.perf_counter()
        module.train()
        total, steps = 0.0, 0
        if self.world_size > 1:  # every rank shuffles alike: rank 0 seeds the epoch
            seed = torch.tensor([int(rng.integers(2**62))])
            torch.distributed.broadcast(seed, src=0)
            rng = np.random.default_rng(int(seed))
        for batch in objective.batches(rng):
            optimizer.zero_grad(set_to_none=True)
            loss = objective.loss(module, graph, batch)
            if not torch.isfinite(loss):
                raise ModelError(
                    f"training diverged: the loss became {loss.item()} at epoch {epoch}"
                )
            loss.backward()
            if self.world_size > 1:
                _average_gradients(module, self.world_size)
            optimizer.step()
            total += float(loss.detach())
            steps += 1
        return {
            "epoch": epoch,
            "loss": total / max(steps, 1),
            "seconds": round(time.perf_counter() - started, 4),
        }

    def _agreed_stop(self, should_stop: bool) -> bool:
        """Rank 0's early-stopping decision, the same on every rank."""
        if self.world_size == 1:
            return should_stop
        flag = torch.tensor([int(should_stop)])
        torch.distributed.broadcast(flag, src=0)
        return bool(flag.item())


def _average_gradients(module: EmbeddingModule, world_size: int) -> None:
    """All-reduce every parameter's gradient to the group mean (a missing one counts as zero,
    so every rank makes the same collective calls)."""
    for parameter in module.parameters():
        if not parameter.requires_grad:
            continue
        if parameter.grad is None:
            parameter.grad = torch.zeros_like(parameter)
        elif parameter.grad.is_sparse:
            parameter.grad = parameter.grad.to_dense()
        torch.distributed.all_reduce(parameter.grad, op=torch.distributed.ReduceOp.SUM)
        parameter.grad /= world_size


def share_of(order: Tensor | np.ndarray, share: tuple[int, int]) -> Any:
    """Rank ``share[0]``'s slice of a shuffled epoch ``order`` among ``share[1]`` ranks: every
    ``world``-th entry, all ranks the same length (the last ``len % world`` entries of this
    epoch's shuffle sit out, a different few each epoch), so ranks step in lockstep."""
    rank, world = share
    if world == 1:
        return order
    usable = len(order) - len(order) % world
    return order[rank:usable:world]


# Graph ########################################################################################


def build_graph_inputs(
    data: InteractionData, module: EmbeddingModule, device: torch.device
) -> GraphInputs:
    """The training graph on ``device``; the symmetric adjacency only when the module asks."""
    adjacency = None
    if module.needs_adjacency:
        adjacency = symmetric_adjacency(data.train, data.num_users, data.num_items).to(device)
    return GraphInputs(
        num_users=data.num_users,
        num_items=data.num_items,
        edge_index=data.train.to(device),
        user_x=data.user_x.to(device),
        item_x=data.item_x.to(device),
        edge_rating=data.train_rating.to(device),
        adjacency=adjacency,
    )


def symmetric_adjacency(edge_index: Tensor, num_users: int, num_items: int) -> Tensor:
    """``D^-1/2 A D^-1/2`` of the bipartite graph, users first, as a coalesced COO tensor."""
    users, items = edge_index[0], edge_index[1] + num_users
    size = num_users + num_items
    rows, cols = torch.cat([users, items]), torch.cat([items, users])
    degree = torch.bincount(rows, minlength=size).float().clamp(min=1.0)
    values = degree[rows].rsqrt() * degree[cols].rsqrt()
    return torch.sparse_coo_tensor(
        torch.stack([rows, cols]), values, (size, size), check_invariants=False
    ).coalesce()


# Objectives ###################################################################################


class _Objective(Protocol):
    share: tuple[int, int]

    def batches(self, rng: np.random.Generator) -> Iterator[Any]: ...

    def loss(self, module: EmbeddingModule, graph: GraphInputs, batch: Any) -> Tensor: ...


class _Negatives:
    """Draws ``(B, n)`` negatives per positive pair, never a known training positive."""

    def __init__(self, cfg: TrainConfig, data: InteractionData) -> None:
        self.num_items = data.num_items
        self.ratio = cfg.negatives
        self.strategy = cfg.negative_sampling
        self.known = KnownPositives(data.train[0], data.train[1], data.num_items)
        popularity = data.item_popularity().double().numpy()
        self.alpha = float(cfg.extra.get("popularity_alpha", 0.75))
        self.weight = popularity if self.strategy == "popularity" else None
        weighted = np.where(popularity > 0, popularity**self.alpha, 0.0)
        prob = weighted / weighted.sum() if self.strategy == "popularity" else None
        self.log_q = None if prob is None else torch.from_numpy(np.log(prob + 1e-12)).float()

    def draw(self, users: Tensor, items: Tensor, rng: np.random.Generator) -> Tensor:
        _, drawn, _ = sample_negatives(
            users,
            items,
            self.num_items,
            ratio=self.ratio,
            strategy=self.strategy,
            known_positive=self.known,
            alpha=self.alpha,
            item_weight=self.weight,
            seed=rng,
        )
        return drawn[users.numel() :].view(-1, self.ratio)


class _Regulariser:
    """Penalty on the batch's free embeddings (or output embeddings without that hook)."""

    def __init__(self, weight: float) -> None:
        self.weight = weight

    def __call__(
        self,
        module: EmbeddingModule,
        outputs: tuple[Tensor, Tensor],
        users: Tensor,
        items: Tensor,
    ) -> Tensor:
        if self.weight <= 0:
            return outputs[0].new_zeros(())
        user_ego, item_ego = (
            module.ego_embeddings() if hasattr(module, "ego_embeddings") else outputs
        )
        return self.weight * losses.l2_penalty(user_ego[users], item_ego[items])


class _Contrast:
    """SimGCL: InfoNCE between two noisy propagations for the batch's users and items."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.weight = float(cfg.extra.get("cl_weight", 0.0))
        self.noise = float(cfg.extra.get("cl_noise", 0.1))
        self.temperature = float(cfg.extra.get("cl_temperature", 0.2))

    def __call__(
        self, module: EmbeddingModule, graph: GraphInputs, users: Tensor, items: Tensor
    ) -> Tensor:
        view_a = module(graph, noise=self.noise)
        view_b = module(graph, noise=self.noise)
        user_term = _info_nce(view_a[0][users], view_b[0][users], self.temperature)
        item_term = _info_nce(view_a[1][items], view_b[1][items], self.temperature)
        return self.weight * (user_term + item_term)


def _info_nce(a: Tensor, b: Tensor, temperature: float) -> Tensor:
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    logits = a @ b.T / temperature
    return F.cross_entropy(logits, torch.arange(a.shape[0], device=a.device))


class _RatingTerm:
    """``rating_weight`` x MSE of the rating head on a random batch of rated training pairs."""

    def __init__(self, cfg: TrainConfig, data: InteractionData, weight: float) -> None:
        rated = ~torch.isnan(data.train_rating) if data.train_rating.numel() else None
        if rated is None or not bool(rated.any()):
            raise ConfigError("a rating loss needs explicit ratings on the training pairs")
        self.pairs = data.train[:, rated]
        self.ratings = data.train_rating[rated]
        self.batch_size = cfg.rating_batch_size or cfg.batch_size
        self.weight = weight

    def sample(self, rng: np.random.Generator) -> Tensor:
        return torch.from_numpy(rng.integers(0, self.ratings.numel(), self.batch_size))

    def __call__(
        self, module: EmbeddingModule, outputs: tuple[Tensor, Tensor], picked: Tensor
    ) -> Tensor:
        users, items = self.pairs[:, picked].to(outputs[0].device)
        predicted = module.predict_rating(outputs[0][users], outputs[1][items])
        if predicted is None:
            raise ModelError(f"{type(module).__name__} has no rating head for the rating loss")
        return self.weight * losses.mse_loss(predicted, self.ratings[picked].to(predicted.device))


class _PairObjective:
    """BPR, BCE or sampled softmax over shuffled training pairs, full-graph propagation."""

    share: tuple[int, int] = (0, 1)  # (rank, world_size), see share_of

    def __init__(self, cfg: TrainConfig, data: InteractionData, rating: _RatingTerm | None) -> None:
        self.cfg, self.pairs = cfg, data.train
        self.negatives = _Negatives(cfg, data)
        self.regulariser = _Regulariser(cfg.embedding_reg)
        self.contrast = _Contrast(cfg)
        self.rating = rating

    def batches(self, rng: np.random.Generator) -> Iterator[tuple[Tensor, ...]]:
        order = share_of(torch.from_numpy(rng.permutation(self.pairs.shape[1])), self.share)
        for start in range(0, order.numel(), self.cfg.batch_size):
            users, items = self.pairs[:, order[start : start + self.cfg.batch_size]]
            negatives = self.negatives.draw(users, items, rng)
            picked = self.rating.sample(rng) if self.rating else None
            yield users, items, negatives, picked

    def loss(
        self, module: EmbeddingModule, graph: GraphInputs, batch: tuple[Tensor, ...]
    ) -> Tensor:
        users, items, negatives, picked = batch
        device = graph.edge_index.device
        users, items, negatives = users.to(device), items.to(device), negatives.to(device)
        outputs = module(graph)
        user_emb, item_emb = outputs
        u = user_emb[users]
        pos = module.score_pairs(u, item_emb[items])
        count = negatives.shape[1]
        neg = module.score_pairs(
            u.repeat_interleave(count, dim=0), item_emb[negatives.reshape(-1)]
        ).view(-1, count)
        if self.cfg.loss == "bpr":
            value = losses.bpr_loss(pos, neg)
        elif self.cfg.loss == "bce":
            value = losses.bce_loss(pos, neg)
        else:
            log_q = self.negatives.log_q
            value = losses.sampled_softmax_loss(
                pos,
                neg,
                self.cfg.temperature,
                None if log_q is None else log_q.to(device)[negatives],
                None if log_q is None else log_q.to(device)[items],
            )
        seen = torch.cat([items, negatives.reshape(-1)])
        value = value + self.regulariser(module, outputs, users, seen)
        if self.contrast.weight > 0:
            value = value + self.contrast(module, graph, users.unique(), seen.unique())
        if self.rating is not None:
            value = value + self.rating(module, outputs, picked)
        return value


class _UserSoftmaxObjective:
    """Full softmax: batches of users, each user's positives against every item."""

    share: tuple[int, int] = (0, 1)  # (rank, world_size), see share_of

    def __init__(self, cfg: TrainConfig, data: InteractionData, rating: _RatingTerm | None) -> None:
        self.cfg = cfg
        self.matrix = data.matrix("train")
        self.users = np.flatnonzero(np.diff(self.matrix.indptr) > 0)
        self.per_user = bool(cfg.extra.get("softmax_per_user", False))
        self.regulariser = _Regulariser(cfg.embedding_reg)
        self.contrast = _Contrast(cfg)
        self.rating = rating

    def batches(self, rng: np.random.Generator) -> Iterator[tuple[Tensor, ...]]:
        order = share_of(rng.permutation(self.users), self.share)
        for start in range(0, order.size, self.cfg.batch_size):
            users = order[start : start + self.cfg.batch_size]
            rows = self.matrix[users]
            targets = torch.from_numpy(rows.toarray())
            items = torch.from_numpy(np.unique(rows.indices)).long()
            picked = self.rating.sample(rng) if self.rating else None
            yield torch.from_numpy(users).long(), targets, items, picked

    def loss(
        self, module: EmbeddingModule, graph: GraphInputs, batch: tuple[Tensor, ...]
    ) -> Tensor:
        users, targets, items, picked = batch
        device = graph.edge_index.device
        users, targets, items = users.to(device), targets.to(device), items.to(device)
        outputs = module(graph)
        scores = module.score_all(outputs[0][users], outputs[1])
        value = losses.softmax_loss(scores, targets, self.cfg.temperature, self.per_user)
        value = value + self.regulariser(module, outputs, users, items)
        if self.contrast.weight > 0:
            value = value + self.contrast(module, graph, users, items)
        if self.rating is not None:
            value = value + self.rating(module, outputs, picked)
        return value


class _RatingObjective:
    """``loss="mse"``: shuffled rated pairs through the rating head."""

    share: tuple[int, int] = (0, 1)  # (rank, world_size), see share_of

    def __init__(self, cfg: TrainConfig, data: InteractionData) -> None:
        self.cfg = cfg
        self.term = _RatingTerm(cfg, data, 1.0)

    def batches(self, rng: np.random.Generator) -> Iterator[Tensor]:
        order = share_of(torch.from_numpy(rng.permutation(self.term.ratings.numel())), self.share)
        yield from order.split(self.cfg.batch_size)

    def loss(self, module: EmbeddingModule, graph: GraphInputs, batch: Tensor) -> Tensor:
        return self.term(module, module(graph), batch)


class _SampledObjective:
    """Neighbour-sampled mini-batches: LinkLoader over interleaved positive/negative pairs.

    Each epoch pairs every training positive with one fresh negative, shuffles the pairs and
    lays them out as ``pos_0, neg_0, pos_1, neg_1, ...`` so every batch holds whole pairs.
    """

    share: tuple[int, int] = (0, 1)  # (rank, world_size), see share_of

    def __init__(self, cfg: TrainConfig, data: InteractionData, module: EmbeddingModule) -> None:
        if not hasattr(module, "forward_sampled"):
            raise ConfigError(
                f"mode='sampled' needs {type(module).__name__}.forward_sampled(batch)"
            )
        if cfg.loss not in ("bpr", "bce"):
            raise ConfigError(f"mode='sampled' trains with bpr or bce, not {cfg.loss!r}")
        self.cfg = cfg
        self.pairs = data.train
        self.negatives = _Negatives(replace_negatives(cfg, 1), data)
        self.regulariser = _Regulariser(cfg.embedding_reg)
        self.hetero = bipartite_hetero(data)
        self.fanouts = sampled_fanouts(cfg.num_neighbors, getattr(module, "num_layers", None))

    def batches(self, rng: np.random.Generator) -> Iterator[HeteroData]:
        order = share_of(torch.from_numpy(rng.permutation(self.pairs.shape[1])), self.share)
        users, items = self.pairs[:, order]
        negatives = self.negatives.draw(users, items, rng).view(-1)
        label_index = torch.stack(
            [users.repeat_interleave(2), torch.stack([items, negatives], dim=1).reshape(-1)]
        )
        labels = torch.arange(label_index.shape[1]) % 2 == 0
        sampler = make_neighbor_sampler(self.hetero, self.fanouts, seed=int(rng.integers(2**31)))
        loader = LinkLoader(
            self.hetero,
            link_sampler=sampler,
            edge_label_index=(RATES, label_index),
            edge_label=labels.float(),
            batch_size=2 * self.cfg.batch_size,
            shuffle=False,
        )
        yield from loader

    def loss(self, module: EmbeddingModule, graph: GraphInputs, batch: HeteroData) -> Tensor:
        device = graph.edge_index.device
        batch = batch.to(device)
        outputs = module.forward_sampled(batch)
        src, dst = batch[RATES].edge_label_index
        scores = module.score_pairs(outputs[0][src], outputs[1][dst])
        pos, neg = scores[0::2], scores[1::2]
        value = losses.bpr_loss(pos, neg) if self.cfg.loss == "bpr" else losses.bce_loss(pos, neg)
        if self.regulariser.weight > 0:
            if hasattr(module, "ego_embeddings"):
                user_ego, item_ego = module.ego_embeddings()
                src, dst = batch[USER].n_id[src], batch[ITEM].n_id[dst]
            else:
                user_ego, item_ego = outputs
            value = value + self.regulariser.weight * losses.l2_penalty(
                user_ego[src[0::2]], item_ego[dst]
            )
        return value


def sampled_fanouts(num_neighbors: tuple[int, ...], num_layers: int | None) -> list[int]:
    """One fanout per propagation layer: ``num_neighbors`` cut or padded with its last entry,
    so a batch reaches as many hops as the module propagates."""
    fanouts = list(num_neighbors) or [10]
    if num_layers is None or num_layers < 1:
        return fanouts
    return (fanouts + [fanouts[-1]] * num_layers)[:num_layers]


def replace_negatives(cfg: TrainConfig, negatives: int) -> TrainConfig:
    return TrainConfig(**{**cfg.to_dict(), "negatives": negatives})


def bipartite_hetero(data: InteractionData) -> HeteroData:
    """Users and items (features ``x``, global ``n_id`` and training ``degree``) with both edge
    directions and their ``rating``, laid out like :func:`storex.graph.assemble_hetero` for
    the neighbour sampler."""
    hetero = HeteroData()
    hetero[USER].num_nodes = data.num_users
    hetero[ITEM].num_nodes = data.num_items
    hetero[USER].x, hetero[ITEM].x = data.user_x, data.item_x
    hetero[USER].n_id = torch.arange(data.num_users)
    hetero[ITEM].n_id = torch.arange(data.num_items)
    hetero[USER].degree = torch.bincount(data.train[0], minlength=data.num_users)
    hetero[ITEM].degree = torch.bincount(data.train[1], minlength=data.num_items)
    rating = data.train_rating
    if rating.numel() != data.train.shape[1]:
        rating = torch.full((data.train.shape[1],), float("nan"))
    hetero[RATES].edge_index, hetero[RATES].rating = data.train, rating
    hetero[REV_RATES].edge_index, hetero[REV_RATES].rating = data.train.flip(0), rating
    return hetero


def resolve_mode(cfg: TrainConfig, data: InteractionData, module: EmbeddingModule) -> str:
    """``cfg.mode``, with ``"auto"`` decided by the training graph's size (module docstring)."""
    if cfg.mode != "auto":
        return cfg.mode
    threshold = int(cfg.extra.get("sampled_above", SAMPLED_ABOVE))
    able = (
        hasattr(module, "forward_sampled")
        and cfg.loss in ("bpr", "bce")
        and float(cfg.extra.get("cl_weight", 0.0)) == 0.0
        and cfg.rating_weight == 0.0
    )
    return "sampled" if able and data.train.shape[1] > threshold else "full"


def _objective(
    cfg: TrainConfig,
    mode: str,
    data: InteractionData,
    module: EmbeddingModule,
    graph: GraphInputs,
    rng: np.random.Generator,
) -> _Objective:
    if mode == "sampled":
        return _SampledObjective(cfg, data, module)
    if cfg.loss == "mse":
        return _RatingObjective(cfg, data)
    rating = _RatingTerm(cfg, data, cfg.rating_weight) if cfg.rating_weight > 0 else None
    if cfg.loss == "softmax" and cfg.extra.get("softmax", "full") == "full":
        return _UserSoftmaxObjective(cfg, data, rating)
    return _PairObjective(cfg, data, rating)


# Helpers ######################################################################################


class _Run:
    def __init__(self, history: list[dict[str, Any]], best: dict[str, Any] | None, start: int):
        self.history, self.best, self.start = history, best, start


def _resumable(
    cfg: TrainConfig,
    epoch: int,
    run: _Run,
    module: EmbeddingModule,
    optimizer: torch.optim.Optimizer,
    stopper: EarlyStopping,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Everything ``model_last.pth`` holds so that a resumed run continues identically."""
    return {
        "module": module.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": epoch,
        "history": run.history,
        "rng": rng_state(rng),
        "stopper": stopper.state_dict(),
        "best": run.best or {},
        "config": json.loads(json.dumps(cfg.to_dict(), default=str)),
    }


def _restore(
    path: Path,
    module: EmbeddingModule,
    optimizer: torch.optim.Optimizer,
    stopper: EarlyStopping,
    rng: np.random.Generator,
) -> _Run:
    state = load_checkpoint(path)
    try:
        module.load_state_dict(state["module"])
        optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise ModelError(f"{path}: checkpoint does not fit this model: {exc}") from exc
    stopper.load_state_dict(state["stopper"])
    set_rng_state(rng, state["rng"])
    log.info("resuming from %s after epoch %d", path, state["epoch"])
    return _Run(history=list(state["history"]), best=state["best"] or None, start=state["epoch"])


def _validate(
    module: EmbeddingModule,
    graph: GraphInputs,
    validator: Validator,
    rating_validator: RatingValidator | None,
    epoch: int,
) -> tuple[dict[str, float], Tensor, Tensor]:
    """Ranking metrics of ``validator`` plus, for a module with a rating head, rmse and mae."""
    module.eval()
    with torch.no_grad():
        user_emb, item_emb = module(graph)
    _check_finite(user_emb, item_emb, epoch)

    def score(users: Tensor) -> Tensor:
        with torch.no_grad():
            return module.score_all(user_emb[users.to(user_emb.device)], item_emb)

    def predict(users: Tensor, items: Tensor) -> Tensor | None:
        device = user_emb.device
        with torch.no_grad():
            return module.predict_rating(user_emb[users.to(device)], item_emb[items.to(device)])

    metrics = dict(validator(score))
    if rating_validator is not None:
        metrics.update(rating_validator(predict) or {})
    return metrics, user_emb, item_emb


def _missing_metric(metric: str, metrics: dict[str, float], module: EmbeddingModule) -> str:
    if metric in RATING_METRICS:
        return f"metric {metric!r} needs a rating head, and {type(module).__name__} has none"
    return f"validator returned {sorted(metrics)}, not the metric {metric!r}"


def _has_ratings(ratings: Tensor) -> bool:
    return bool(ratings.numel()) and not bool(torch.isnan(ratings).all())


def _snapshot(
    module: EmbeddingModule, epoch: int, metric: float, user_emb: Tensor, item_emb: Tensor
) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "metric": metric,
        "module": {k: v.detach().cpu().clone() for k, v in module.state_dict().items()},
        "user_emb": user_emb.detach().cpu().clone(),
        "item_emb": item_emb.detach().cpu().clone(),
    }


def _check_finite(user_emb: Tensor, item_emb: Tensor, epoch: int) -> None:
    if not (torch.isfinite(user_emb).all() and torch.isfinite(item_emb).all()):
        raise ModelError(f"training diverged: embeddings became NaN or infinite at epoch {epoch}")


def _check_config(cfg: TrainConfig) -> None:
    problems = []
    if cfg.epochs < 0 or cfg.batch_size < 1 or cfg.eval_every < 1:
        problems.append("epochs >= 0, batch_size >= 1 and eval_every >= 1")
    if cfg.negatives < 1 and cfg.loss != "softmax":
        problems.append("negatives >= 1")
    if cfg.temperature <= 0:
        problems.append("temperature > 0")
    if cfg.loss not in ("bpr", "bce", "softmax", "mse"):
        problems.append("loss in bpr, bce, softmax, mse")
    if cfg.extra.get("softmax", "full") not in ("full", "sampled"):
        problems.append("extra['softmax'] in full, sampled")
    if cfg.rating_batch_size is not None and cfg.rating_batch_size < 1:
        problems.append("rating_batch_size >= 1 (or None)")
    if problems:
        raise ConfigError(f"invalid training config: need {'; '.join(problems)}")
    if cfg.metric not in RATING_METRICS:
        _cutoff(cfg.metric)


def _cutoff(metric: str) -> int:
    name, _, k = metric.partition("@")
    if not k.isdigit() or int(k) < 1 or not name:
        raise ConfigError(
            f"metric must look like 'ndcg@20' or be one of {list(RATING_METRICS)}, got {metric!r}"
        )
    return int(k)


def _path(explicit: str | Path | None, configured: object) -> Path | None:
    value = explicit if explicit is not None else configured
    return None if value is None else Path(str(value))
