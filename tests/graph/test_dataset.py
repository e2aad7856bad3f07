"""Artifacts folder and dataset: round trip, atomic replacement, missing and corrupt files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch_geometric.data import HeteroData

from storex.config import GraphSettings
from storex.data.schema import interactions_frame
from storex.errors import DataError, MissingDataError
from storex.graph import (
    RATES,
    GraphArtifacts,
    GraphBuilder,
    StoreXDataset,
    load_artifacts,
    save_artifacts,
    to_homogeneous_bipartite,
)
from storex.graph.artifacts import REQUIRED_FILES
from storex.idmap import IdMap


def make_inputs(seed: int = 0, rows: int = 300):
    rng = np.random.default_rng(seed)
    frame = interactions_frame(
        [f"u{v}" for v in rng.integers(0, 20, rows)],
        [f"i{v}" for v in rng.integers(0, 40, rows)],
        rating=rng.integers(1, 6, rows).astype(float),
        timestamp=rng.uniform(0, 1e9, rows),
        session_id=[f"s{k // 6}" for k in range(rows)],
        split=rng.choice(["train", "valid", "test"], rows, p=[0.8, 0.1, 0.1]),
    )
    frame["positive"] = frame["rating"] >= 3
    user_map, item_map = IdMap.from_series(frame["user_id"]), IdMap.from_series(frame["item_id"])
    user_x = rng.normal(size=(len(user_map), 3)).astype(np.float32)
    item_x = rng.normal(size=(len(item_map), 2)).astype(np.float32)
    return frame, user_map, item_map, user_x, item_x, ["a", "b", "c"], ["p", "q"]


def make_artifacts(seed: int = 0) -> tuple[GraphArtifacts, HeteroData]:
    inputs = make_inputs(seed)
    builder = GraphBuilder(GraphSettings(negatives_per_positive=3))
    return builder.build_artifacts(*inputs, seed=seed), builder.build(*inputs)


def assert_same_graph(a: HeteroData, b: HeteroData) -> None:
    assert a.node_types == b.node_types and a.edge_types == b.edge_types
    for store_a, store_b in zip(a.stores, b.stores, strict=True):
        assert set(store_a.keys()) == set(store_b.keys())
        for key, value in store_a.items():
            other = store_b[key]
            if isinstance(value, torch.Tensor):
                assert value.dtype == other.dtype, key
                assert torch.equal(value.nan_to_num(-1.0), other.nan_to_num(-1.0)), key
            else:
                assert value == other, key


def test_artifacts_round_trip(tmp_path: Path):
    art, _ = make_artifacts()
    manifest = save_artifacts(art, tmp_path / "graph")
    assert sorted(p.name for p in (tmp_path / "graph").iterdir()) == sorted(
        [*REQUIRED_FILES, "item_graph.pt"]
    )
    loaded = load_artifacts(tmp_path / "graph")
    assert torch.equal(loaded.edge_index, art.edge_index)
    for key in art.labels:
        assert torch.equal(loaded.labels[key].nan_to_num(-1), art.labels[key].nan_to_num(-1))
    assert torch.equal(loaded.user_x, art.user_x) and torch.equal(loaded.item_x, art.item_x)
    assert loaded.user_feature_names == ["a", "b", "c"]
    assert loaded.user_map == art.user_map and loaded.item_map == art.item_map
    assert torch.equal(loaded.train_edges, art.train_edges)
    assert torch.equal(loaded.train_labels, art.train_labels)
    assert torch.equal(loaded.item_graph[0], art.item_graph[0])
    assert manifest["counts"]["interactions"] == 300
    assert sum(manifest["counts"]["interactions_per_split"].values()) == 300
    assert manifest["feature_dims"] == {"user": 3, "item": 2}
    assert manifest["fingerprint"] == art.fingerprint and len(art.fingerprint) == 64
    assert manifest["negatives"]["per_positive"] == 3
    assert manifest["counts"]["train_examples"] == 4 * manifest["counts"]["train_graph_edges"]


def test_dataset_gives_back_the_built_graph_and_maps(tmp_path: Path):
    art, built = make_artifacts()
    save_artifacts(art, tmp_path / "graph")
    dataset = StoreXDataset(tmp_path / "graph")
    assert len(dataset) == 1
    assert_same_graph(dataset.hetero, built)
    flat, expected = dataset.homogeneous, to_homogeneous_bipartite(built)
    assert (
        torch.equal(flat.edge_index, expected.edge_index) and flat.num_nodes == expected.num_nodes
    )
    assert dataset.user_map == art.user_map and dataset.item_map == art.item_map
    assert dataset.manifest["fingerprint"] == art.fingerprint
    edges, labels = dataset.train_examples
    assert torch.equal(edges, art.train_edges) and torch.equal(labels, art.train_labels)
    assert torch.equal(dataset.item_graph[1], art.item_graph[1])


def test_dataset_processes_once_then_reuses_the_cache(tmp_path: Path, monkeypatch):
    art, _ = make_artifacts()
    save_artifacts(art, tmp_path / "graph")
    first = StoreXDataset(tmp_path / "graph")

    def fail(self):
        raise AssertionError("processed again")

    monkeypatch.setattr(StoreXDataset, "process", fail)
    second = StoreXDataset(tmp_path / "graph")
    assert_same_graph(first.hetero, second.hetero)


def test_new_artifacts_are_processed_afresh(tmp_path: Path):
    art, _ = make_artifacts(seed=0)
    save_artifacts(art, tmp_path / "graph")
    old = StoreXDataset(tmp_path / "graph").hetero
    art2, built2 = make_artifacts(seed=1)
    save_artifacts(art2, tmp_path / "graph")
    new = StoreXDataset(tmp_path / "graph").hetero
    assert_same_graph(new, built2)
    assert not torch.equal(new[RATES].edge_index, old[RATES].edge_index)


class _BrokenMap(IdMap):
    def save(self, path):
        raise OSError("disk full")


def test_a_failed_save_leaves_the_old_folder_intact(tmp_path: Path):
    art, _ = make_artifacts(seed=0)
    target = tmp_path / "graph"
    save_artifacts(art, target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    art2, _ = make_artifacts(seed=1)
    art2.item_map = _BrokenMap(art2.item_map.ids)
    with pytest.raises(OSError, match="disk full"):
        save_artifacts(art2, target)

    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["graph"]  # no staging folder left behind
    assert load_artifacts(target).fingerprint == art.fingerprint


def test_save_refuses_inconsistent_artifacts(tmp_path: Path):
    art, _ = make_artifacts()
    art.labels["rating"] = art.labels["rating"][:-1]
    with pytest.raises(DataError, match=r"labels\.pt"):
        save_artifacts(art, tmp_path / "graph")
    assert not (tmp_path / "graph").exists()


@pytest.mark.parametrize("name", ["edge_index.pt", "features.pt", "user2idx.json", "item_graph.pt"])
def test_a_missing_file_is_named(tmp_path: Path, name: str):
    art, _ = make_artifacts()
    save_artifacts(art, tmp_path / "graph")
    (tmp_path / "graph" / name).unlink()
    with pytest.raises(MissingDataError, match=name.replace(".", r"\.")):
        load_artifacts(tmp_path / "graph")


def test_missing_folder_or_manifest(tmp_path: Path):
    with pytest.raises(MissingDataError):
        load_artifacts(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingDataError, match="manifest"):
        StoreXDataset(tmp_path / "empty")


def test_a_damaged_file_is_named(tmp_path: Path):
    art, _ = make_artifacts()
    save_artifacts(art, tmp_path / "graph")
    (tmp_path / "graph" / "labels.pt").write_bytes(b"not a tensor file")
    with pytest.raises(DataError, match=r"labels\.pt.*checksum"):
        load_artifacts(tmp_path / "graph")


def _fix_checksum(folder: Path, name: str) -> None:
    """Record a changed file's checksum, as a wrong but well-formed writer would."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _resave(folder: Path, name: str, value: object) -> None:
    torch.save(value, folder / name)
    _fix_checksum(folder, name)


def test_shape_mismatch_is_named(tmp_path: Path):
    art, _ = make_artifacts()
    folder = tmp_path / "graph"
    save_artifacts(art, folder)
    _resave(folder, "train_labels.pt", art.train_labels[:-2])
    with pytest.raises(DataError, match=r"train_labels\.pt"):
        load_artifacts(folder)

    save_artifacts(art, folder)
    bad = art.edge_index.clone()
    bad[1, 0] = len(art.item_map)  # past the last item
    _resave(folder, "edge_index.pt", bad)
    with pytest.raises(DataError, match=r"edge_index\.pt.*outside"):
        load_artifacts(folder)


def test_unreadable_tensor_file_is_named(tmp_path: Path):
    art, _ = make_artifacts()
    folder = tmp_path / "graph"
    save_artifacts(art, folder)
    (folder / "features.pt").write_bytes(b"garbage")
    _fix_checksum(folder, "features.pt")
    with pytest.raises(DataError, match=r"features\.pt.*cannot be read"):
        load_artifacts(folder)


def test_tampered_counts_are_caught(tmp_path: Path):
    art, _ = make_artifacts()
    folder = tmp_path / "graph"
    save_artifacts(art, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["counts"]["users"] += 1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match=r"manifest\.json"):
        load_artifacts(folder)


@pytest.mark.realdata
def test_real_movielens_graph_round_trips(real_dataset, tmp_path: Path):
    path = real_dataset("ml-100k") / "u.data"
    raw = pd.read_csv(path, sep="\t", names=["user_id", "item_id", "rating", "timestamp"])
    frame = interactions_frame(
        raw["user_id"], raw["item_id"], rating=raw["rating"], timestamp=raw["timestamp"],
        split=np.where(raw["timestamp"] < raw["timestamp"].quantile(0.8), "train", "test"),
    )  # fmt: skip
    frame["positive"] = frame["rating"] >= 4
    user_map, item_map = IdMap.from_series(frame["user_id"]), IdMap.from_series(frame["item_id"])
    inputs = (frame, user_map, item_map, np.zeros((943, 0)), np.zeros((1682, 0)))
    builder = GraphBuilder()
    save_artifacts(builder.build_artifacts(*inputs), tmp_path / "ml")
    dataset = StoreXDataset(tmp_path / "ml")
    assert dataset.manifest["counts"]["interactions"] == 100_000
    assert dataset.hetero["user"].num_nodes == 943 and dataset.hetero["item"].num_nodes == 1682
    assert_same_graph(dataset.hetero, builder.build(*inputs))
