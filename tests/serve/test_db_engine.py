"""Engine factory: SQLite pragmas, URL handling and pools fit for a threaded server."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import QueuePool, StaticPool

from storex.errors import ConfigError
from storex.serve.db import is_in_memory, make_engine, upgrade_database
from storex.serve.db.engine import SQLITE_BUSY_TIMEOUT_MS, normalize_url


def _pragma(engine: Engine, name: str) -> object:
    with engine.connect() as connection:
        return connection.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_sqlite_file_runs_wal_full_sync_with_foreign_keys(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        assert _pragma(engine, "journal_mode") == "wal"
        assert _pragma(engine, "synchronous") == 2  # FULL
        assert _pragma(engine, "foreign_keys") == 1
        assert _pragma(engine, "busy_timeout") == SQLITE_BUSY_TIMEOUT_MS
        assert isinstance(engine.pool, QueuePool)
    finally:
        engine.dispose()


def test_sqlite_enforces_foreign_keys(sqlite_url: str) -> None:
    upgrade_database(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        insert = text("INSERT INTO ratings (user_id, item_id, rating) VALUES (:u, :i, :r)")
        failure = pytest.raises(IntegrityError, match="FOREIGN KEY constraint failed")
        with failure, engine.begin() as connection:
            connection.execute(insert, {"u": 1, "i": 1, "r": 3.0})
    finally:
        engine.dispose()


def test_sqlite_file_folder_is_created(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "deeper" / "shop.db"
    engine = make_engine(f"sqlite:///{target}")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        assert target.is_file()
    finally:
        engine.dispose()


def test_in_memory_sqlite_is_one_database_for_all_threads() -> None:
    engine = make_engine("sqlite://")
    try:
        assert isinstance(engine.pool, StaticPool)
        upgrade_database(engine)
        seen: list[int] = []

        def count_tables() -> None:
            with engine.connect() as connection:
                query = "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                seen.append(connection.exec_driver_sql(query).scalar_one())

        worker = threading.Thread(target=count_tables)
        worker.start()
        worker.join()
        assert seen == [5]  # users, items, ratings, batch_recommendations, alembic_version
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:5432/shop",
        "postgres://postgres@127.0.0.1:5432/shop",
        "postgresql+psycopg2://postgres@127.0.0.1:5432/shop",
    ],
)
def test_postgresql_urls_use_psycopg(url: str) -> None:
    parsed = normalize_url(url)
    assert parsed.drivername == "postgresql+psycopg"
    assert parsed.database == "shop"


def test_postgresql_engine_pool_suits_a_threaded_server() -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:5432/shop")  # no connection made
    try:
        assert isinstance(engine.pool, QueuePool)
        assert engine.pool.size() == 10
        assert engine.pool._pre_ping is True
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/shop", "unsupported database 'mysql'"),
        ("not a url", "not a database URL: 'not a url'"),
    ],
)
def test_unusable_urls_raise_config_error(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_engine(url)


def test_a_reader_refuses_writes(db_url: str) -> None:
    reader = make_engine(db_url, read_only=True)
    try:
        with pytest.raises(DBAPIError) as refused, reader.begin() as connection:
            connection.execute(text("INSERT INTO items (external_id) VALUES ('x')"))
        assert "readonly" in str(refused.value).lower().replace("-", "").replace(" ", "")
    finally:
        reader.dispose()


def test_sqlite_readers_do_not_wait_for_an_open_write(sqlite_url: str) -> None:
    """A write transaction holds the lock; a reader still reads the last commit at once."""
    upgrade_database(sqlite_url)
    writer, reader = make_engine(sqlite_url), make_engine(sqlite_url, read_only=True)
    try:
        with writer.begin() as connection:
            connection.execute(text("INSERT INTO items (external_id) VALUES ('committed')"))
        with writer.begin() as writing:
            writing.execute(text("INSERT INTO items (external_id) VALUES ('pending')"))
            seen: list[list[str]] = []

            def read() -> None:
                with reader.connect() as connection:
                    query = text("SELECT external_id FROM items ORDER BY id")
                    seen.append(list(connection.execute(query).scalars()))

            started = time.monotonic()
            worker = threading.Thread(target=read)
            worker.start()
            worker.join(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
            assert seen == [["committed"]]
            assert time.monotonic() - started < 5  # far below the busy timeout
        with reader.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM items")).scalar() == 2
    finally:
        writer.dispose()
        reader.dispose()


def test_in_memory_sqlite_has_no_separate_reader() -> None:
    assert is_in_memory("sqlite://") and is_in_memory("sqlite:///:memory:")
    assert not is_in_memory("sqlite:///shop.db")
    with pytest.raises(ConfigError, match="in-memory SQLite database has no separate readers"):
        make_engine("sqlite://", read_only=True)
