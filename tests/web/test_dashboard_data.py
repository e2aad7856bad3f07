"""Small readings the dashboard makes of a bundle's metadata."""

from __future__ import annotations

from storex.serve.web.dashboard import flatten, format_time


def test_flatten_nested_hyperparameters_in_order() -> None:
    params = {"embedding_dim": 64, "gamma": None, "train": {"lr": 0.01, "extra": {}}, "k": [10, 5]}
    assert flatten(params) == [
        ("embedding_dim", "64"),
        ("gamma", "—"),
        ("train.lr", "0.01"),
        ("train.extra", "{}"),
        ("k", "[10, 5]"),
    ]


def test_format_time() -> None:
    assert format_time("2025-01-31T14:05:09+00:00") == "2025-01-31 14:05 UTC"
    assert format_time("2025-01-31T14:05:09") == "2025-01-31 14:05"
    assert format_time("yesterday") == "yesterday"
    assert format_time(None) == "—"
