"""A bundle big enough for block-wise top-K (thousands of items), a catalog with categories,
prices and stock for the filters, and the storage fixtures of the service tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from storex.bundle import ModelBundle, describe
from storex.idmap import IdMap
from storex.models.base import Recommender
from storex.models.data import InteractionData
from storex.models.lightgcn import LightGCN
from tests.serve.conftest import db_url, postgres_admin, postgres_url  # noqa: F401

USERS, ITEMS, PER_USER = 150, 3000, 12
CATEGORIES = ("books", "music", "garden")


def random_store(users: int = USERS, items: int = ITEMS, seed: int = 0) -> InteractionData:
    """Users each with ``PER_USER`` distinct random training items, no held-out splits."""
    rng = np.random.default_rng(seed)
    pairs = np.array(
        [(u, i) for u in range(users) for i in rng.choice(items, PER_USER, replace=False)]
    ).T
    empty = torch.empty(2, 0, dtype=torch.long)
    return InteractionData(
        num_users=users,
        num_items=items,
        train=torch.from_numpy(pairs).long(),
        valid=empty,
        test=empty,
        train_rating=torch.full((pairs.shape[1],), float("nan")),
        valid_rating=torch.empty(0),
        test_rating=torch.empty(0),
        user_x=torch.empty(users, 0),
        item_x=torch.empty(items, 0),
    )


def bundle_of(model: Recommender, data: InteractionData, folder: Path) -> ModelBundle:
    model.fit(data)
    bundle = ModelBundle(
        model,
        data,
        IdMap(f"u{u}" for u in range(data.num_users)),
        IdMap(f"i{i}" for i in range(data.num_items)),
        describe(model, version="v1", metrics={}, fingerprint="test"),
    )
    bundle.save(folder, ann_min_items=10**9)
    return ModelBundle.load(folder)


@pytest.fixture(scope="session")
def lightgcn_bundle(tmp_path_factory: pytest.TempPathFactory) -> ModelBundle:
    model = LightGCN(embedding_dim=16, train={"epochs": 1, "batch_size": 512, "seed": 0})
    return bundle_of(model, random_store(), tmp_path_factory.mktemp("bundle") / "lightgcn")


def catalog_of(items: int = ITEMS) -> pd.DataFrame:
    """Categories in turn, prices 1..50, every seventh item out of stock."""
    return pd.DataFrame(
        {
            "item_id": [f"i{i}" for i in range(items)],
            "categories": [[CATEGORIES[i % 3]] for i in range(items)],
            "price": [float(i % 50 + 1) for i in range(items)],
            "in_stock": [i % 7 != 0 for i in range(items)],
        }
    )
