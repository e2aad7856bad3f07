"""Cold-start evaluation: who is held out, what the model sees, what is masked and scored."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import pytest
import torch
from torch import Tensor

from storex.errors import ConfigError, EmptyDataError
from storex.evaluate.coldstart import evaluate_cold_items, evaluate_cold_users, subset_data
from storex.models.base import Recommender
from storex.models.data import InteractionData
from tests.models.contract_models import checkerboard
from tests.models.test_new_items import MODELS, with_item_features

NAN = float("nan")


def pairs(edges: Sequence[tuple[int, int]]) -> Tensor:
    return torch.tensor(list(edges), dtype=torch.long).reshape(-1, 2).T.contiguous()


# Train pairs in stored order; user 0's are deliberately not sorted by item.
USER_TRAIN = [(0, 5), (0, 1), (0, 3), (1, 0), (1, 2), (3, 3), (3, 4), (3, 5), (3, 6), (5, 0),
              (5, 1), (2, 1), (4, 7), (6, 1), (7, 1), (8, 7)]  # fmt: skip
USER_VALID = [(0, 6)]
USER_TEST = [(0, 7), (1, 4), (2, 2), (3, 0), (5, 2)]


def user_data() -> InteractionData:
    """9 users x 8 items; features are one-hot ids so fakes can tell who they score.

    Eligible for reveal up to 2 (>= 2 train pairs and > 2 items): users 0, 1, 3, 5.
    Users 2, 4, 6, 7, 8 have one train pair each: popularity item 1 = 3, item 7 = 2.
    """
    return InteractionData(
        num_users=9,
        num_items=8,
        train=pairs(USER_TRAIN),
        valid=pairs(USER_VALID),
        test=pairs(USER_TEST),
        train_rating=torch.full((len(USER_TRAIN),), NAN),
        valid_rating=torch.full((len(USER_VALID),), NAN),
        test_rating=torch.full((len(USER_TEST),), NAN),
        user_x=torch.eye(9),
        item_x=torch.eye(8),
    )


def items_of(data: InteractionData) -> dict[int, set[int]]:
    found: dict[int, set[int]] = {}
    for split in (data.train, data.valid, data.test):
        for user, item in split.T.tolist():
            found.setdefault(user, set()).add(item)
    return found


class Oracle(Recommender):
    """Knows every user's items: 1 for each, 2 for the revealed ones (must be masked)."""

    name = "oracle"

    def __init__(self, everything: dict[int, set[int]], refuse_empty: bool = False) -> None:
        self.everything = everything
        self.refuse_empty = refuse_empty
        self.seen: list[tuple[int, list[int]]] = []

    def fit(self, data: InteractionData) -> Self:
        self.spec_ = data.spec
        self.fitted_on_ = data
        return self

    def score(self, users: Tensor) -> Tensor:
        return torch.zeros(len(users), self.num_items_)

    def score_new_users(self, user_x: Tensor, histories: Sequence[Tensor]) -> Tensor:
        if self.refuse_empty and not any(h.numel() for h in histories):
            raise NotImplementedError("needs at least one interaction")
        scores = torch.zeros(len(histories), self.num_items_)
        for row, (x, history) in enumerate(zip(user_x, histories, strict=True)):
            user = int(x.argmax())
            self.seen.append((user, history.tolist()))
            scores[row, list(self.everything[user])] = 1.0
            scores[row, history] = 2.0
        return scores

    def get_params(self) -> dict[str, Any]:
        return {}

    def state(self) -> dict[str, Tensor]:
        return {}

    def set_state(self, state: dict[str, Tensor]) -> None:
        return None


class NoColdStart(Oracle):
    """Keeps the base class's refusing ``score_new_users``."""

    score_new_users = Recommender.score_new_users

    def fit(self, data: InteractionData) -> Self:
        raise AssertionError("a model that cannot cold-start should not be fitted")


def test_held_out_users_leave_training_and_see_their_first_items() -> None:
    data = user_data()
    model = Oracle(items_of(data))
    report = evaluate_cold_users(lambda: model, data, fraction=0.5, reveal=(0, 1, 2), ks=(1,))
    held = sorted({user for user, _ in model.seen})
    assert report["eligible_users"] == 4 and report["held_out_users"] == 2 == len(held)
    assert set(held) <= {0, 1, 3, 5}
    reduced = model.fitted_on_
    assert reduced.num_users == 7 and reduced.num_items == 8
    kept_ids = set(reduced.user_x.argmax(dim=1).tolist())
    assert kept_ids == set(range(9)) - set(held)
    lost = sum(1 for u, _ in USER_TRAIN + USER_VALID + USER_TEST if u in held)
    total = len(USER_TRAIN) + len(USER_VALID) + len(USER_TEST)
    assert reduced.train.shape[1] + reduced.valid.shape[1] + reduced.test.shape[1] == total - lost
    stored = {u: [i for v, i in USER_TRAIN if v == u] for u in held}
    assert sorted(model.seen) == sorted((u, stored[u][:n]) for u in held for n in (0, 1, 2))
    for n in ("0", "1", "2"):
        # revealed items score 2 but are masked, so the top item is always a true one
        assert report["by_reveal"][n]["model"]["precision@1"] == 1.0
    assert report["status"] == "ok" and report["unsupported"] == {}


def test_remaining_items_are_the_truth() -> None:
    data = user_data()
    report = evaluate_cold_users(
        lambda: Oracle(items_of(data)), data, fraction=0.99, reveal=(0, 2), ks=(5,)
    )
    # users 0 and 3 have 5 items, users 1 and 5 have 3: the oracle finds every remaining one
    for n in ("0", "2"):
        assert report["by_reveal"][n]["model"]["recall@5"] == 1.0
        assert report["by_reveal"][n]["model"]["ndcg@5"] == pytest.approx(1.0)
    # n=0: precision@5 = (5 + 3 + 5 + 3) / (4 * 5); n=2: (3 + 1 + 3 + 1) / 20
    assert report["by_reveal"]["0"]["model"]["precision@5"] == pytest.approx(16 / 20)
    assert report["by_reveal"]["2"]["model"]["precision@5"] == pytest.approx(8 / 20)


def test_popularity_reference_by_hand() -> None:
    """fraction 0.99 of 4 eligible holds out all of 0, 1, 3, 5; popularity: item 1, then 7."""
    data = user_data()
    report = evaluate_cold_users(
        lambda: Oracle(items_of(data)), data, fraction=0.99, reveal=(0, 1, 2), ks=(1,)
    )
    pop = {n: report["by_reveal"][n]["most_popular"] for n in ("0", "1", "2")}
    # n=0: everyone gets item 1; hits for user 0 (1 of 5 items) and user 5 (1 of 3)
    assert pop["0"]["precision@1"] == pytest.approx(2 / 4)
    assert pop["0"]["recall@1"] == pytest.approx((1 / 5 + 1 / 3) / 4)
    # n=1: revealed 5, 0, 3, 0; item 1 still first: user 0 (1 of 4 left), user 5 (1 of 2 left)
    assert pop["1"]["recall@1"] == pytest.approx((1 / 4 + 1 / 2) / 4)
    # n=2: users 0 and 5 revealed item 1, so they get item 7: only user 0 has it (1 of 3 left)
    assert pop["2"]["precision@1"] == pytest.approx(1 / 4)
    assert pop["2"]["recall@1"] == pytest.approx((1 / 3) / 4)


def test_random_reference_is_seeded_and_respects_the_mask() -> None:
    data = user_data()

    def run(seed: int) -> dict[str, Any]:
        model = Oracle(items_of(data))
        return evaluate_cold_users(
            lambda: model, data, fraction=0.99, reveal=(0, 2), ks=(1, 8), seed=seed
        )

    first, again, other = run(42), run(42), run(7)
    assert first["by_reveal"] == again["by_reveal"]
    assert first["by_reveal"]["2"]["random"] != other["by_reveal"]["2"]["random"]
    for n in ("0", "2"):
        chance = first["by_reveal"][n]["random"]
        # 8 items: every unmasked item is in the top 8, so chance finds all the truth...
        assert chance["recall@8"] == 1.0
        # ...but never a revealed one: with 2 revealed, 6 candidates hold 3 or 1 true items
        assert chance["precision@8"] == pytest.approx({"0": 16, "2": 8}[n] / (4 * 8))


def test_models_without_cold_start_are_reported_not_crashed() -> None:
    data = user_data()
    report = evaluate_cold_users(
        lambda: NoColdStart(items_of(data)), data, fraction=0.99, reveal=(0, 2), ks=(1,)
    )
    assert report["status"] == "unsupported" and set(report["unsupported"]) == {"0", "2"}
    assert report["by_reveal"]["0"]["model"] is None
    assert report["by_reveal"]["2"]["most_popular"]["precision@1"] == pytest.approx(1 / 4)

    partial = evaluate_cold_users(
        lambda: Oracle(items_of(data), refuse_empty=True), data, fraction=0.5, reveal=(0, 1)
    )
    assert partial["status"] == "partial"
    assert partial["unsupported"] == {"0": "needs at least one interaction"}
    assert partial["by_reveal"]["1"]["model"] is not None


def test_cold_users_refuse_impossible_settings() -> None:
    data = user_data()
    with pytest.raises(ConfigError):
        evaluate_cold_users(lambda: Oracle({}), data, fraction=1.0)
    with pytest.raises(ConfigError):
        evaluate_cold_users(lambda: Oracle({}), data, reveal=(-1,))
    with pytest.raises(EmptyDataError):
        evaluate_cold_users(lambda: Oracle({}), data, reveal=(5,))  # nobody has 5 train pairs


# --- cold items -------------------------------------------------------------------------

ITEM_TRAIN = [(0, 0), (0, 1), (0, 4), (1, 1), (1, 2), (1, 5), (2, 0), (2, 3), (3, 4)]
ITEM_TEST = [(0, 2), (1, 3), (2, 5), (3, 1)]


def item_data() -> InteractionData:
    """4 users x 6 items, one-hot item features."""
    return InteractionData(
        num_users=4,
        num_items=6,
        train=pairs(ITEM_TRAIN),
        valid=pairs([]),
        test=pairs(ITEM_TEST),
        train_rating=torch.empty(0),
        valid_rating=torch.empty(0),
        test_rating=torch.empty(0),
        user_x=torch.zeros(4, 0),
        item_x=torch.eye(6),
    )


class ItemOracle(Recommender):
    """Warm items: 5 for the user's known items (must be masked). New items: 1 if theirs."""

    name = "item_oracle"

    def __init__(self, everything: dict[int, set[int]]) -> None:
        self.everything = everything
        self.new_items: list[int] = []

    def fit(self, data: InteractionData) -> Self:
        self.spec_ = data.spec
        self.fitted_on_ = data
        self.known_ = torch.from_numpy(data.matrix("train", "valid", "test").toarray())
        return self

    def score(self, users: Tensor) -> Tensor:
        return 5.0 * self.known_[users]

    def embed_new_items(self, item_x: Tensor) -> Tensor:
        """A new item's state is its original index (the feature columns are one-hot)."""
        self.new_items = item_x.argmax(dim=1).tolist()
        return item_x.argmax(dim=1, keepdim=True).float()

    def user_states(self, users: Tensor) -> Tensor:
        return users.float()[:, None]

    def score_new_items(self, user_states: Tensor, item_states: Tensor) -> Tensor:
        users, items = user_states[:, 0].long().tolist(), item_states[:, 0].long().tolist()
        liked = [self.everything.get(u, set()) for u in users]
        return torch.tensor([[float(i in mine) for i in items] for mine in liked])

    def get_params(self) -> dict[str, Any]:
        return {}

    def state(self) -> dict[str, Tensor]:
        return {}

    def set_state(self, state: dict[str, Tensor]) -> None:
        return None


class WarmOnly(ItemOracle):
    """Keeps the base ``embed_new_items``, which refuses."""

    embed_new_items = Recommender.embed_new_items


def test_cold_items_are_ranked_among_all_items() -> None:
    data = item_data()
    everything = items_of(data)
    model = ItemOracle(everything)
    report = evaluate_cold_items(lambda: model, data, fraction=0.34, seed=3, ks=(1, 3))
    held = set(model.new_items)
    assert report["held_out_items"] == len(held) == 2  # round(0.34 * 6)
    reduced = model.fitted_on_
    assert reduced.num_items == 4 and reduced.num_users == 4
    assert set(reduced.item_x.argmax(dim=1).tolist()) == set(range(6)) - held
    kept_pairs = [p for p in ITEM_TRAIN + ITEM_TEST if p[1] not in held]
    assert reduced.train.shape[1] + reduced.test.shape[1] == len(kept_pairs)
    touched = {u for u, items in everything.items() if items & held}
    warm = {u for u, i in ITEM_TRAIN if i not in held}
    assert report["users"] == len(touched & warm)
    assert report["skipped_users"] == len(touched - warm)
    # warm items score 5 but are the user's own and masked: the top items are the new ones
    assert report["results"]["model"]["precision@1"] == 1.0
    assert report["results"]["model"]["recall@3"] == 1.0
    random = report["results"]["random"]
    assert 0.0 <= random["recall@3"] <= 1.0
    again = evaluate_cold_items(lambda: ItemOracle(everything), data, fraction=0.34, seed=3)
    assert (
        again["results"]["random"]
        == evaluate_cold_items(lambda: ItemOracle(everything), data, fraction=0.34, seed=3)[
            "results"
        ]["random"]
    )


def test_cold_items_without_support_keep_the_random_reference() -> None:
    data = item_data()
    report = evaluate_cold_items(lambda: WarmOnly(items_of(data)), data, fraction=0.2, ks=(2,))
    assert report["status"] == "unsupported" and "embed_new_items" in report["reason"]
    assert report["results"]["model"] is None
    assert set(report["results"]["random"]) == {
        "precision@2", "recall@2", "ndcg@2", "hit_rate@2", "mrr@2", "coverage@2"
    }  # fmt: skip


def test_subset_renumbers_and_keeps_ratings() -> None:
    data = user_data()
    data.train_rating = torch.arange(len(USER_TRAIN), dtype=torch.float32)
    keep_users = np.ones(9, dtype=bool)
    keep_users[0] = False
    keep_items = np.ones(8, dtype=bool)
    keep_items[1] = False
    small = subset_data(data, keep_users, keep_items)
    # user 0 and item 1 leave; user 1 becomes 0, item 2 becomes 1
    kept = [(k, (u, i)) for k, (u, i) in enumerate(USER_TRAIN) if u != 0 and i != 1]
    assert small.train.T.tolist() == [[u - 1, i - (i > 1)] for _, (u, i) in kept]
    assert small.train_rating.tolist() == [float(k) for k, _ in kept]
    assert small.user_x.shape == (8, 9) and small.item_x.shape == (7, 8)


def test_graphsage_reports_a_cold_item_figure_above_chance() -> None:
    """Items whose features say their half: GraphSAGE must rank its held-out items through
    the new-item path, well above the random reference of the same run."""
    data = with_item_features(checkerboard())
    report = evaluate_cold_items(
        lambda: MODELS["graphsage"](new_item_rate=0.3), data, fraction=0.25, ks=(2, 4)
    )
    assert report["status"] == "ok" and report["reason"] == ""
    assert report["held_out_items"] == 4 and report["fit_seconds"] > 0
    model, random = report["results"]["model"], report["results"]["random"]
    assert model is not None and random is not None
    assert model["ndcg@4"] > random["ndcg@4"] + 0.2
    assert model["recall@4"] > random["recall@4"]
