"""Request and response bodies of the API, kept apart from the database tables."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from storex.serve.db import RatingStats
from storex.serve.db.crud import MAX_PRICE
from storex.serve.db.models import RATING_MAX, RATING_MIN, Item, Rating, User

MAX_PAGE = 100
MAX_N = 100
NO_NUL = r"^[^\x00]*$"  # free text: no database stores NUL the same way (PostgreSQL refuses it)
ITEM_ID = r"^[A-Za-z0-9._:@-]+$"
RESERVED_ITEM_IDS = frozenset({"search"})  # GET /api/items/search is not an item
MAX_TITLE = 500
MAX_NAME = 200
MAX_URL = 2048
MAX_CATEGORIES = 50
MAX_ALLOWED_ITEMS = 2000
Category = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# ---- users -------------------------------------------------------------------------------


class UserCreate(_Body):
    external_id: str | None = Field(
        None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$"
    )
    age: int | None = Field(None, ge=1, le=120)
    gender: str | None = Field(None, pattern=r"^(M|F|O)$", description="M, F or O.")
    occupation: str | None = Field(None, min_length=1, max_length=64, pattern=NO_NUL)
    zip: str | None = Field(None, pattern=r"^[A-Za-z0-9 -]{2,10}$")

    def demographics(self) -> dict[str, Any]:
        return self.model_dump(exclude={"external_id"}, exclude_none=True)


class UserOut(BaseModel):
    id: str
    age: int | None
    gender: str | None
    occupation: str | None
    zip: str | None
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.external_id,
            age=user.age,
            gender=user.gender,
            occupation=user.occupation,
            zip=user.zip,
            created_at=user.created_at,
        )


# ---- ratings -----------------------------------------------------------------------------


class RatingCreate(_Body):
    user_id: str = Field(min_length=1, max_length=128, pattern=NO_NUL)
    item_id: str = Field(min_length=1, max_length=128, pattern=NO_NUL)
    rating: float = Field(ge=RATING_MIN, le=RATING_MAX, allow_inf_nan=False)


class RatingUpdate(_Body):
    rating: float = Field(ge=RATING_MIN, le=RATING_MAX, allow_inf_nan=False)


class RatingOut(BaseModel):
    id: int
    user_id: str
    item_id: str
    rating: float
    event: str
    created_at: datetime
    updated_at: datetime | None

    @classmethod
    def of(cls, rating: Rating, user_id: str, item_id: str) -> RatingOut:
        return cls(
            id=rating.id,
            user_id=user_id,
            item_id=item_id,
            rating=rating.rating,
            event=rating.event,
            created_at=rating.created_at,
            updated_at=rating.updated_at,
        )


class RatingPage(BaseModel):
    user_id: str
    ratings: list[RatingOut]
    total: int
    limit: int
    offset: int


class RatingStatsOut(BaseModel):
    count: int
    mean: float | None
    histogram: dict[str, int]
    users: int
    items: int

    @classmethod
    def of(cls, stats: RatingStats) -> RatingStatsOut:
        return cls(
            count=stats.count,
            mean=stats.mean,
            histogram={f"{k:g}": v for k, v in stats.histogram.items()},
            users=stats.users,
            items=stats.items,
        )


# ---- items -------------------------------------------------------------------------------


class ItemOut(BaseModel):
    id: str
    title: str | None
    year: int | None
    categories: list[str]
    brand: str | None
    price: float | None
    in_stock: bool
    url: str | None

    @classmethod
    def of(cls, item: Item) -> ItemOut:
        return cls(
            id=item.external_id,
            title=item.title,
            year=item.year,
            categories=list(item.categories or []),
            brand=item.brand,
            price=item.price,
            in_stock=item.in_stock,
            url=item.url,
        )


class ItemFields(_Body):
    """An item's metadata as a client sends it; limits keep every field storable anywhere."""

    title: str | None = Field(None, min_length=1, max_length=MAX_TITLE, pattern=NO_NUL)
    year: int | None = Field(None, ge=1, le=9999)
    categories: list[Category] = Field([], max_length=MAX_CATEGORIES)
    brand: str | None = Field(None, min_length=1, max_length=MAX_NAME, pattern=NO_NUL)
    price: float | None = Field(None, ge=0, le=MAX_PRICE, allow_inf_nan=False)
    in_stock: bool = True
    url: str | None = Field(None, max_length=MAX_URL, pattern=r"^https?://[^\s\x00]+$")

    @field_validator("price")
    @classmethod
    def _cents(cls, price: float | None) -> float | None:
        """The table keeps two decimals: more would be rounded away without a word."""
        if price is not None and round(price, 2) != price:
            raise ValueError(f"price has more than 2 decimal places: {price!r}")
        return price


class ItemCreate(ItemFields):
    id: str = Field(
        min_length=1,
        max_length=128,
        pattern=ITEM_ID,
        description="Letters, digits and . _ : @ - (no comma: `items=` lists ids by commas).",
    )

    @field_validator("id")
    @classmethod
    def _not_a_route(cls, item_id: str) -> str:
        if item_id in RESERVED_ITEM_IDS:
            raise ValueError(f"{item_id!r} names a route under /api/items")
        return item_id

    def metadata(self) -> dict[str, Any]:
        return self.model_dump(exclude={"id"})


class ItemUpdate(ItemFields):
    """The fields to change: fields left out keep their value, null clears one."""

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class ItemStored(ItemOut):
    recommendable: bool = Field(
        description="Whether recommendations can include it now: false when the model in "
        "service cannot score items it was not trained with (the item is still in the catalog, "
        "its filters and search). Without a model, answers rank every stored item."
    )

    @classmethod
    def of_stored(cls, item: Item, recommendable: bool) -> ItemStored:
        return cls(**ItemOut.of(item).model_dump(), recommendable=recommendable)


class ItemPage(BaseModel):
    items: list[ItemOut]
    total: int
    limit: int
    offset: int


class SimilarItem(BaseModel):
    id: str
    title: str | None
    score: float


class SimilarItems(BaseModel):
    item_id: str
    model_version: str
    items: list[SimilarItem]


# ---- recommendations ---------------------------------------------------------------------


class RecommendQuery(BaseModel):
    """The query of ``GET /api/recommendations/{user_id}`` (unknown names are ignored)."""

    model_config = ConfigDict(extra="ignore")

    n: int = Field(10, ge=1, le=MAX_N, description="How many items.")
    exclude_rated: bool = Field(True, description="Leave out items the user interacted with.")
    category: str | None = Field(None, min_length=1, max_length=100)
    min_price: float | None = Field(None, ge=0, allow_inf_nan=False)
    max_price: float | None = Field(None, ge=0, allow_inf_nan=False)
    in_stock: bool | None = Field(None, description="true: only items in stock.")
    explain: bool = Field(False, description="Say why each item was chosen.")
    items: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_ALLOWED_ITEMS * 129,
        description=f"Comma-separated item ids (at most {MAX_ALLOWED_ITEMS}): only these can "
        "be recommended. Ids the catalog lacks are ignored and listed in `unknown_items`.",
    )

    @field_validator("items")
    @classmethod
    def _item_list(cls, items: str | None) -> str | None:
        """Checked once here and kept as ``id,id,...`` without spaces or repeats."""
        if items is None:
            return None
        ids = [part.strip() for part in items.split(",")]
        for position, item in enumerate(ids):
            if not item:
                raise ValueError(f"entry {position} is empty")
            if "\x00" in item:
                raise ValueError(f"entry {position} holds a NUL character")
        unique = list(dict.fromkeys(ids))
        if len(unique) > MAX_ALLOWED_ITEMS:
            raise ValueError(f"{len(unique)} item ids, at most {MAX_ALLOWED_ITEMS} are allowed")
        return ",".join(unique)

    def allowed_items(self) -> list[str] | None:
        """The ``items`` ids, in order without repeats; None when not given."""
        return None if self.items is None else self.items.split(",")


class Reason(BaseModel):
    item_id: str
    title: str | None
    weight: float
    rating: float | None
    method: str


class RecommendedItem(BaseModel):
    id: str
    title: str | None
    score: float
    categories: list[str]
    price: float | None
    in_stock: bool | None
    because: list[Reason] = []


class RecommendationsOut(BaseModel):
    user_id: str
    strategy: str
    confidence: float
    model_version: str | None
    cached: bool
    items: list[RecommendedItem]
    unknown_items: list[str] = Field(
        [], description="Ids of the `items` query parameter the catalog does not have."
    )


class RefreshOut(BaseModel):
    user_id: str
    model_version: str | None
    cache_dropped: bool


class PredictIn(_Body):
    user_id: str = Field(min_length=1, max_length=128, pattern=NO_NUL)
    item_ids: list[Annotated[str, Field(pattern=NO_NUL)]] = Field(min_length=1, max_length=1000)

    @field_validator("item_ids")
    @classmethod
    def _ids_not_blank(cls, ids: list[str]) -> list[str]:
        for position, item in enumerate(ids):
            if not item.strip():
                raise ValueError(f"item_ids[{position}] is empty")
        return ids


class Prediction(BaseModel):
    item_id: str
    score: float | None = Field(description="None when the model cannot score the item.")


class PredictOut(BaseModel):
    user_id: str
    model_version: str
    predictions: list[Prediction]


# ---- system ------------------------------------------------------------------------------


class GraphState(BaseModel):
    users: int
    items: int
    training_edges: int
    live_users: int
    added_items: int


class Health(BaseModel):
    status: str
    version: str
    database: bool
    model_loaded: bool
    model_version: str | None
    graph: GraphState | None
    session_model_loaded: bool = Field(
        False, description="Whether POST /recommend answers from a session model."
    )
    session_model_version: str | None = None


class ModelInfo(BaseModel):
    name: str
    version: str
    created: str | None
    model: str | None
    dataset: str | None
    params: dict[str, Any]
    metrics: dict[str, Any]
    code_version: str | None
    registry_versions: list[str]
    registry_current: str | None
    stats: dict[str, Any]


class ModelChange(BaseModel):
    previous: str | None
    version: str
    swapped: bool


# ---- errors ------------------------------------------------------------------------------


class Problem(BaseModel):
    """Every error answer: what went wrong, in one sentence naming the input at fault."""

    detail: str


class FieldProblem(BaseModel):
    loc: list[str | int]
    msg: str | None
    type: str | None


class ValidationProblem(Problem):
    """A 422: input the schema refuses (``detail`` joins the ``errors``) or that the service
    cannot take (a value out of range, say; ``detail`` only)."""

    errors: list[FieldProblem] = []


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationProblem, "description": "Input that cannot be taken"},
    "default": {"model": Problem, "description": "Any other error (401, 403, 404, 409, 503)"},
}
