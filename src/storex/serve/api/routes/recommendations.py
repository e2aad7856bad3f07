"""Recommendations, their cache refresh and score predictions.

A stored user the model was not trained on is made known to the engine with their
demographics and history on first use (cold or warm start, see the engine). Without a model
the answer is the most rated items in the database, with strategy ``popularity``.
The ``items`` query parameter limits either answer to the listed ids; ids no stored item has
are ignored and listed in ``unknown_items``.

The recommendation handler runs on the event loop: for a user the service already knows
(see :meth:`Service.is_ready`) an answer is an engine call and a JSON encoding, with no
database round trip and no hop to a worker thread; everything that reads the database
runs in a worker thread.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from storex.errors import DataError
from storex.serve.api.cards import card_of, encode_recommendations
from storex.serve.api.deps import (
    HolderDep,
    ReadSessionDep,
    ServiceDep,
    WriteKey,
    closes_session,
)
from storex.serve.api.lookup import find_user
from storex.serve.api.query import query_parameters, read_query
from storex.serve.api.schemas import (
    PredictIn,
    Prediction,
    PredictOut,
    RecommendationsOut,
    RecommendQuery,
    RefreshOut,
)
from storex.serve.api.service import Service
from storex.serve.db import popular_items
from storex.serve.engine import ScoredItem

router = APIRouter(tags=["recommendations"])
JSON = "application/json"


@router.get(
    "/api/recommendations/{user_id}",
    response_model=RecommendationsOut,
    openapi_extra={"parameters": query_parameters(RecommendQuery)},
)
async def recommend(user_id: str, request: Request) -> Response:
    """Top-``n`` items for a stored user, with strategy, confidence and model version."""
    query = read_query(RecommendQuery, request)
    n, exclude_rated, explain = query.n, query.exclude_rated, query.explain
    min_price, max_price = query.min_price, query.max_price
    if min_price is not None and max_price is not None and min_price > max_price:
        raise DataError(
            f"min_price {min_price:g} is above max_price {max_price:g}", column="min_price"
        )
    service: Service = request.app.state.service
    allowed = query.allowed_items()
    filters: dict[str, Any] = {
        "category": query.category,
        "min_price": min_price,
        "max_price": max_price,
        "in_stock_only": bool(query.in_stock),
        "allowed_items": allowed,
    }
    holder = service.holder
    if holder is None:
        body = await run_in_threadpool(_popular, service, user_id, n, exclude_rated, filters)
        return Response(body, media_type=JSON)
    if not service.is_ready(user_id):
        await run_in_threadpool(service.prepare_user, user_id)
    unknown = [] if allowed is None else service.cards.missing(allowed)
    if unknown:  # the database may hold items stored since the cards were made
        unknown = await run_in_threadpool(service.unknown_items, unknown)
    answer = holder.recommend(user_id, n, exclude_rated=exclude_rated, explain=explain, **filters)
    service.metrics.observe_answer(answer.strategy, answer.cached)
    shown = answer.item_ids + [b.item_id for item in answer.items for b in item.because]
    cards = service.cards.pick(shown)
    if len(cards) < len(set(shown)):  # items the engine's catalog lacks: ask the database
        cards = await run_in_threadpool(service.describe, shown)
    body = encode_recommendations(
        user_id=answer.user_id,
        strategy=answer.strategy,
        confidence=answer.confidence,
        model_version=answer.model_version,
        cached=answer.cached,
        items=answer.items,
        cards=cards,
        unknown_items=unknown,
    )
    return Response(body, media_type=JSON)


router.add_api_route(
    "/recommend/{user_id}/",
    recommend,
    methods=["GET"],
    response_model=RecommendationsOut,
    summary="Recommend (short alias of /api/recommendations/{user_id})",
    openapi_extra={"parameters": query_parameters(RecommendQuery)},
)


@router.post(
    "/api/recommendations/{user_id}/refresh", response_model=RefreshOut, dependencies=[WriteKey]
)
@closes_session
def refresh(user_id: str, session: ReadSessionDep, service: ServiceDep) -> RefreshOut:
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
    body: PredictIn, session: ReadSessionDep, service: ServiceDep, holder: HolderDep
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


def _popular(
    service: Service, user_id: str, n: int, exclude_rated: bool, filters: dict[str, Any]
) -> bytes:
    with service.read_session() as session:
        user = find_user(session, user_id)
        exclude = user.id if exclude_rated else None
        rows = popular_items(session, n, exclude_user_id=exclude, **filters)
    allowed = filters["allowed_items"]
    unknown = [] if allowed is None else service.unknown_items(allowed)
    service.metrics.observe_answer("popularity", False)
    return encode_recommendations(
        user_id=user_id,
        strategy="popularity",
        confidence=0.0,
        model_version=None,
        cached=False,
        items=[ScoredItem(item.external_id, float(count)) for item, count in rows],
        cards={item.external_id: card_of(item) for item, _ in rows},
        unknown_items=unknown,
    )
