"""Request and response bodies of the API, kept apart from the database tables."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from storex.serve.db import RatingStats
from storex.serve.db.models import RATING_MAX, RATING_MIN, Item, Rating, User

MAX_PAGE = 100
MAX_N = 100
NO_NUL = r"^[^\x00]*$"  # free text: no database stores NUL the same way (PostgreSQL refuses it)


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
