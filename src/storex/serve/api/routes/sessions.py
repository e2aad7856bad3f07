"""Recommendations for anonymous sessions: the next items after what a visitor just viewed.

The session model lives in ``app.state.session_recommender`` (a
:class:`storex.sessions.SessionEngine`); without one the routes answer 503. Unknown items are
ignored and listed in the answer; a session with no known item gets the popular items with
the strategy ``popularity``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from storex.serve.api.errors import ModelUnavailableError
from storex.sessions.engine import SessionEngine, SessionRecommendations
from storex.sessions.table import EVENT_TYPES

router = APIRouter(tags=["sessions"])
MAX_K = 100
MAX_SESSION_ITEMS = 200
MAX_BATCH = 100
ItemId = Annotated[str, Field(min_length=1, max_length=128)]
EventName = Annotated[str, Field(pattern="^(" + "|".join(EVENT_TYPES) + ")$")]


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    session_items: list[ItemId] = Field(
        max_length=MAX_SESSION_ITEMS, description="Items of the session, oldest first."
    )
    events: list[EventName] | None = Field(
        None,
        max_length=MAX_SESSION_ITEMS,
        description="Event of each item (view, cart, purchase); all views when left out.",
    )
    k: int = Field(10, ge=1, le=MAX_K)

    @model_validator(mode="after")
    def _events_match_items(self) -> SessionRequest:
        if self.events is not None and len(self.events) != len(self.session_items):
            raise ValueError(
                f"events has {len(self.events)} entries for {len(self.session_items)} items"
            )
        return self


class SessionBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sessions: list[SessionRequest] = Field(min_length=1, max_length=MAX_BATCH)


class ScoredItem(BaseModel):
    item_id: str
    score: float


class SessionAnswer(BaseModel):
    items: list[ScoredItem]
    strategy: str = Field(description="session_model, or popularity when no item was known.")
    unknown_items: list[str]
    model_version: str

    @classmethod
    def of(cls, answer: SessionRecommendations) -> SessionAnswer:
        return cls(
            items=[
                ScoredItem(item_id=item, score=score)
                for item, score in zip(answer.items, answer.scores, strict=True)
            ],
            strategy=answer.strategy,
            unknown_items=answer.unknown_items,
            model_version=answer.model_version,
        )


class SessionBatchAnswer(BaseModel):
    results: list[SessionAnswer]


def get_session_engine(request: Request) -> SessionEngine:
    """The session model in service; 503 when none is loaded."""
    engine = getattr(request.app.state, "session_recommender", None)
    if engine is None:
        raise ModelUnavailableError("no session model is loaded: session recommendations are off")
    return engine


SessionEngineDep = Annotated[SessionEngine, Depends(get_session_engine)]


@router.post("/recommend", response_model=SessionAnswer)
def recommend_session(
    body: SessionRequest, engine: SessionEngineDep, request: Request
) -> SessionAnswer:
    """The next items for one anonymous session."""
    answer = engine.recommend(body.session_items, body.k, body.events)
    _count(request, [answer])
    return SessionAnswer.of(answer)


@router.post("/recommend/batch", response_model=SessionBatchAnswer)
def recommend_sessions(
    body: SessionBatchRequest, engine: SessionEngineDep, request: Request
) -> SessionBatchAnswer:
    """The next items for several sessions, scored together."""
    k_max = max(s.k for s in body.sessions)
    answers = engine.recommend_batch(
        [s.session_items for s in body.sessions], k_max, [s.events for s in body.sessions]
    )
    answers = [
        replace(answer, items=answer.items[: s.k], scores=answer.scores[: s.k])
        for answer, s in zip(answers, body.sessions, strict=True)
    ]
    _count(request, answers)
    return SessionBatchAnswer(results=[SessionAnswer.of(a) for a in answers])


def _count(request: Request, answers: list[SessionRecommendations]) -> None:
    """Answers by strategy in the service's metrics, when the app has a service."""
    service = getattr(request.app.state, "service", None)
    if service is not None:
        for answer in answers:
            service.metrics.observe_answer(answer.strategy, False)
