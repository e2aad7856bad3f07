"""Baselines: each one's rule on the planted store and on hand-made sessions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from storex.errors import ConfigError, NotFittedError
from storex.sessions import BASELINES, evaluate_next_item, make_baseline
from storex.sessions.samples import PAD
from tests.sessions.test_samples import table

TRAIN = table([0, 1, 2], [0, 1, 3], [4, 1, 2], [5, 5, 1])  # 1 is the most popular item


def rows(*sessions: list[int], width: int = 4) -> torch.Tensor:
    return torch.tensor([[PAD] * (width - len(s)) + s for s in sessions])


def ranking(name: str, *sessions: list[int]) -> list[list[int]]:
    model = make_baseline(name).fit(TRAIN, num_items=7)
    items = rows(*sessions)
    return torch.argsort(
        model.scores(items, torch.zeros_like(items)), dim=1, descending=True
    ).tolist()


def test_most_popular_is_the_same_for_everyone() -> None:
    first, second = ranking("most_popular", [0], [6, 3])
    assert first == second and first[:3] == [1, 0, 2]  # counts 5, 2, 2 (ties by index)


def test_session_popularity_prefers_the_session_items() -> None:
    (order,) = ranking("session_popularity", [3, 6, 3])
    assert order[:3] == [3, 6, 1]  # twice in the session, once, then the popular one


def test_transitions_follow_the_last_item() -> None:
    (order,) = ranking("transitions", [4, 0])
    assert order[0] == 1  # 0 was followed by 1 twice
    (after_one,) = ranking("transitions", [1])
    assert after_one[:2] == [2, 3]  # 1 -> 2 twice, 1 -> 3 once


def test_sknn_votes_with_similar_sessions() -> None:
    (order,) = ranking("sknn", [0, 1])
    assert order[:4] == [1, 0, 2, 3]  # both [0,1,*] sessions share two items; 2 also in [4,1,2]
    model = make_baseline("sknn", neighbours=1).fit(TRAIN, num_items=7)
    scores = model.scores(rows([4, 2]), torch.zeros(1, 4, dtype=torch.long))
    cosine = 2 / math.sqrt(2 * 3)  # {4, 2} against its one neighbour {4, 1, 2}
    assert scores[0, [4, 1, 2]].tolist() == pytest.approx([cosine] * 3, abs=1e-3)
    assert (scores[0, [0, 3, 5, 6]] < 1e-3).all()  # popularity alone: the tie-breaker


def _brute_force_sknn(train: list[list[int]], query: list[int], k: int, num_items: int):
    """Every training session's cosine, the k best (ties to the later session) voting."""
    found = set(query)
    similar = [len(found & set(s)) / math.sqrt(len(found) * len(set(s))) for s in train]
    best = sorted(range(len(train)), key=lambda n: (-similar[n], -n))[:k]
    votes = np.zeros(num_items)
    for n in best:
        votes[list(set(train[n]))] += similar[n]
    return votes


def test_sknn_matches_a_brute_force_vote_of_every_training_session() -> None:
    rng = np.random.default_rng(3)
    train = [list(rng.integers(0, 12, rng.integers(1, 6))) for _ in range(40)]
    queries = [list(rng.integers(0, 12, rng.integers(1, 4))) for _ in range(25)]
    model = make_baseline("sknn", neighbours=3).fit(table(*train), num_items=12)
    found = model.scores(rows(*queries, width=3), torch.zeros(25, 3, dtype=torch.long))
    for row, query in enumerate(queries):
        expected = _brute_force_sknn(train, query, 3, 12)
        assert found[row].numpy() - expected == pytest.approx(np.zeros(12), abs=1e-3)


def test_planted_rule_is_found_by_the_session_baselines(planted) -> None:
    found = {}
    for name in BASELINES:
        model = make_baseline(name).fit(planted.split.train, planted.num_items)
        found[name] = evaluate_next_item(model, planted.samples["test"], ks=(1, 10))
    assert found["transitions"]["recall@1"] == 1.0
    assert found["random"]["recall@10"] < 0.5 and found["most_popular"]["recall@1"] < 0.2
    assert found["sknn"]["recall@10"] == 1.0  # the successor is always in a neighbour session


def test_unfitted_and_unknown_baselines_fail_clearly() -> None:
    with pytest.raises(NotFittedError):
        make_baseline("transitions").scores(rows([1]), rows([1]))
    with pytest.raises(ConfigError, match="unknown session baseline"):
        make_baseline("gru4rec")
    with pytest.raises(ConfigError, match="do not fit"):
        make_baseline("most_popular", neighbours=3)
    random = make_baseline("random", seed=1).fit(TRAIN, 7)
    assert torch.equal(random.scores(rows([1]), rows([1])), random.scores(rows([2]), rows([2])))
