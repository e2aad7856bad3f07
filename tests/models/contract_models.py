"""Models every contract test runs on, and the tiny data set with a known right answer.

To put a new model under the contract, append a :class:`ContractModel` to ``CONTRACT_MODELS``
with a factory that fits in seconds on :func:`checkerboard`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from storex.models.base import Recommender
from storex.models.baselines import EASE, ItemKNN, MostPopular, RandomRecommender
from storex.models.data import InteractionData
from storex.models.gat import GATModel
from storex.models.graphsage import GraphSAGEModel
from storex.models.lightgcn import LightGCN
from storex.models.ncf import NCFModel

GROUPS = 2
USERS_PER_GROUP = 10
ITEMS_PER_GROUP = 8


@dataclass(frozen=True)
class ContractModel:
    """A model factory and what the contract may expect of it.

    ``personalised``: the held-out items of each user must come back first on
    :func:`checkerboard`. ``cold_start``: ``score_new_users`` is implemented (otherwise it
    must raise ``NotImplementedError``).
    """

    id: str
    factory: Callable[[], Recommender]
    personalised: bool = True
    cold_start: bool = True


TINY_TRAINING = {  # fits the checkerboard in seconds
    "epochs": 40,
    "batch_size": 64,
    "lr": 0.02,
    "patience": 100,
    "extra": {"threads": 1},
}

CONTRACT_MODELS: list[ContractModel] = [
    ContractModel("random", lambda: RandomRecommender(seed=3), personalised=False),
    ContractModel("most_popular", MostPopular, personalised=False),
    ContractModel("ease", lambda: EASE(l2=1.0)),
    ContractModel("item_knn", lambda: ItemKNN(k=5, shrink=1.0)),
    ContractModel("graphsage", lambda: GraphSAGEModel(embedding_dim=16, train=TINY_TRAINING)),
    ContractModel("gat", lambda: GATModel(embedding_dim=16, heads=2, train=TINY_TRAINING)),
    ContractModel("lightgcn", lambda: LightGCN(embedding_dim=16, train=TINY_TRAINING)),
    ContractModel(
        "ncf",
        lambda: NCFModel(factors=8, mlp_layers=(16, 8), train=TINY_TRAINING),
        cold_start=False,
    ),
]


def checkerboard() -> InteractionData:
    """Two groups of users, each liking only its own half of the items.

    User ``j`` of a group holds out two of its group's items: item ``j mod 8`` goes to valid,
    item ``(j + 3) mod 8`` to test; the other six are training positives. A personalised
    model must rank the two held-out items above every other unseen item (all from the other
    half), and the test item first once valid is excluded too.
    """
    train, valid, test = [], [], []
    for group in range(GROUPS):
        for local in range(USERS_PER_GROUP):
            user = group * USERS_PER_GROUP + local
            own = [group * ITEMS_PER_GROUP + i for i in range(ITEMS_PER_GROUP)]
            valid_item = own[local % ITEMS_PER_GROUP]
            test_item = own[(local + 3) % ITEMS_PER_GROUP]
            valid.append((user, valid_item))
            test.append((user, test_item))
            train += [(user, item) for item in own if item not in (valid_item, test_item)]

    def pairs(rows: list[tuple[int, int]]) -> torch.Tensor:
        return torch.tensor(rows, dtype=torch.long).T.contiguous()

    num_users, num_items = GROUPS * USERS_PER_GROUP, GROUPS * ITEMS_PER_GROUP
    nan = float("nan")
    return InteractionData(
        num_users=num_users,
        num_items=num_items,
        train=pairs(train),
        valid=pairs(valid),
        test=pairs(test),
        train_rating=torch.full((len(train),), nan),
        valid_rating=torch.full((len(valid),), nan),
        test_rating=torch.full((len(test),), nan),
        user_x=torch.zeros(num_users, 0),
        item_x=torch.zeros(num_items, 0),
    )
