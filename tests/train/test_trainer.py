"""The shared Trainer: losses learn, runs repeat and resume, logs, checkpoints, loud failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from storex.errors import ConfigError, ModelError
from storex.graph import ITEM, RATES, REV_RATES, USER
from storex.models.data import DataSpec, InteractionData
from storex.models.lightgcn import LightGCN
from storex.models.neural import EmbeddingModule, EmbeddingRecommender, GraphInputs
from storex.train import EarlyStopping, RankingValidator, Trainer
from storex.train.trainer import BEST_FILE, LAST_FILE

GROUPS, USERS, ITEMS = 2, 12, 10  # users per group, items per group
ONE_THREAD = {"threads": 1}  # tiny tensors: threads only add synchronisation


def grouped_data(ratings: bool = False) -> InteractionData:
    """Each group of users likes only its own items: 6 train, 1 valid, 1 test per user."""
    train, valid, test = [], [], []
    for group in range(GROUPS):
        for local in range(USERS):
            user = group * USERS + local
            own = [group * ITEMS + (local + j) % ITEMS for j in range(8)]
            train += [(user, item) for item in own[:6]]
            valid.append((user, own[6]))
            test.append((user, own[7]))

    def pairs(rows: list[tuple[int, int]]) -> Tensor:
        return torch.tensor(rows, dtype=torch.long).T.contiguous()

    def rating(rows: list[tuple[int, int]]) -> Tensor:
        if not ratings:
            return torch.full((len(rows),), float("nan"))
        return torch.tensor([1.0 + (u + i) % 5 for u, i in rows])

    users, items = GROUPS * USERS, GROUPS * ITEMS
    return InteractionData(
        num_users=users,
        num_items=items,
        train=pairs(train),
        valid=pairs(valid),
        test=pairs(test),
        train_rating=rating(train),
        valid_rating=rating(valid),
        test_rating=rating(test),
        user_x=torch.zeros(users, 0),
        item_x=torch.zeros(items, 0),
    )


@pytest.fixture(scope="module")
def data() -> InteractionData:
    return grouped_data()


def lightgcn(**train: Any) -> LightGCN:
    extra = {**ONE_THREAD, **train.pop("extra", {})}
    settings = {"epochs": 8, "batch_size": 100, "lr": 0.1, "patience": 0, "extra": extra, **train}
    return LightGCN(embedding_dim=8, num_layers=2, train=settings)


def fitted_module(model: EmbeddingRecommender, data: InteractionData) -> EmbeddingRecommender:
    """Build the module the way ``fit`` does, for calling the Trainer directly."""
    model.spec_ = data.spec
    model.module_ = model.build_module(data.spec)
    return model


@pytest.mark.parametrize(
    "train",
    [
        {"loss": "bpr"},
        {"loss": "bce", "negatives": 3},
        {"loss": "softmax", "temperature": 0.5},
        {"loss": "softmax", "negatives": 4, "extra": {"softmax": "sampled"}},
        {"loss": "bpr", "negative_sampling": "popularity"},
        {
            "loss": "softmax",
            "negatives": 4,
            "negative_sampling": "popularity",
            "extra": {"softmax": "sampled"},
        },
        {"loss": "softmax", "extra": {"cl_weight": 0.1, "cl_noise": 0.1}},
    ],
    ids=["bpr", "bce", "softmax", "sampled-softmax", "bpr-popularity", "logq-softmax", "simgcl"],
)
def test_every_loss_learns_the_groups(data: InteractionData, train: dict[str, Any]) -> None:
    model = lightgcn(epochs=10, eval_every=5, **train).fit(data)
    history = model.history_
    assert [r["epoch"] for r in history] == list(range(1, 11))
    assert history[-1]["loss"] < history[0]["loss"]
    # Each user's valid item is one of 4 unseen items of their group among 14 unseen in all.
    metrics = RankingValidator(data, ks=(4,))(model.score)
    assert metrics["recall@4"] > 0.9


def test_history_holds_losses_metrics_and_times(data: InteractionData) -> None:
    model = lightgcn(epochs=4, eval_every=2).fit(data)
    assert [sorted(r) for r in model.history_[::2]] == [["epoch", "loss", "seconds"]] * 2
    evaluated = model.history_[1]
    assert {"ndcg@20", "recall@10", "ndcg@10", "recall@20", "eval_seconds"} <= set(evaluated)
    assert all(r["seconds"] >= 0 for r in model.history_)


def test_best_epoch_embeddings_are_kept(data: InteractionData) -> None:
    scores = iter([0.5, 0.9, 0.2, 0.1])
    snapshots: list[Tensor] = []

    def validator(score_fn: Any) -> dict[str, float]:
        snapshots.append(score_fn(torch.arange(3)).clone())
        return {"ndcg@20": next(scores)}

    model = fitted_module(lightgcn(epochs=4), data)
    history = Trainer(model.train).fit(model, data, validator=validator)
    assert len(history) == 4
    assert torch.allclose(model.score(torch.arange(3)), snapshots[1])
    assert not torch.allclose(model.score(torch.arange(3)), snapshots[3])


def test_early_stopping_after_patience_evaluations(data: InteractionData) -> None:
    def validator(score_fn: Any) -> dict[str, float]:
        return {"ndcg@20": 0.1}  # never improves after the first evaluation

    model = fitted_module(lightgcn(epochs=50, patience=3), data)
    history = Trainer(model.train).fit(model, data, validator=validator)
    assert len(history) == 4


def test_early_stopping_direction() -> None:
    higher = EarlyStopping(patience=2)
    assert [higher.update(v) for v in (0.3, 0.5, 0.4, 0.5)] == [True, True, False, False]
    assert higher.should_stop
    lower = EarlyStopping(patience=2, lower_is_better=True)
    assert [lower.update(v) for v in (1.2, 0.9, 1.0, 0.8)] == [True, True, False, True]
    assert not lower.should_stop and lower.best == 0.8


def test_same_seed_same_model(data: InteractionData) -> None:
    a = lightgcn(epochs=3, seed=7).fit(data)
    b = lightgcn(epochs=3, seed=7).fit(data)
    c = lightgcn(epochs=3, seed=8).fit(data)
    assert torch.equal(a.user_emb_, b.user_emb_) and torch.equal(a.item_emb_, b.item_emb_)
    assert [r["loss"] for r in a.history_] == [r["loss"] for r in b.history_]
    assert not torch.equal(a.user_emb_, c.user_emb_)


def test_resume_gives_the_uninterrupted_result(data: InteractionData, tmp_path: Path) -> None:
    settings = {"loss": "bpr", "negative_sampling": "popularity"}
    whole = lightgcn(epochs=6, **settings).fit(data)

    first = fitted_module(lightgcn(epochs=3, **settings), data)
    Trainer(first.train).fit(first, data, checkpoint_dir=tmp_path)
    second = fitted_module(lightgcn(epochs=6, **settings), data)
    history = Trainer(second.train).fit(second, data, checkpoint_dir=tmp_path, resume=True)

    assert [r["epoch"] for r in history] == list(range(1, 7))
    assert [r["loss"] for r in history] == [r["loss"] for r in whole.history_]
    assert torch.equal(second.user_emb_, whole.user_emb_)
    assert torch.equal(second.item_emb_, whole.item_emb_)


def test_checkpoints_and_log_through_extra(data: InteractionData, tmp_path: Path) -> None:
    log_path = tmp_path / "logs" / "train.jsonl"
    extra = {"checkpoint_dir": str(tmp_path / "ckpt"), "log_path": str(log_path)}
    model = lightgcn(epochs=3, extra=extra).fit(data)
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert lines == model.history_
    last = torch.load(tmp_path / "ckpt" / LAST_FILE, weights_only=True)
    best = torch.load(tmp_path / "ckpt" / BEST_FILE, weights_only=True)
    assert last["epoch"] == 3 and len(last["history"]) == 3
    assert {"module", "optimizer", "rng", "stopper", "best"} <= set(last)
    best_epoch = max(model.history_, key=lambda r: r["ndcg@20"])["epoch"]
    assert best["epoch"] == best_epoch
    assert torch.equal(best["user_emb"], model.user_emb_)


def test_missing_or_corrupt_checkpoint_names_the_file(
    data: InteractionData, tmp_path: Path
) -> None:
    model = fitted_module(lightgcn(), data)
    with pytest.raises(ModelError, match=LAST_FILE):
        Trainer(model.train).fit(model, data, checkpoint_dir=tmp_path, resume=True)
    (tmp_path / LAST_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match=str(tmp_path / LAST_FILE)):
        Trainer(model.train).fit(model, data, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(ConfigError, match="checkpoint_dir"):
        Trainer(model.train).fit(model, data, resume=True)


class NaNModule(EmbeddingModule):
    """Finite for two epochs' worth of steps, then NaN."""

    def __init__(self, spec: DataSpec) -> None:
        super().__init__()
        self.user = nn.Parameter(torch.randn(spec.num_users, 4))
        self.item = nn.Parameter(torch.randn(spec.num_items, 4))
        self.calls = 0

    def forward(self, graph: GraphInputs) -> tuple[Tensor, Tensor]:
        self.calls += 1
        scale = float("nan") if self.calls > 2 else 1.0
        return self.user * scale, self.item * scale


class NaNModel(EmbeddingRecommender):
    name = "test-nan"

    def build_module(self, spec: DataSpec) -> EmbeddingModule:
        return NaNModule(spec)


def test_nan_loss_raises_with_the_epoch(data: InteractionData) -> None:
    model = NaNModel({"epochs": 5, "batch_size": 1000, "eval_every": 10, "extra": ONE_THREAD})
    with pytest.raises(ModelError, match="epoch 3"):
        model.fit(data)


class RatingModule(EmbeddingModule):
    """Free embeddings with a bias-only rating head (or none)."""

    def __init__(self, spec: DataSpec, head: bool) -> None:
        super().__init__()
        self.user = nn.Embedding(spec.num_users, 4)
        self.item = nn.Embedding(spec.num_items, 4)
        self.bias = nn.Parameter(torch.zeros(()))
        self.head = head

    def forward(self, graph: GraphInputs) -> tuple[Tensor, Tensor]:
        return self.user.weight, self.item.weight

    def predict_rating(self, user_emb: Tensor, item_emb: Tensor) -> Tensor | None:
        return (user_emb * item_emb).sum(-1) + self.bias if self.head else None


class RatingModel(EmbeddingRecommender):
    name = "test-rating"

    def __init__(self, train: dict[str, Any], head: bool = True) -> None:
        super().__init__({**train, "extra": ONE_THREAD})
        self.head = head

    def build_module(self, spec: DataSpec) -> EmbeddingModule:
        return RatingModule(spec, self.head)


def test_mse_learns_ratings_and_needs_a_head_and_ratings() -> None:
    rated = grouped_data(ratings=True)
    model = RatingModel({"loss": "mse", "epochs": 30, "lr": 0.1, "batch_size": 64}).fit(rated)
    assert model.history_[-1]["loss"] < 0.5 * model.history_[0]["loss"]
    assert model.module_.bias.item() > 1.0  # moved towards the mean rating of 3
    combined = RatingModel({"loss": "bpr", "rating_weight": 0.5, "epochs": 2}).fit(rated)
    assert len(combined.history_) == 2
    with pytest.raises(ModelError, match="no rating head"):
        RatingModel({"loss": "mse", "epochs": 1}, head=False).fit(rated)
    with pytest.raises(ConfigError, match="explicit ratings"):
        RatingModel({"loss": "mse", "epochs": 1}).fit(grouped_data())


def valid_rmse(model: RatingModel, data: InteractionData) -> float:
    users, items = data.valid
    with torch.no_grad():
        predicted = model.module_.predict_rating(model.user_emb_[users], model.item_emb_[items])
    return float((predicted - data.valid_rating).pow(2).mean().sqrt())


def test_rmse_early_stopping_keeps_the_lowest_valid_rmse() -> None:
    rated = grouped_data(ratings=True)
    # At this learning rate the free embeddings overfit: valid rmse falls, then rises again.
    train = {"loss": "mse", "epochs": 30, "lr": 0.1, "batch_size": 64, "metric": "rmse"}
    model = RatingModel({**train, "patience": 0}).fit(rated)
    curve = [record["rmse"] for record in model.history_]
    best_epoch = curve.index(min(curve)) + 1
    assert 1 < best_epoch < len(curve) and curve[-1] > min(curve)
    assert valid_rmse(model, rated) == pytest.approx(min(curve), rel=1e-5)
    assert all("mae" in record and "ndcg@20" in record for record in model.history_)

    stopped = RatingModel({**train, "patience": 3}).fit(rated)
    assert len(stopped.history_) == best_epoch + 3
    assert valid_rmse(stopped, rated) == pytest.approx(min(curve), rel=1e-5)


def test_ranking_metric_still_reports_valid_rmse() -> None:
    rated = grouped_data(ratings=True)
    model = RatingModel({"loss": "bpr", "rating_weight": 1.0, "epochs": 2}).fit(rated)
    assert all(record["rmse"] > 0 and record["mae"] > 0 for record in model.history_)
    without_head = RatingModel({"loss": "bpr", "epochs": 1}, head=False).fit(rated)
    assert "rmse" not in without_head.history_[0]


def test_rmse_metric_needs_a_head_and_valid_ratings() -> None:
    rated = grouped_data(ratings=True)
    with pytest.raises(ConfigError, match="needs a rating head"):
        RatingModel({"loss": "bpr", "metric": "rmse", "epochs": 1}, head=False).fit(rated)
    with pytest.raises(ConfigError, match="valid split holds no ratings"):
        RatingModel({"loss": "bpr", "metric": "mae", "epochs": 1}).fit(grouped_data())


def test_rating_batch_size_sets_the_rated_pairs_per_step() -> None:
    rated = grouped_data(ratings=True)
    seen: list[int] = []

    class CountingModule(RatingModule):
        def predict_rating(self, user_emb: Tensor, item_emb: Tensor) -> Tensor | None:
            if self.training:
                seen.append(user_emb.shape[0])
            return super().predict_rating(user_emb, item_emb)

    class CountingModel(RatingModel):
        def build_module(self, spec: DataSpec) -> EmbeddingModule:
            return CountingModule(spec, self.head)

    train = {"loss": "softmax", "rating_weight": 1.0, "epochs": 1, "batch_size": 8}
    CountingModel({**train, "rating_batch_size": 50}).fit(rated)
    assert seen == [50] * 3  # 24 users in steps of 8, each with 50 rated pairs
    seen.clear()
    CountingModel(train).fit(rated)
    assert seen == [8] * 3


class SampledModule(EmbeddingModule):
    """One mean-aggregation hop over the sampled neighbours, plus full-graph inference."""

    def __init__(self, spec: DataSpec) -> None:
        super().__init__()
        self.user = nn.Embedding(spec.num_users, 8)
        self.item = nn.Embedding(spec.num_items, 8)
        self.seen_batches = 0

    def _hop(self, own: Tensor, other: Tensor, index: Tensor, size: int) -> Tensor:
        src, dst = index
        total = torch.zeros(size, other.shape[1]).index_add_(0, dst, other[src])
        count = torch.bincount(dst, minlength=size).clamp(min=1).unsqueeze(1)
        return own + total / count

    def forward_sampled(self, batch: HeteroData) -> tuple[Tensor, Tensor]:
        self.seen_batches += 1
        if batch[USER].x.shape != (batch[USER].n_id.numel(), 3):
            raise AssertionError("user features are not sliced with the batch")
        users, items = self.user(batch[USER].n_id), self.item(batch[ITEM].n_id)
        return (
            self._hop(users, items, batch[REV_RATES].edge_index, users.shape[0]),
            self._hop(items, users, batch[RATES].edge_index, items.shape[0]),
        )

    def forward(self, graph: GraphInputs) -> tuple[Tensor, Tensor]:
        users, items = self.user.weight, self.item.weight
        index = graph.edge_index
        return (
            self._hop(users, items, index.flip(0), graph.num_users),
            self._hop(items, users, index, graph.num_items),
        )


class SampledModel(EmbeddingRecommender):
    name = "test-sampled"

    def build_module(self, spec: DataSpec) -> EmbeddingModule:
        return SampledModule(spec)


def test_sampled_mode_trains_on_neighbour_batches() -> None:
    data = grouped_data()
    data.user_x = torch.randn(data.num_users, 3)
    train = {"mode": "sampled", "num_neighbors": (3, 2), "epochs": 10, "batch_size": 100}
    train["extra"] = ONE_THREAD
    model = SampledModel({**train, "lr": 0.1, "embedding_reg": 0.0, "eval_every": 5}).fit(data)
    batches_per_epoch = -(-data.train.shape[1] // 100)
    assert model.module_.seen_batches == 10 * batches_per_epoch
    assert model.history_[-1]["loss"] < model.history_[0]["loss"]
    assert RankingValidator(data, ks=(4,))(model.score)["recall@4"] > 0.6
    again = SampledModel({**train, "embedding_reg": 0.0, "epochs": 2}).fit(data)
    same = SampledModel({**train, "embedding_reg": 0.0, "epochs": 2}).fit(data)
    assert torch.equal(again.user_emb_, same.user_emb_)


class FullOnlyModel(EmbeddingRecommender):
    """LightGCN's module without the sampled hook: a module that can only train full-graph."""

    name = "test-full-only"

    def build_module(self, spec: DataSpec) -> EmbeddingModule:
        class FullOnly(EmbeddingModule):
            def __init__(self) -> None:
                super().__init__()
                self.user = nn.Embedding(spec.num_users, 4)
                self.item = nn.Embedding(spec.num_items, 4)

            def forward(self, graph: GraphInputs) -> tuple[Tensor, Tensor]:
                return self.user.weight, self.item.weight

        return FullOnly()


def test_sampled_mode_needs_the_hook_and_a_pair_loss(data: InteractionData) -> None:
    with pytest.raises(ConfigError, match="forward_sampled"):
        FullOnlyModel({"mode": "sampled", "epochs": 1}).fit(data)
    with pytest.raises(ConfigError, match="bpr or bce"):
        SampledModel({"mode": "sampled", "loss": "softmax"}).fit(data)


def test_sampled_lightgcn_matches_full_batch_quality(data: InteractionData) -> None:
    settings = {"epochs": 12, "eval_every": 12, "num_neighbors": (4,)}
    full = lightgcn(mode="full", **settings).fit(data)
    sampled = lightgcn(mode="sampled", **settings).fit(data)
    assert sampled.trainer_mode_ == "sampled" and full.trainer_mode_ == "full"
    full_recall = RankingValidator(data, ks=(4,))(full.score)["recall@4"]
    sampled_recall = RankingValidator(data, ks=(4,))(sampled.score)["recall@4"]
    assert full_recall > 0.9
    assert sampled_recall >= full_recall - 0.05


def test_lightgcn_sampled_propagation_equals_full_when_no_neighbour_is_dropped(
    data: InteractionData,
) -> None:
    from torch_geometric.loader import LinkLoader

    from storex.graph.neighbors import make_neighbor_sampler
    from storex.train.trainer import bipartite_hetero, build_graph_inputs

    model = fitted_module(lightgcn(), data)
    module = model.module_.eval()
    full_users, full_items = module(build_graph_inputs(data, module, torch.device("cpu")))
    hetero = bipartite_hetero(data)
    every = make_neighbor_sampler(hetero, [-1, -1], seed=0)
    loader = LinkLoader(
        hetero, link_sampler=every, edge_label_index=(RATES, data.train[:, :20]), batch_size=20
    )
    batch = next(iter(loader))
    with torch.no_grad():
        users, items = module.forward_sampled(batch)
    seeds = batch[RATES].edge_label_index
    torch.testing.assert_close(users[seeds[0]], full_users[batch[USER].n_id[seeds[0]]])
    torch.testing.assert_close(items[seeds[1]], full_items[batch[ITEM].n_id[seeds[1]]])


def test_auto_mode_samples_above_the_threshold(data: InteractionData) -> None:
    edges = data.train.shape[1]
    below = lightgcn(epochs=1, extra={"sampled_above": edges}).fit(data)
    above = lightgcn(epochs=1, extra={"sampled_above": edges - 1}).fit(data)
    softmax = lightgcn(epochs=1, loss="softmax", extra={"sampled_above": 0}).fit(data)
    assert (below.trainer_mode_, above.trainer_mode_, softmax.trainer_mode_) == (
        "full",
        "sampled",
        "full",
    )


def test_validation_ranks_a_fixed_subset_above_the_cap(data: InteractionData) -> None:
    model = lightgcn(epochs=2, extra={"valid_users": 10}).fit(data)
    assert [r["valid_users"] for r in model.history_] == [10, 10]
    first = RankingValidator(data, max_users=10, seed=3).users
    again = RankingValidator(data, max_users=10, seed=3).users
    assert first.size == 10 and np.array_equal(first, again)


@pytest.mark.parametrize(
    "train",
    [
        {"metric": "ndcg"},
        {"metric": "rmse@10"},
        {"temperature": 0.0},
        {"batch_size": 0},
        {"rating_batch_size": 0},
        {"extra": {"softmax": "x"}},
    ],
)
def test_bad_settings_raise_config_error(data: InteractionData, train: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        lightgcn(**train).fit(data)


def test_validator_follows_the_reference_protocol() -> None:
    data = grouped_data()

    # Scores that rank items by index: users of group 0 see items 0.. first.
    def score_fn(users: Tensor) -> Tensor:
        return -torch.arange(data.num_items, dtype=torch.float).expand(len(users), -1)

    metrics = RankingValidator(data, split="test", ks=(1, 20))(score_fn)
    truth = data.matrix("train")
    expected_recall, expected_ndcg = 0.0, 0.0
    for user, item in data.test.T.tolist():
        unseen = [i for i in range(data.num_items) if truth[user, i] == 0]
        expected_recall += float(unseen[0] == item)
        expected_ndcg += 1.0 / torch.log2(torch.tensor(unseen.index(item) + 2.0)).item()
    users = data.test.shape[1]
    assert metrics["recall@1"] == pytest.approx(expected_recall / users)
    assert metrics["ndcg@1"] == pytest.approx(expected_recall / users)
    assert metrics["ndcg@20"] == pytest.approx(expected_ndcg / users)
    assert metrics["recall@20"] == pytest.approx(1.0)
