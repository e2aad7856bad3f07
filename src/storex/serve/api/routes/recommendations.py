"""Recommendations, their cache refresh and score predictions.

A stored user the model was not trained on is made known to the engine with their
demographics and history on first use (cold or warm start, see the engine). Without a model
the answer is the most rated items in the database, with strategy ``popularity``.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from storex.errors import DataError
from storex.serve.api.deps import HolderDep, ServiceDep, SessionDep, WriteKey, closes_session
from storex.serve.api.lookup import find_user
from storex.serve.api.queries import items_by_external, popular_items
from storex.serve.api.schemas import (
    PredictIn,
    Prediction,
    PredictOut,
    Reason,
    RecommendationsOut,
    RecommendedItem,
    RefreshOut,
)
from storex.serve.api.service import Service
from storex.serve.db import Item, User
from storex.serve.engine import Recommendations

router = APIRouter(tags=["recommendations"])
MAX_N = 100


@router.get("/api/recommendations/{user_id}", response_model=RecommendationsOut)
@closes_session
def recommend(
    user_id: str,
    session: SessionDep,
    service: ServiceDep,
    n: Annotated[int, Query(ge=1, le=MAX_N)] = 10,
    exclude_rated: bool = True,
    category: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    min_price: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
    max_price: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
    in_stock: Annotated[bool | None, Query(description="true: only items in stock")] = None,
    explain: bool = False,
) -> RecommendationsOut:
    """Top-``n`` items for a stored user, with strategy, confidence and model version."""
    if min_price is not None and max_price is not None and min_price > max_price:
        raise DataError(
            f"min_price {min_price:g} is above max_price {max_price:g}", column="min_price"
        )
    user = find_user(session, user_id)
    filters = {
        "category": category,
        "min_price": min_price,
        "max_price": max_price,
        "in_stock_only": bool(in_stock),
    }
    if service.holder is None:
        return _popular(service, session, user, n, exclude_rated, filters)
    service.ensure_user(session, user)
    session.close()  # end the read transaction while the engine works (SQLite locks it)
    answer = service.holder.recommend(
        user.external_id, n, exclude_rated=exclude_rated, explain=explain, **filters
    )
    service.metrics.observe_answer(answer.strategy, answer.cached)
    return _render(session, answer)


router.add_api_route(
    "/recommend/{user_id}/",
    recommend,
    methods=["GET"],
    response_model=RecommendationsOut,
    summary="Recommend (short alias of /api/recommendations/{user_id})",
)


@router.post(
    "/api/recommendations/{user_id}/refresh", response_model=RefreshOut, dependencies=[WriteKey]
)
@closes_session
def refresh(user_id: str, session: SessionDep, service: ServiceDep) -> RefreshOut:
    """Drop the user's cached answers: the next request computes afresh."""
    find_user(session, user_id)
    holder = service.holder
    if holder is None:
        return RefreshOut(user_id=user_id, model_version=None, cache_dropped=False)
    engine = holder.engine
    engine.cache.drop_user(engine.version, user_id)
    return RefreshOut(user_id=user_id, model_version=engine.version, cache_dropped=True)


@router.post("/api/predict", response_model=PredictOut)
@closes_session
def predict(
    body: PredictIn, session: SessionDep, service: ServiceDep, holder: HolderDep
) -> PredictOut:
    """The model's scores of the given items for a stored user (None: cannot be scored)."""
    user = find_user(session, body.user_id)
    service.ensure_user(session, user)
    session.close()
    engine = holder.engine
    scores = engine.predict_batch(user.external_id, body.item_ids)
    return PredictOut(
        user_id=body.user_id,
        model_version=engine.version,
        predictions=[
            Prediction(item_id=item, score=None if math.isnan(score) else score)
            for item, score in zip(body.item_ids, scores, strict=True)
        ],
    )


def _render(session: Session, answer: Recommendations) -> RecommendationsOut:
    ids = answer.item_ids + [b.item_id for item in answer.items for b in item.because]
    rows = items_by_external(session, ids)
    return RecommendationsOut(
        user_id=answer.user_id,
        strategy=answer.strategy,
        confidence=answer.confidence,
        model_version=answer.model_version,
        cached=answer.cached,
        items=[
            _item(
                rows.get(item.item_id),
                item.item_id,
                item.score,
                [
                    Reason(
                        item_id=b.item_id,
                        title=_title(rows.get(b.item_id)),
                        weight=b.weight,
                        rating=b.rating,
                        method=b.method,
                    )
                    for b in item.because
                ],
            )
            for item in answer.items
        ],
    )


def _popular(
    service: Service,
    session: Session,
    user: User,
    n: int,
    exclude_rated: bool,
    filters: dict[str, object],
) -> RecommendationsOut:
    rows = popular_items(
        session,
        n,
        exclude_user_id=user.id if exclude_rated else None,
        **filters,  # type: ignore[arg-type]
    )
    service.metrics.observe_answer("popularity", False)
    return RecommendationsOut(
        user_id=user.external_id,
        strategy="popularity",
        confidence=0.0,
        model_version=None,
        cached=False,
        items=[_item(item, item.external_id, float(count)) for item, count in rows],
    )


def _item(
    row: Item | None, item_id: str, score: float, because: list[Reason] | None = None
) -> RecommendedItem:
    return RecommendedItem(
        because=because or [],
        id=item_id,
        title=_title(row),
        score=score,
        categories=[] if row is None else list(row.categories or []),
        price=None if row is None else row.price,
        in_stock=None if row is None else row.in_stock,
    )


def _title(row: Item | None) -> str | None:
    return None if row is None else row.title
