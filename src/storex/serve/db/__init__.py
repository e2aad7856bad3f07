"""Storage of the recommendation service: engines, tables, migrations, crud, loading and
the bulk reads that prime the engine.

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
    items_by_external,
    list_items,
    list_user_ratings,
    ping,
    popular_items,
    rating_id_of,
    rating_stats,
    search_items,
    update_rating,
)
from storex.serve.db.engine import is_in_memory, make_engine, make_session_factory
from storex.serve.db.errors import DuplicateError
from storex.serve.db.loading import init_database, load_store
from storex.serve.db.migrate import current_revision, head_revision, upgrade_database
from storex.serve.db.models import Base, Item, Rating, User
from storex.serve.db.replay import (
    RatingRow,
    catalog_frame,
    count_items,
    iter_ratings,
    iter_user_ids,
    users_with_profile,
)

__all__ = [
    "Base",
    "DuplicateError",
    "Item",
    "Page",
    "Rating",
    "RatingRow",
    "RatingStats",
    "User",
    "catalog_frame",
    "count_items",
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
    "is_in_memory",
    "items_by_external",
    "iter_ratings",
    "iter_user_ids",
    "list_items",
    "list_user_ratings",
    "load_store",
    "make_engine",
    "make_session_factory",
    "ping",
    "popular_items",
    "rating_id_of",
    "rating_stats",
    "search_items",
    "update_rating",
    "upgrade_database",
    "users_with_profile",
]
