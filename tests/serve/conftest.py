"""Databases for the storage tests: a fresh SQLite file per test and, when a server answers,
one fresh PostgreSQL database per test session (emptied between tests, dropped at the end).

``STOREX_TEST_POSTGRES_URL`` names the server's maintenance database
(default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

for _module in ("sqlalchemy", "alembic"):
    pytest.importorskip(_module, reason="the storage tests need the 'serve' extra installed")

from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from storex.serve.db import (  # noqa: E402
    Item,
    create_user,
    make_engine,
    make_session_factory,
    upgrade_database,
)
from storex.serve.db.models import Base  # noqa: E402
from tests.serve.test_api_support import (  # noqa: E402
    VERSIONS,
    publish,
    seed_shop,
    serving,
    settings,
)

POSTGRES_ENV = "STOREX_TEST_POSTGRES_URL"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An autocommit engine on the server's maintenance database; skips if none answers."""
    pytest.importorskip("psycopg", reason="the PostgreSQL tests need psycopg (the 'serve' extra)")
    url = make_url(os.environ.get(POSTGRES_ENV, DEFAULT_POSTGRES))
    engine = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        engine.dispose()
        pytest.skip(
            f"PostgreSQL is not reachable at {url.host}:{url.port or 5432} "
            f"({type(exc.orig).__name__}); set {POSTGRES_ENV} to a server's maintenance database"
        )
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_url(postgres_admin: Engine) -> Iterator[str]:
    """A uniquely named, migrated database for this test session, dropped at the end."""
    name = f"storex_test_{secrets.token_hex(6)}"  # lower-case hex: a safe identifier
    with postgres_admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_database(url)
        yield url
    finally:
        with postgres_admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file, not yet migrated."""
    return f"sqlite:///{tmp_path / 'storex.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'storex.db'}"
        upgrade_database(url)
        return url
    url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with make_session_factory(engine)() as session:
        yield session


@pytest.fixture
def shop(session: Session) -> dict[str, list[int]]:
    """Two users and four items, committed; returns their ids."""
    users = [create_user(session, "alice", age=31, gender="F"), create_user(session, "bob")]
    items = [
        Item(external_id="i1", title="Toy Story (1995)", categories=["Animation", "Comedy"],
             price=9.99, year=1995),
        Item(external_id="i2", title="Heat (1995)", categories=["Action", "Crime"],
             price=14.5, in_stock=False),
        Item(external_id="i3", title="Les Misérables", categories=["Drama", "Musical"],
             price=None),
        Item(external_id="i4", title="100% Pure_Fun", categories=["Comédie"], price=3.0),
    ]  # fmt: skip
    session.add_all(items)
    session.commit()
    return {"users": [u.id for u in users], "items": [i.id for i in items]}


@pytest.fixture
def published_shop(db_url: str, tmp_path: Path) -> tuple[str, Path]:
    """The API tests' shop in the database beside a models folder with its first version."""
    seed_shop(db_url)
    models = tmp_path / "models"
    publish(models, VERSIONS[0])
    return db_url, models


@pytest.fixture
def api(published_shop: tuple[str, Path]) -> Iterator[httpx.Client]:
    """A real HTTP server over :func:`published_shop`, and a client of it."""
    with serving(settings(*published_shop)) as client:
        yield client
