import numpy as np
import pandas as pd

from storex.data.schema import (
    INTERACTION_COLUMNS,
    ITEM_COLUMNS,
    StoreData,
    conform_items,
    conform_users,
    interactions_frame,
)


def test_interactions_frame_has_canonical_columns_and_types():
    frame = interactions_frame([1, 2], ["a", " "], rating=[4, 5], timestamp=[10, np.nan])
    assert tuple(frame.columns) == INTERACTION_COLUMNS
    assert frame["user_id"].tolist() == ["1", "2"]
    assert frame["item_id"].isna().tolist() == [False, True]  # blank ids are missing, not ""
    assert frame["rating"].dtype == np.float64
    assert frame["split"].isna().all()


def test_items_keep_extras_and_normalise_categories():
    items = conform_items(
        pd.DataFrame({"item_id": [1, 2], "categories": [["A", "B"], None], "url": ["u", None]})
    )
    assert tuple(items.columns[: len(ITEM_COLUMNS)]) == ITEM_COLUMNS
    assert items["categories"].tolist() == [["A", "B"], []]
    assert "url" in items.columns


def test_users_coerce_age():
    users = conform_users(pd.DataFrame({"user_id": ["u"], "age": ["x"], "gender": ["F"]}))
    assert np.isnan(users.loc[0, "age"])
    assert users.loc[0, "gender"] == "F"


def test_store_data_flags_and_summary():
    inter = interactions_frame(["u1", "u1", "u2"], ["i1", "i2", "i1"], split=["train"] * 3)
    data = StoreData("t", inter)
    assert data.is_presplit and not data.is_explicit and not data.has_sessions
    assert data.summary() == {"users": 2, "items": 2, "interactions": 3}
