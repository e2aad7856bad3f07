"""The synthetic store: canonical tables, determinism, realism, and signal a model can learn."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from storex.data.schema import (
    INTERACTION_COLUMNS,
    conform_interactions,
    conform_items,
    conform_users,
)
from storex.data.synthetic import (
    SyntheticConfig,
    generate_store,
    iter_interaction_chunks,
    population,
    write_store,
)
from storex.data.synthetic.sampling import StackedCdf
from storex.errors import ConfigError

SMALL = SyntheticConfig(n_users=300, n_items=200, n_interactions=9_000, seed=3)
DAY = 86_400.0


@pytest.fixture(scope="module")
def store():
    return generate_store()


@pytest.fixture(scope="module")
def flat_store():
    """Same shop and shoppers, but nobody follows a taste: only popularity."""
    return generate_store(SyntheticConfig(taste_strength=0.0))


def _top(store) -> pd.Series:
    """Top category of each interaction."""
    top = store.items.set_index("item_id")["categories"].str[0]
    return store.interactions["item_id"].map(top)


# --- tables -------------------------------------------------------------------------------


def test_tables_are_canonical(store):
    inter, items, users = store.interactions, store.items, store.users
    assert store.name == "synthetic"
    assert store.source == "synthetic:seed=42"
    assert tuple(inter.columns) == INTERACTION_COLUMNS
    pd.testing.assert_frame_equal(inter, conform_interactions(inter))
    pd.testing.assert_frame_equal(items, conform_items(items))
    pd.testing.assert_frame_equal(users, conform_users(users))
    assert items["in_stock"].dtype == bool
    assert 0.8 < items["in_stock"].mean() < 1.0
    assert items["item_id"].is_unique and users["user_id"].is_unique
    assert items["categories"].map(len).eq(2).all()
    assert items["title"].notna().all() and items["brand"].notna().all()
    assert (items["price"] > 0).all() and items["year"].between(2010, 2024).all()
    assert users["gender"].isin(["F", "M"]).all() and users["age"].between(16, 80).all()
    assert users["zip"].str.fullmatch(r"\d{5}").all()
    assert inter["split"].isna().all()
    assert store.has_sessions and store.is_explicit and not store.is_presplit


def test_sizes_are_roughly_as_asked(store):
    config = SyntheticConfig()
    assert len(store.users) == config.n_users
    assert len(store.items) == config.n_items
    assert abs(len(store.interactions) - config.n_interactions) < 0.1 * config.n_interactions
    assert set(store.interactions["user_id"]) == set(store.users["user_id"])
    assert set(store.interactions["item_id"]) <= set(store.items["item_id"])
    assert store.interactions["item_id"].nunique() > 0.9 * config.n_items
    assert len(store.items["categories"].str[1].unique()) == config.n_leaves
    assert store.items["brand"].nunique() <= config.n_brands


def test_same_config_same_store_other_seed_other_store():
    first, again = generate_store(SMALL), generate_store(SMALL)
    for name in ("interactions", "items", "users"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(again, name))
    other = generate_store(dataclasses.replace(SMALL, seed=4))
    assert not other.items["title"].equals(first.items["title"])
    assert (
        not other.interactions["item_id"].head(200).equals(first.interactions["item_id"].head(200))
    )


def test_event_mix_and_ratings(store):
    inter = store.interactions
    counts = inter["event"].value_counts()
    assert set(counts.index) == {"view", "cart", "purchase", "rating"}
    assert counts["view"] > counts["cart"] > counts["purchase"] > counts["rating"] > 0
    rated = inter["event"] == "rating"
    assert inter.loc[~rated, "rating"].isna().all()
    ratings = inter.loc[rated, "rating"]
    assert ratings.notna().all() and ratings.isin([1.0, 2.0, 3.0, 4.0, 5.0]).all()
    assert ratings.nunique() == 5
    assert 3.0 < ratings.mean() < 4.2  # skewed positive, like real review data


def test_prices_follow_the_category(store):
    items = store.items
    median = items.groupby(items["categories"].str[1])["price"].median()
    assert median.max() / median.min() > 20  # laptops versus seeds
    assert median["Laptops"] > median["Headphones"] > median["Snacks"]
    spread = items.groupby(items["categories"].str[1])["price"].agg(lambda p: np.log(p).std())
    assert spread.median() > 0.2  # each category has cheap and premium products


def test_titles_say_what_the_product_is(store):
    """Nearest-centroid on title TF-IDF recovers the subcategory of unseen products."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    items = store.items.sample(frac=1.0, random_state=0)
    leaf = items["categories"].str[1].to_numpy()
    half = len(items) // 2
    tfidf = TfidfVectorizer().fit(items["title"].iloc[:half])
    x_train = tfidf.transform(items["title"].iloc[:half]).toarray()
    x_test = tfidf.transform(items["title"].iloc[half:]).toarray()
    labels = np.unique(leaf[:half])
    centroids = np.stack([x_train[leaf[:half] == lb].mean(axis=0) for lb in labels])
    predicted = labels[np.argmax(x_test @ centroids.T, axis=1)]
    assert np.mean(predicted == leaf[half:]) > 0.8


# --- time and sessions --------------------------------------------------------------------


def test_timestamps_in_range_with_a_daily_rhythm(store):
    config = SyntheticConfig()
    ts = store.interactions["timestamp"]
    assert ts.notna().all()
    assert ts.min() >= config.start_seconds
    assert ts.max() < config.start_seconds + config.days * DAY
    hour = ((ts - config.start_seconds) % DAY // 3_600).astype(int)
    by_hour = np.bincount(hour, minlength=24)
    assert by_hour[19:22].sum() > 3 * by_hour[2:5].sum()


def test_rows_and_sessions_are_ordered(store):
    inter = store.interactions
    keys = inter[["user_id", "timestamp"]]
    assert keys.equals(keys.sort_values(["user_id", "timestamp"], kind="stable"))
    browsing = inter[inter["session_id"].notna()]
    owners = browsing.groupby("session_id")["user_id"].nunique()
    assert (owners == 1).all()
    assert (browsing["session_id"].str.split("-S").str[0] == browsing["user_id"]).all()
    # A session's rows are contiguous, and a user's sessions never overlap in time.
    change = browsing["session_id"].ne(browsing["session_id"].shift()).fillna(True)
    assert change.sum() == browsing["session_id"].nunique()
    span = browsing.groupby("session_id", sort=False).agg(
        user=("user_id", "first"), start=("timestamp", "min"), end=("timestamp", "max")
    )
    assert (span["end"] - span["start"]).max() < 12 * 3_600
    same_user = span["user"].eq(span["user"].shift())
    assert (span["start"][same_user] > span["end"].shift()[same_user]).all()


def test_funnel_order(store):
    """A cart follows a view, a purchase a cart, a rating a purchase, of the same product."""
    inter = store.interactions
    first = inter.groupby(["user_id", "item_id", "event"])["timestamp"].min().unstack()
    carted = first["cart"].notna()
    assert (first.loc[carted, "view"] <= first.loc[carted, "cart"]).all()
    bought = first["purchase"].notna()
    assert (first.loc[bought, "cart"] <= first.loc[bought, "purchase"]).all()
    rated = first["rating"].notna()
    assert (first.loc[rated, "purchase"] + DAY <= first.loc[rated, "rating"]).all()
    assert inter.loc[inter["event"] == "rating", "session_id"].isna().all()


def test_sessions_stay_on_topic(store):
    views = store.interactions[store.interactions["event"] == "view"].assign(top=_top(store))
    same_session = views["session_id"].eq(views["session_id"].shift()).fillna(False)
    on_topic = views["top"].eq(views["top"].shift())[same_session].mean()
    shuffled = views.groupby("user_id")["top"].transform(
        lambda s: s.sample(frac=1.0, random_state=0).to_numpy()
    )
    by_chance = shuffled.eq(shuffled.shift())[same_session].mean()
    assert on_topic > 0.75
    assert on_topic > by_chance + 0.2


def test_next_view_is_learnable(store):
    """Successor counts from some users predict other users' next views far above popularity."""
    views = store.interactions[store.interactions["event"] == "view"]
    pairs = pd.DataFrame(
        {"user": views["user_id"], "prev": views["item_id"].shift(), "next": views["item_id"]}
    )
    pairs = pairs[views["session_id"].eq(views["session_id"].shift()).fillna(False)]
    pairs = pairs[pairs["prev"] != pairs["next"]]
    train_users = pd.Series(store.users["user_id"]).sample(frac=0.8, random_state=0)
    train = pairs[pairs["user"].isin(train_users)]
    test = pairs[~pairs["user"].isin(train_users)]
    popular = train["next"].value_counts().index[:10]
    successors = (
        train.groupby(["prev", "next"])
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["prev", "n"], ascending=[True, False])
        .groupby("prev")
        .head(10)
    )
    test = test[test["prev"].isin(successors["prev"])]
    pop_hits = test["next"].isin(popular).mean()
    seq_hits = len(test.merge(successors, on=["prev", "next"])) / len(test)
    assert seq_hits > 3 * pop_hits
    assert seq_hits > 0.3


# --- learnable signal ---------------------------------------------------------------------


def _recall_at_10(store, seed: int = 0) -> tuple[float, float]:
    """Recall@10 of popularity and of item-kNN on one held-out session per user.

    Whole sessions are held out, not random rows: a random row shares its session with
    training rows, so session coherence alone would let kNN win even in a store without
    tastes. A held-out session tests what ``taste_strength`` controls: whether a shopper's
    other sessions say what they will look at next time.
    """
    inter = store.interactions
    inter = inter[inter["session_id"].notna()]
    users, u = np.unique(inter["user_id"].to_numpy(str), return_inverse=True)
    items, i = np.unique(inter["item_id"].to_numpy(str), return_inverse=True)
    sessions, s = np.unique(inter["session_id"].to_numpy(str), return_inverse=True)
    owner = np.zeros(len(sessions), dtype=np.int64)
    owner[s] = u
    order = np.lexsort((np.random.default_rng(seed).random(len(sessions)), owner))
    first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
    repeat_users = np.bincount(owner, minlength=len(users)) >= 2
    held = np.zeros(len(sessions), dtype=bool)
    held[first[repeat_users[owner[first]]]] = True
    test = held[s]
    train = np.zeros((len(users), len(items)))
    train[u[~test], i[~test]] = 1.0
    truth = np.zeros_like(train, dtype=bool)
    truth[u[test], i[test]] = True
    truth &= train == 0
    rows = np.flatnonzero(truth.any(axis=1))
    norm = np.sqrt(train.sum(axis=0)) + 1e-9
    similarity = train.T @ train / norm[:, None] / norm[None, :]
    np.fill_diagonal(similarity, 0.0)

    def recall(scores: np.ndarray) -> float:
        scores = np.where(train[rows] > 0, -np.inf, scores[rows])
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        hits = np.take_along_axis(truth[rows], top, axis=1).sum(axis=1)
        return float(np.mean(hits / np.minimum(truth[rows].sum(axis=1), 10)))

    popularity = np.broadcast_to(train.sum(axis=0), train.shape)
    return recall(popularity), recall(train @ similarity)


def test_collaborative_model_beats_popularity(store):
    popularity, knn = _recall_at_10(store)
    assert knn > 1.3 * popularity
    assert knn - popularity > 0.05


def test_without_tastes_there_is_nothing_to_beat_popularity_with(store, flat_store):
    popularity, knn = _recall_at_10(flat_store)
    assert knn - popularity < 0.02
    default_pop, default_knn = _recall_at_10(store)
    assert knn - popularity < 0.25 * (default_knn - default_pop)


def _gender_gap(store) -> float:
    """Total variation between women's and men's mean top-category shares."""
    inter = store.interactions.assign(top=_top(store))
    inter = inter.merge(store.users[["user_id", "gender"]], on="user_id")
    shares = pd.crosstab([inter["gender"], inter["user_id"]], inter["top"], normalize="index")
    by_gender = shares.groupby(level=0).mean().to_numpy()
    return 0.5 * float(np.abs(by_gender[0] - by_gender[1]).sum())


def test_demographics_carry_taste_signal(store):
    blind = generate_store(SyntheticConfig(demographic_strength=0.0))
    assert _gender_gap(store) > 0.1
    assert _gender_gap(store) > 2 * _gender_gap(blind)


def test_popularity_drifts_with_the_drift_knob():
    def stability(drift: float) -> float:
        config = dataclasses.replace(SMALL, n_interactions=20_000, drift=drift)
        inter = generate_store(config).interactions
        third = config.start_seconds + config.days * DAY / 3
        early = inter.loc[inter["timestamp"] < third, "item_id"].value_counts()
        late = inter.loc[inter["timestamp"] >= third + config.days * DAY / 3, "item_id"]
        both = pd.concat([early, late.value_counts()], axis=1).fillna(0)
        return float(both.corr(method="spearman").iloc[0, 1])

    assert stability(0.0) > stability(1.0) + 0.2


# --- streaming and files ------------------------------------------------------------------


def test_chunks_concatenate_to_the_one_shot_store(monkeypatch):
    monkeypatch.setattr(population, "TARGET_EVENTS_PER_BLOCK", 2_000)
    config = dataclasses.replace(SMALL, n_users=800)
    assert population.n_blocks(config) > 1
    whole = generate_store(config).interactions
    chunks = list(iter_interaction_chunks(config, chunk_rows=3_000))
    assert [len(c) for c in chunks[:-1]] == [3_000] * (len(chunks) - 1)
    assert 0 < len(chunks[-1]) <= 3_000
    for chunk in chunks:
        pd.testing.assert_frame_equal(chunk, conform_interactions(chunk))
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)


def test_bad_chunk_size_is_refused():
    with pytest.raises(ConfigError, match="chunk_rows"):
        next(iter_interaction_chunks(SMALL, chunk_rows=0))


def test_write_store_round_trips(tmp_path):
    counts = write_store(SMALL, tmp_path / "shop")
    expected = generate_store(SMALL)
    assert counts == {
        "users": len(expected.users),
        "items": len(expected.items),
        "interactions": len(expected.interactions),
    }
    assert sorted(p.name for p in (tmp_path / "shop").iterdir()) == [
        "interactions.parquet",
        "items.parquet",
        "users.parquet",
    ]
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "shop" / "interactions.parquet"), expected.interactions
    )
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "shop" / "users.parquet"), expected.users
    )
    items = conform_items(pd.read_parquet(tmp_path / "shop" / "items.parquet"))
    pd.testing.assert_frame_equal(items, expected.items)


# --- config and sampling ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_users", 0),
        ("n_items", 5),
        ("n_interactions", 10),
        ("n_top_categories", 11),
        ("n_subcategories", 0),
        ("n_brands", 2),
        ("n_brands", 5_000),
        ("latent_dim", 0),
        ("taste_strength", -1.0),
        ("popularity_exponent", float("nan")),
        ("drift", 1.5),
        ("days", 0),
        ("start_date", "01/02/2024"),
        ("views_per_session", 0.5),
        ("cart_prob", 2.0),
        ("rating_noise", -0.1),
        ("seed", 1.5),
        ("n_users", True),
    ],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ConfigError, match=f"SyntheticConfig.{field}"):
        SyntheticConfig(**{field: value})


def test_stacked_search_matches_numpy():
    rng = np.random.default_rng(0)
    weights = rng.random((5, 700))
    weights[:, rng.integers(0, 700, 200)] = 0.0  # zero-probability columns are never drawn
    table = StackedCdf.from_weights(weights)
    targets = np.concatenate([rng.random(20_000) * 5, table.flat[::37], [0.0, 5.0]])
    np.testing.assert_array_equal(
        table._search(targets), np.searchsorted(table.flat, targets, side="right")
    )
    drawn = table.draw(np.full(5_000, 2), 100, 300, rng.random(5_000))
    assert drawn.min() >= 100 and drawn.max() < 300
    assert (weights[2, drawn] > 0).all()
