"""Batch answers are the service's answers: same exclusions, same filters, whatever the
partitioning and chunking, in this process and on a Dask LocalCluster."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from storex.batch import BatchFilters, BatchJob, FileSink, read_output, run_dask, run_local
from storex.bundle import ModelBundle
from storex.errors import ConfigError
from storex.models.baselines import EASE
from storex.serve.engine import RecommendationEngine
from tests.batch.conftest import bundle_of, catalog_of, random_store

FILTERS = {
    "none": BatchFilters(),
    "seen_included": BatchFilters(exclude_rated=False),
    "category": BatchFilters(category="Music"),
    "price_and_stock": BatchFilters(min_price=10, max_price=20, in_stock_only=True),
    "allowed": BatchFilters(allowed_items=tuple(f"i{i}" for i in range(0, 3000, 9))),
}


def run_to(folder: Path, bundle: ModelBundle, **options) -> pd.DataFrame:
    job = BatchJob(bundle, catalog=catalog_of(bundle.data.num_items), **options)
    result = run_local(job, FileSink(folder))
    frame = read_output(folder)
    assert result.rows == len(frame) and result.users == frame["user_id"].nunique()
    return frame


def engine_answers(bundle: ModelBundle, filters: BatchFilters, k: int) -> dict[str, list]:
    engine = RecommendationEngine(bundle, score_cache_mb=0)
    engine.set_catalog(catalog_of(bundle.data.num_items))
    answers = {}
    for user in bundle.user_map.ids:
        answer = engine.recommend(
            user,
            k,
            exclude_rated=filters.exclude_rated,
            category=filters.category,
            min_price=filters.min_price,
            max_price=filters.max_price,
            in_stock_only=filters.in_stock_only,
            allowed_items=filters.allowed_items,
        )
        answers[user] = [(item.item_id, item.score) for item in answer.items]
    return answers


def assert_same_answers(frame: pd.DataFrame, expected: dict[str, list]) -> None:
    by_user = {user: group for user, group in frame.groupby("user_id", sort=False)}
    for user, items in expected.items():
        group = by_user.get(user)
        got = [] if group is None else list(zip(group["item_id"], group["score"], strict=True))
        assert [i for i, _ in got] == [i for i, _ in items], user
        assert [s for _, s in got] == pytest.approx([s for _, s in items], abs=1e-5), user
        if group is not None:
            assert group["rank"].tolist() == list(range(1, len(group) + 1))


@pytest.mark.parametrize("name", FILTERS)
def test_batch_equals_the_services_answers(lightgcn_bundle, tmp_path, name) -> None:
    filters = FILTERS[name]
    frame = run_to(tmp_path / "out", lightgcn_bundle, k=10, filters=filters)
    assert_same_answers(frame, engine_answers(lightgcn_bundle, filters, 10))


def test_seen_items_never_come_back(lightgcn_bundle, tmp_path) -> None:
    frame = run_to(tmp_path / "out", lightgcn_bundle, k=20)
    data = lightgcn_bundle.data
    seen = {(f"u{u}", f"i{i}") for u, i in data.train.T.tolist()}
    assert not seen & set(zip(frame["user_id"], frame["item_id"], strict=True))
    assert len(frame) == data.num_users * 20


def test_a_model_without_factors_is_scored_through_the_model(tmp_path) -> None:
    bundle = bundle_of(EASE(l2=50.0), random_store(users=60, items=400), tmp_path / "ease")
    assert bundle.model.dot_factors() is None
    for name in ("none", "category"):
        frame = run_to(tmp_path / name, bundle, k=5, filters=FILTERS[name], partition_users=25)
        assert_same_answers(frame, engine_answers(bundle, FILTERS[name], 5))


@pytest.mark.parametrize("partition_users,memory_mb", [(1000, 256.0), (7, 0.0), (64, 0.05)])
def test_partitions_and_chunks_never_change_results(
    lightgcn_bundle, tmp_path, partition_users, memory_mb
) -> None:
    reference = run_to(tmp_path / "ref", lightgcn_bundle, k=8, filters=FILTERS["category"])
    frame = run_to(
        tmp_path / "out",
        lightgcn_bundle,
        k=8,
        filters=FILTERS["category"],
        partition_users=partition_users,
        memory_mb=memory_mb,
    )
    pd.testing.assert_frame_equal(frame, reference)


def test_a_user_list_is_answered_in_order_and_unknown_ids_are_counted(
    lightgcn_bundle, tmp_path
) -> None:
    job = BatchJob(lightgcn_bundle, k=3, users=["u9", "u2", "nobody", "u9", "ghost"])
    result = run_local(job, FileSink(tmp_path / "out"))
    frame = read_output(tmp_path / "out")
    assert frame["user_id"].unique().tolist() == ["u9", "u2"]
    assert (result.users, result.unknown_users, result.rows) == (2, 2, 6)


def test_filters_with_no_catalog_are_refused(lightgcn_bundle) -> None:
    with pytest.raises(ConfigError, match="catalog"):
        BatchJob(lightgcn_bundle, filters=BatchFilters(category="books"))


def test_a_folder_that_is_not_a_batch_output_is_never_overwritten(lightgcn_bundle, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a batch output"):
        run_local(BatchJob(lightgcn_bundle, k=2), FileSink(tmp_path))
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_rerun_replaces_the_earlier_output(lightgcn_bundle, tmp_path) -> None:
    run_local(BatchJob(lightgcn_bundle, k=2, partition_users=10), FileSink(tmp_path / "out"))
    run_local(BatchJob(lightgcn_bundle, k=2, partition_users=100), FileSink(tmp_path / "out"))
    assert len(list((tmp_path / "out").glob("part-*"))) == 2
    assert (tmp_path / "out" / "_manifest.json").is_file()


def test_dask_writes_exactly_the_files_of_one_process(lightgcn_bundle, tmp_path) -> None:
    distributed = pytest.importorskip("distributed", reason="Dask needs the 'scale' extra")
    options = {"k": 10, "filters": FILTERS["price_and_stock"], "partition_users": 40}
    catalog = catalog_of()
    here = run_local(
        BatchJob(lightgcn_bundle, catalog=catalog, **options), FileSink(tmp_path / "a")
    )
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        there = run_dask(
            BatchJob(lightgcn_bundle, catalog=catalog, **options), FileSink(tmp_path / "b"), client
        )
    assert (there.workers, there.partitions, there.rows) == (2, 4, here.rows)
    pd.testing.assert_frame_equal(read_output(tmp_path / "b"), read_output(tmp_path / "a"))
    for part in sorted((tmp_path / "a").glob("part-*")):
        assert (tmp_path / "b" / part.name).read_bytes() == part.read_bytes()
