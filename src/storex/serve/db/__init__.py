"""Storage of the recommendation service: engine, tables, migrations, crud and loading.

SQLite is the default (``sqlite:///storex.db``); PostgreSQL works the same through
``postgresql://`` URLs (driven by psycopg).
"""

from storex.serve.db.crud import (
    Page,
    RatingStats,
    create_rating,
    create_user,
    delete_rating,
    get_item,
    get_item_by_external,
    get_rating,
    get_user,
    get_user_by_external,
    list_items,
    list_user_ratings,
    rating_stats,
    search_items,
    update_rating,
)
from storex.serve.db.engine import DEFAULT_URL, make_engine, make_session_factory
from storex.serve.db.errors import DuplicateError
from storex.serve.db.loading import init_database, load_store
from storex.serve.db.migrate import current_revision, head_revision, upgrade_database
from storex.serve.db.models import Base, Item, Rating, User

__all__ = [
    "DEFAULT_URL",
    "Base",
    "DuplicateError",
    "Item",
    "Page",
    "Rating",
    "RatingStats",
    "User",
    "create_rating",
    "create_user",
    "current_revision",
    "delete_rating",
    "get_item",
    "get_item_by_external",
    "get_rating",
    "get_user",
    "get_user_by_external",
    "head_revision",
    "init_database",
    "list_items",
    "list_user_ratings",
    "load_store",
    "make_engine",
    "make_session_factory",
    "rating_stats",
    "search_items",
    "update_rating",
    "upgrade_database",
]
