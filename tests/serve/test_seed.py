"""An empty database is filled from the data set the served bundle was trained on."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import Engine

from storex.bundle import ModelBundle
from storex.serve.db import Item, make_session_factory, rating_stats, upgrade_database
from storex.serve.db.replay import count_items
from storex.serve.seed import bundle_sources, seed_database
from tests.serve.test_db_loading import write_source
from tests.serve.test_engine import make_bundle


def bundle_from(dataset: str | None, artifacts: Path | None = None) -> ModelBundle:
    bundle = make_bundle()
    bundle.info["dataset"] = dataset
    if artifacts is not None:
        bundle.info["artifacts"] = str(artifacts)
    return bundle


def prepared(folder: Path, source: str) -> Path:
    """An artifacts folder whose summary names the source it was prepared from."""
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({"dataset": "shop", "source": source}))
    return folder


def test_an_empty_database_gets_the_catalog_and_history(engine: Engine, tmp_path: Path) -> None:
    upgrade_database(engine)
    shop = write_source(tmp_path / "shop")
    summary = seed_database(engine, bundle_from(str(shop)), tmp_path)
    assert summary is not None and summary["source"] == str(shop)
    assert (summary["users"], summary["items"], summary["ratings"]) == (3, 4, 3)
    assert summary["ratings_skipped_out_of_range"] == 2  # counted, not dropped silently
    with make_session_factory(engine)() as session:
        assert count_items(session) == 4 and rating_stats(session).count == 3


def test_a_database_with_items_is_left_alone(engine: Engine, tmp_path: Path) -> None:
    upgrade_database(engine)
    with make_session_factory(engine).begin() as session:
        session.add(Item(external_id="mine"))
    shop = write_source(tmp_path / "shop")
    assert seed_database(engine, bundle_from(str(shop)), tmp_path) is None
    with make_session_factory(engine)() as session:
        assert count_items(session) == 1


def test_the_prepared_source_comes_first_then_the_name(engine: Engine, tmp_path: Path) -> None:
    shop = write_source(tmp_path / "shop")
    moved = prepared(tmp_path / "artifacts", str(tmp_path / "moved-away"))
    bundle = bundle_from(str(shop), moved)
    assert bundle_sources(bundle) == [str(tmp_path / "moved-away"), str(shop)]
    upgrade_database(engine)
    summary = seed_database(engine, bundle, tmp_path)
    assert summary is not None and summary["source"] == str(shop)


def test_a_data_set_that_cannot_be_found_is_reported(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    upgrade_database(engine)
    with caplog.at_level(logging.WARNING, logger="storex.serve.seed"):
        assert seed_database(engine, bundle_from(str(tmp_path / "nowhere")), tmp_path) is None
        assert seed_database(engine, bundle_from(None), tmp_path) is None
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "nowhere" in messages and "storex db init --from DATASET" in messages
    assert "the bundle names no data set" in messages
