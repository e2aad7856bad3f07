"""The three tables of the shop: users, items and the ratings that join them.

Constraint names follow one naming convention so migrations and the ORM agree on SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    Text,
    UniqueConstraint,
    func,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
RATING_MIN = 1.0
RATING_MAX = 5.0
MAX_INTEGER = 2**63 - 1  # the largest integer SQLite and PostgreSQL (bigint) can take
MAX_ID = 2**31 - 1  # the largest row id: ids are PostgreSQL integers


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware.

    SQLite keeps no time zone, so values are written as naive UTC there and tagged on reading.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    age: Mapped[int | None] = mapped_column(Integer)
    gender: Mapped[str | None] = mapped_column(Text)
    occupation: Mapped[str | None] = mapped_column(Text)
    zip: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, external_id={self.external_id!r})"


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    title: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(Integer)
    categories: Mapped[list[str]] = mapped_column(
        JSON, nullable=False, default=list, server_default=text("'[]'")
    )
    url: Mapped[str | None] = mapped_column(Text)
    brand: Mapped[str | None] = mapped_column(Text)
    price: Mapped[float | None] = mapped_column(Numeric(12, 2, asdecimal=False))
    in_stock: Mapped[bool] = mapped_column(nullable=False, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, server_default=func.now()
    )

    def __repr__(self) -> str:
        return f"Item(id={self.id!r}, external_id={self.external_id!r}, title={self.title!r})"


class Rating(Base):
    __tablename__ = "ratings"
    __table_args__ = (
        CheckConstraint(f"rating >= {RATING_MIN} AND rating <= {RATING_MAX}", name="rating_range"),
        UniqueConstraint("user_id", "item_id"),
        Index("ix_ratings_user_id", "user_id"),
        Index("ix_ratings_item_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), nullable=False)
    rating: Mapped[float] = mapped_column(Float, nullable=False)
    event: Mapped[str] = mapped_column(
        Text, nullable=False, default="rating", server_default="rating"
    )
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, onupdate=utcnow)

    def __repr__(self) -> str:
        return (
            f"Rating(id={self.id!r}, user_id={self.user_id!r}, item_id={self.item_id!r}, "
            f"rating={self.rating!r})"
        )


class BatchRecommendation(Base):
    """One precomputed answer line of `storex batch recommend`: a user's item at a rank.

    Users and items are external ids, so the table stays valid while the shop's own rows
    come and go.
    """

    __tablename__ = "batch_recommendations"

    user_id: Mapped[str] = mapped_column(Text, primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(Text, nullable=False)
    score: Mapped[float] = mapped_column(Float, nullable=False)
    model_version: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
