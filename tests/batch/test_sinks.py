"""Every destination keeps every answer: CSV files, the service database's table on SQLite
and PostgreSQL, and Redis keys."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
from sqlalchemy import text

from storex.batch import BatchJob, FileSink, RedisSink, TableSink, read_output, run_local
from storex.serve.db import make_engine

REDIS_URL = os.environ.get("STOREX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="module")
def reference(lightgcn_bundle, tmp_path_factory) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("reference")
    run_local(BatchJob(lightgcn_bundle, k=5, partition_users=32), FileSink(folder))
    return read_output(folder)


def test_csv_parts_read_back_as_the_parquet_answer(lightgcn_bundle, tmp_path, reference) -> None:
    run_local(BatchJob(lightgcn_bundle, k=5, partition_users=32), FileSink(tmp_path, "csv"))
    frame = read_output(tmp_path)
    assert sorted(p.name for p in tmp_path.glob("part-*")) == [
        f"part-{n:05d}.csv" for n in range(5)
    ]
    pd.testing.assert_frame_equal(
        frame.astype({"rank": "int16", "score": "float32"}), reference, check_exact=False
    )


def test_the_database_table_holds_every_answer(lightgcn_bundle, db_url, reference) -> None:
    sink = TableSink(db_url)
    run_local(BatchJob(lightgcn_bundle, k=5, partition_users=7), sink)
    run_local(BatchJob(lightgcn_bundle, k=5, partition_users=64), sink)  # replaced, not added
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            stored = pd.read_sql(
                text(
                    "SELECT user_id, rank, item_id, score, model_version FROM "
                    "batch_recommendations ORDER BY user_id, rank"
                ),
                connection,
            )
    finally:
        engine.dispose()
    expected = reference.sort_values(["user_id", "rank"], ignore_index=True)
    assert len(stored) == len(expected)
    assert stored["item_id"].tolist() == expected["item_id"].tolist()
    assert stored["rank"].tolist() == expected["rank"].tolist()
    assert stored["score"].to_numpy() == pytest.approx(expected["score"].to_numpy(), abs=1e-6)
    assert set(stored["model_version"]) == {"v1"}


def test_redis_holds_one_key_per_user(lightgcn_bundle, reference) -> None:
    redis = pytest.importorskip("redis", reason="the Redis sink needs the redis package")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({type(exc).__name__})")
    prefix = f"storex-test:{os.getpid()}"
    try:
        sink = RedisSink(REDIS_URL, prefix=prefix, ttl_seconds=60)
        run_local(BatchJob(lightgcn_bundle, k=5, partition_users=50), sink)
        for user, group in reference.groupby("user_id"):
            value = json.loads(client.get(f"{prefix}:{user}"))
            assert value["model_version"] == "v1"
            assert [i["item_id"] for i in value["items"]] == group["item_id"].tolist()
        assert 0 < client.ttl(f"{prefix}:u0") <= 60
        assert json.loads(client.get(f"{prefix}:_manifest"))["rows"] == len(reference)
    finally:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
