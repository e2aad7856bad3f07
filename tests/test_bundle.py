"""Bundles: a trained model and what serving needs, saved atomically and loaded whole."""

from __future__ import annotations

import json

import pytest
import torch

from storex.bundle import ModelBundle, describe
from storex.errors import MissingDataError, ModelError
from storex.idmap import IdMap
from storex.models.baselines import EASE
from tests.models.contract_models import checkerboard


@pytest.fixture()
def bundle():
    data = checkerboard()
    model = EASE(l2=1.0).fit(data)
    users = IdMap(f"u{i}" for i in range(data.num_users))
    items = IdMap(f"i{i}" for i in range(data.num_items))
    info = describe(model, version="v1", metrics={"recall@10": 0.5}, fingerprint="abc")
    return ModelBundle(model, data, users, items, info)


def test_round_trip_recommends_the_same(bundle, tmp_path):
    bundle.save(tmp_path / "b")
    loaded = ModelBundle.load(tmp_path / "b")
    users = torch.arange(bundle.data.num_users)
    exclude = bundle.data.matrix("train")
    assert torch.equal(
        loaded.model.recommend(users, 5, exclude=loaded.data.matrix("train"))[0],
        bundle.model.recommend(users, 5, exclude=exclude)[0],
    )
    assert loaded.user_map == bundle.user_map and loaded.item_map == bundle.item_map
    assert loaded.version == "v1"
    assert loaded.info["data_fingerprint"] == "abc"
    assert loaded.info["code_version"].startswith("0.")


def test_held_out_pairs_do_not_travel(bundle, tmp_path):
    bundle.save(tmp_path / "b")
    loaded = ModelBundle.load(tmp_path / "b")
    assert loaded.data.test.shape == (2, 0) and loaded.data.valid.shape == (2, 0)
    assert torch.equal(loaded.data.train, bundle.data.train)


def test_missing_bundle_is_named(tmp_path):
    with pytest.raises(MissingDataError, match=r"bundle\.json"):
        ModelBundle.load(tmp_path)


def test_damaged_parts_are_named(bundle, tmp_path):
    folder = bundle.save(tmp_path / "b")
    (folder / "graph.pt").write_bytes(b"not a tensor file")
    with pytest.raises(ModelError, match=r"graph\.pt"):
        ModelBundle.load(folder)
    bundle.save(folder)
    (folder / "model" / "model.pt").unlink()
    with pytest.raises(ModelError, match=r"model\.pt"):
        ModelBundle.load(folder)
    bundle.save(folder)
    (folder / "bundle.json").write_text("{")
    with pytest.raises(ModelError, match=r"bundle\.json"):
        ModelBundle.load(folder)


def test_resaving_replaces_whole_folder(bundle, tmp_path):
    folder = bundle.save(tmp_path / "b")
    (folder / "stray.txt").write_text("left over")
    bundle.save(folder)
    assert not (folder / "stray.txt").exists()
    assert json.loads((folder / "bundle.json").read_text())["name"] == "ease"
