"""The pipeline end to end: files in, artifacts out, loadable, leak-free, all-or-nothing."""

from __future__ import annotations

import json

import pytest
import torch

from storex.config import load_settings
from storex.errors import DataError, MissingDataError
from storex.graph import StoreXDataset, split_edge_index
from storex.pipeline import prepare


@pytest.fixture()
def settings(tmp_path):
    return load_settings(data_dir=tmp_path / "no-data")


@pytest.fixture()
def shop_folder(tmp_path):
    folder = tmp_path / "shop"
    folder.mkdir()
    rows = ["user_id,item_id,rating,timestamp"]
    for user in range(30):
        for item in range(user % 7, user % 7 + 12):
            rows.append(f"u{user},i{item},{1 + (user + item) % 5},{1_600_000_000 + user * item}")
    (folder / "interactions.csv").write_text("\n".join(rows) + "\n")
    items = ["item_id,title,categories,brand,price"]
    items += [f"i{k},Item number {k},Toys|Games,Brand{k % 3},{5 + k}" for k in range(25)]
    (folder / "items.csv").write_text("\n".join(items) + "\n")
    return folder


def test_shop_folder_to_loadable_graph(shop_folder, tmp_path, settings):
    out = tmp_path / "graph"
    result = prepare(shop_folder, out, settings)
    summary = result.summary
    assert summary["users"] == 30
    assert summary["interactions"] == 30 * 12
    assert summary["dropped"] == 0
    assert json.loads((out / "summary.json").read_text())["users"] == 30
    for name in ("cleaning_report.json", "split_report.json", "item_encoder.json"):
        assert (out / name).is_file()

    dataset = StoreXDataset(out)
    hetero = dataset.hetero
    assert hetero["user"].num_nodes == 30
    assert hetero["item"].x.shape[1] == summary["item_features"] > 0
    train = {tuple(p) for p in split_edge_index(hetero, "train").T.tolist()}
    held = (
        split_edge_index(hetero, "valid").T.tolist() + split_edge_index(hetero, "test").T.tolist()
    )
    assert held and not train & {tuple(p) for p in held}


def test_every_stage_is_reported(shop_folder, tmp_path, settings):
    stages = []
    result = prepare(shop_folder, tmp_path / "g", settings, on_stage=stages.append)
    assert stages == ["read", "clean", "split", "features", "graph", "save"]
    assert set(result.summary["stage_seconds"]) == set(stages)


def test_failed_run_keeps_previous_artifacts(shop_folder, tmp_path, settings):
    out = tmp_path / "graph"
    prepare(shop_folder, out, settings)
    before = torch.load(out / "edge_index.pt", weights_only=True)
    (shop_folder / "interactions.csv").write_text("user_id,item_id,rating\nu1,i1,great\n")
    with pytest.raises(DataError, match=r"interactions.csv.*line 2.*rating"):
        prepare(shop_folder, out, settings)
    assert torch.equal(torch.load(out / "edge_index.pt", weights_only=True), before)


def test_unknown_source_names_the_known_ones(tmp_path, settings):
    with pytest.raises(MissingDataError, match="ml-100k"):
        prepare("no-such-set", tmp_path / "g", settings)


def test_synthetic_needs_no_data_folder(tmp_path, settings):
    result = prepare("synthetic", tmp_path / "g", settings)
    assert result.summary["users"] > 100
    assert result.summary["sessions"] > 0
    assert result.summary["item_graph_edges"] > 0


@pytest.mark.realdata
def test_movielens_100k_loads_unfiltered(real_dataset, tmp_path):
    real_dataset("ml-100k")
    summary = prepare("ml-100k", tmp_path / "g", load_settings()).summary
    assert (summary["users"], summary["items"], summary["interactions"]) == (943, 1682, 100_000)
    assert summary["dropped"] == 0


@pytest.mark.realdata
@pytest.mark.slow
def test_lightgcn_ml1m_split_loads_as_published(real_dataset, tmp_path):
    real_dataset("lightgcnpp/ml-1m")
    summary = prepare("lightgcnpp-ml-1m", tmp_path / "g", load_settings()).summary
    assert (summary["users"], summary["items"], summary["interactions"]) == (6039, 3628, 836_478)
    assert summary["splits"] == {"train": 590_733, "valid": 80_897, "test": 164_848}
