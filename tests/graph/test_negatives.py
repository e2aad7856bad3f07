"""Negative sampling: never a known positive, exact ratio, measurable popularity bias."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from storex.errors import ConfigError, DataError, EmptyDataError
from storex.graph import KnownPositives, sample_bpr_triplets, sample_negatives


@st.composite
def positive_sets(draw):
    num_items = draw(st.integers(2, 30))
    num_users = draw(st.integers(1, 8))
    pairs = draw(
        st.sets(
            st.tuples(st.integers(0, num_users - 1), st.integers(0, num_items - 1)),
            min_size=1,
            max_size=60,
        )
    )
    # every user must leave at least one item untouched, or no negative exists
    per_user: dict[int, set[int]] = {}
    for u, i in pairs:
        per_user.setdefault(u, set()).add(i)
    pairs = {(u, i) for u, i in pairs if len(per_user[u]) < num_items or i != 0}
    users, items = zip(*sorted(pairs), strict=True)
    return np.array(users), np.array(items), num_items


@settings(max_examples=60, deadline=None)
@given(data=positive_sets(), ratio=st.integers(1, 5), seed=st.integers(0, 2**16),
       strategy=st.sampled_from(["uniform", "popularity"]))  # fmt: skip
def test_no_positive_is_ever_returned_as_a_negative(data, ratio, seed, strategy):
    users, items, num_items = data
    # with popularity, give every item weight so that a negative always exists
    weight = np.ones(num_items) if strategy == "popularity" else None
    out_u, out_i, labels = sample_negatives(
        users, items, num_items, ratio=ratio, strategy=strategy, item_weight=weight, seed=seed
    )
    p = users.size
    assert out_u.shape == out_i.shape == labels.shape == (p * (1 + ratio),)
    assert labels[:p].eq(1).all() and labels[p:].eq(0).all()
    assert torch.equal(out_u[:p], torch.from_numpy(users))
    assert torch.equal(out_i[:p], torch.from_numpy(items))
    assert torch.equal(out_u[p:], torch.from_numpy(np.repeat(users, ratio)))
    known = set(zip(users.tolist(), items.tolist(), strict=True))
    negatives = zip(out_u[p:].tolist(), out_i[p:].tolist(), strict=True)
    assert not any(pair in known for pair in negatives)
    assert int(out_i.min()) >= 0 and int(out_i.max()) < num_items


def test_known_positives_from_other_splits_are_avoided_too():
    users, items = np.zeros(1, dtype=int), np.zeros(1, dtype=int)
    held_out = KnownPositives([0, 0, 0], [0, 1, 2], 5)  # train item 0, valid 1, test 2
    _, neg_items, _ = sample_negatives(users, items, 5, ratio=200, known_positive=held_out, seed=0)
    assert set(neg_items[1:].tolist()) == {3, 4}


def test_known_positive_accepts_sets_and_sparse_matrices():
    users, items = np.array([0, 1]), np.array([0, 1])
    as_set = {(0, 0), (0, 1), (1, 1), (1, 2)}
    matrix = sp.csr_matrix(([1, 1, 1, 1], ([0, 0, 1, 1], [0, 1, 1, 2])), shape=(2, 4))
    for known in (as_set, matrix):
        out_u, out_i, _ = sample_negatives(users, items, 4, ratio=50, known_positive=known, seed=1)
        negatives = set(zip(out_u[2:].tolist(), out_i[2:].tolist(), strict=True))
        assert not negatives & as_set
    with pytest.raises(ConfigError, match="known_positive"):
        sample_negatives(users, items, 4, known_positive=[(0, 0)])


def test_a_user_with_one_free_item_always_gets_it():
    # 99 of 100 items are positives: rejection would take long, the exact fallback finishes
    items = np.arange(99)
    users = np.zeros(99, dtype=int)
    known = KnownPositives(users, items, 100)
    _, neg_items, _ = sample_negatives(users[:3], items[:3], 100, ratio=4, known_positive=known)
    assert neg_items[3:].tolist() == [99] * 12


def test_a_user_with_every_item_raises_a_clear_error():
    with pytest.raises(EmptyDataError, match="no negative exists"):
        sample_negatives([0, 0, 1], [0, 1, 0], 2, seed=0)


def test_popularity_follows_degree_to_the_alpha():
    num_items = 6
    degree = np.array([1, 2, 4, 8, 16, 0])
    pos_items = np.repeat(np.arange(num_items), degree)
    pos_users = np.arange(pos_items.size) + 1  # one user per positive; user 0 probes below
    weight = np.where(degree > 0, degree**0.75, 0.0)
    expected = weight / weight.sum()

    probe_u, probe_i = np.zeros(1, dtype=int), np.array([5])
    known = KnownPositives(np.r_[pos_users, probe_u], np.r_[pos_items, probe_i], num_items)
    _, drawn, _ = sample_negatives(
        probe_u,
        probe_i,
        num_items,
        ratio=40_000,
        strategy="popularity",
        item_weight=degree,
        known_positive=known,
        seed=3,
    )
    freq = np.bincount(drawn[1:].numpy(), minlength=num_items) / 40_000
    assert np.abs(freq - expected).max() < 0.01
    assert freq[5] == 0  # no weight: never drawn

    _, flat, _ = sample_negatives(
        probe_u, probe_i, num_items, ratio=40_000, known_positive=known, seed=3
    )
    flat_freq = np.bincount(flat[1:].numpy(), minlength=num_items) / 40_000
    assert np.abs(flat_freq[:5] - 0.2).max() < 0.01
    assert freq[4] > 2 * flat_freq[4]  # the most popular item is clearly favoured


def test_default_popularity_weight_is_the_degree_among_positives():
    pos_users = np.arange(10)
    pos_items = np.array([0] * 9 + [1])
    _, items, _ = sample_negatives(pos_users, pos_items, 3, ratio=2, strategy="popularity", seed=0)
    negatives = items[10:].tolist()
    assert 2 not in negatives  # item 2 has no degree
    assert negatives[:18] == [1] * 18  # users 0..8 hold item 0, so item 1 is all that is left


def test_same_seed_same_draws():
    users, items = np.array([0, 1, 2]), np.array([0, 1, 2])
    first = sample_negatives(users, items, 50, seed=11)
    second = sample_negatives(users, items, 50, seed=np.random.default_rng(11))
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"ratio": 0}, ConfigError),
        ({"ratio": 1.5}, ConfigError),
        ({"strategy": "hardest"}, ConfigError),
        ({"strategy": "popularity", "item_weight": [1.0, 2.0]}, DataError),
    ],
)
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        sample_negatives([0], [0], 3, **kwargs)
    with pytest.raises(DataError, match="item index"):
        sample_negatives([0], [3], 3)


def test_bpr_triplets_cover_every_positive_once_per_epoch():
    users = np.array([0, 0, 1, 2, 2, 2])
    items = np.array([0, 1, 1, 0, 2, 3])
    u, i_pos, i_neg = sample_bpr_triplets(users, items, 6, seed=4)
    assert u.shape == i_pos.shape == i_neg.shape == (6,)
    got = sorted(zip(u.tolist(), i_pos.tolist(), strict=True))
    assert got == sorted(zip(users.tolist(), items.tolist(), strict=True))
    known = set(got)
    assert not any((a, b) in known for a, b in zip(u.tolist(), i_neg.tolist(), strict=True))


def test_bpr_triplets_with_a_sample_count():
    users, items = np.array([0, 1]), np.array([0, 1])
    u, i_pos, i_neg = sample_bpr_triplets(users, items, 3, num_samples=100, seed=5)
    assert u.shape == (100,)
    assert torch.equal(i_pos, u)  # user k's only positive is item k
    assert not torch.equal(i_neg, u) and (i_neg != u).all()


def test_an_empty_known_set_rules_out_nothing():
    known = KnownPositives([], [], 4)
    assert len(known) == 0
    assert not known.contains(np.array([0, 1]), np.array([2, 3])).any()
    _, items, _ = sample_negatives([0], [1], 4, ratio=3, known_positive=known, seed=0)
    assert items.shape == (4,)
