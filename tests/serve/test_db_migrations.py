"""Alembic migrations: they build exactly the schema the ORM describes, on both backends."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from storex.serve.db import current_revision, head_revision, make_engine, upgrade_database
from storex.serve.db.migrate import MIGRATIONS_DIR, alembic_config
from storex.serve.db.models import Base


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "target_metadata": Base.metadata}
        )
        return list(compare_metadata(context, Base.metadata))


def test_the_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert head_revision() == "0002"


def test_fresh_sqlite_file_is_migrated_to_head(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        assert current_revision(engine) is None
        assert upgrade_database(sqlite_url) == "0002"
        assert current_revision(engine) == "0002"
        tables = set(inspect(engine).get_table_names())
        assert {"users", "items", "ratings", "batch_recommendations", "alembic_version"} == tables
    finally:
        engine.dispose()


def test_upgrading_twice_changes_nothing(engine: Engine) -> None:
    before = _differences(engine)
    assert upgrade_database(engine) == "0002"
    assert _differences(engine) == before == []


def test_migrated_schema_matches_the_orm(engine: Engine) -> None:
    assert _differences(engine) == []


def test_schema_has_the_promised_constraints(engine: Engine) -> None:
    inspector = inspect(engine)
    assert {tuple(u["column_names"]) for u in inspector.get_unique_constraints("ratings")} == {
        ("user_id", "item_id")
    }
    assert {tuple(u["column_names"]) for u in inspector.get_unique_constraints("users")} == {
        ("external_id",)
    }
    indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes("ratings")}
    assert {("user_id",), ("item_id",)} <= indexed
    keys = {fk["referred_table"]: fk for fk in inspector.get_foreign_keys("ratings")}
    assert keys["users"]["options"].get("ondelete") == "CASCADE"
    assert keys["items"]["options"].get("ondelete") is None
    checks = inspector.get_check_constraints("ratings")
    assert [c["name"] for c in checks] == ["ck_ratings_rating_range"]
    assert {fk["name"] for fk in keys.values()} == {
        "fk_ratings_user_id_users",
        "fk_ratings_item_id_items",
    }
    assert {u["name"] for u in inspector.get_unique_constraints("ratings")} == {
        "uq_ratings_user_id_item_id"
    }


def test_downgrade_to_base_and_back(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        upgrade_database(engine)
        with engine.connect() as connection:
            command.downgrade(alembic_config(connection), "base")
            connection.commit()
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        assert current_revision(engine) is None
        assert upgrade_database(engine) == "0002"
        assert _differences(engine) == []
    finally:
        engine.dispose()
