"""Session recommendations for the service: external ids in, ranked external ids out.

Items the model does not know are left out of the session and reported; after that the
session is read the way training read it (consecutive repeats merged, latest ``max_length``
steps). A session with nothing left (empty, or only unknown items) gets the most popular
training items, with the strategy ``popularity`` so callers can tell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from storex.errors import ConfigError, DataError
from storex.idmap import IdMap
from storex.sessions.evaluation import SessionScorer
from storex.sessions.export import ONNX_FILE, OnnxSessionScorer, export_onnx
from storex.sessions.recommender import SessionRecommender
from storex.sessions.samples import pad_session
from storex.sessions.table import EVENT_TYPES

MODEL_STRATEGY = "session_model"
POPULARITY_STRATEGY = "popularity"
BACKENDS = ("torch", "onnx")


@dataclass(frozen=True)
class SessionRecommendations:
    """One answer: items best first with their scores, how they were chosen, and what was
    ignored."""

    items: list[str]
    scores: list[float]
    strategy: str
    unknown_items: list[str] = field(default_factory=list)
    model_version: str = ""


class SessionEngine:
    """Answers ``recommend(session_items, k)`` from a scorer and the model's item ids.

    Parameters
    ----------
    scorer
        A :class:`SessionRecommender` or an :class:`OnnxSessionScorer` of the same model.
    item_map, popularity, max_length, version
        The model's item ids, training popularity, window and version.
    """

    def __init__(
        self,
        scorer: SessionScorer,
        item_map: IdMap,
        popularity: np.ndarray,
        max_length: int,
        version: str = "",
    ) -> None:
        if popularity.shape != (len(item_map),):
            raise ConfigError(f"{len(item_map)} items but {popularity.shape[0]} popularity counts")
        self.scorer = scorer
        self.item_map = item_map
        self.max_length = max_length
        self.version = version
        self.popular = np.argsort(-popularity, kind="stable")
        self.popular_scores = popularity[self.popular]

    @classmethod
    def load(cls, folder: str | Path, backend: str = "torch") -> SessionEngine:
        """A saved model folder; ``backend="onnx"`` scores with ONNX Runtime (the model is
        exported to ``model.onnx`` in the folder on first use)."""
        if backend not in BACKENDS:
            raise ConfigError(f"backend must be one of {BACKENDS}, got {backend!r}")
        model = SessionRecommender.load(folder)
        scorer: SessionScorer = model
        if backend == "onnx":
            onnx_path = Path(folder) / ONNX_FILE
            if not onnx_path.is_file():
                export_onnx(model, onnx_path)
            scorer = OnnxSessionScorer(onnx_path, name=model.name)
        return cls(scorer, model.item_map, model.popularity, model.max_length, model.version_)

    @property
    def num_items(self) -> int:
        return len(self.item_map)

    def recommend(
        self, session_items: Sequence[str], k: int = 10, events: Sequence[str] | None = None
    ) -> SessionRecommendations:
        """Top ``k`` items after the session (see the module docstring)."""
        return self.recommend_batch([session_items], k, None if events is None else [events])[0]

    def recommend_batch(
        self,
        sessions: Sequence[Sequence[str]],
        k: int = 10,
        events: Sequence[Sequence[str] | None] | None = None,
    ) -> list[SessionRecommendations]:
        """:meth:`recommend` for several sessions, scored in one pass."""
        if k < 1:
            raise DataError(f"k must be >= 1, got {k}", column="k")
        events = events if events is not None else [None] * len(sessions)
        if len(events) != len(sessions):
            raise DataError(f"{len(sessions)} sessions but {len(events)} event lists")
        parsed = [
            self._parse(list(s), e, n)
            for n, (s, e) in enumerate(zip(sessions, events, strict=True))
        ]
        readable = [n for n, (steps, _, _) in enumerate(parsed) if steps]
        answers: dict[int, SessionRecommendations] = {}
        if readable:
            rows = [pad_session(*parsed[n][:2], max_length=self.max_length) for n in readable]
            items = torch.cat([row[0] for row in rows])
            kinds = torch.cat([row[1] for row in rows])
            with torch.no_grad():
                top = torch.topk(self.scorer.scores(items, kinds), min(k, self.num_items), dim=1)
            for row, n in enumerate(readable):
                answers[n] = SessionRecommendations(
                    [self.item_map.external(int(i)) for i in top.indices[row]],
                    [float(v) for v in top.values[row]],
                    MODEL_STRATEGY,
                    parsed[n][2],
                    self.version,
                )
        return [
            answers[n] if n in answers else self._popular(k, unknown)
            for n, (_, _, unknown) in enumerate(parsed)
        ]

    def _parse(
        self, session: list[str], events: Sequence[str] | None, number: int
    ) -> tuple[list[int], list[int], list[str]]:
        """Known steps (repeats merged, latest window), their event codes, unknown ids."""
        if events is not None and len(events) != len(session):
            raise DataError(
                f"session {number}: {len(session)} items but {len(events)} events",
                column="events",
            )
        codes = [self._event_code(e, number) for e in events] if events is not None else None
        steps: list[int] = []
        kinds: list[int] = []
        unknown: list[str] = []
        for position, external in enumerate(session):
            index = self.item_map.get(external)
            if index is None:
                if external not in unknown:
                    unknown.append(external)
                continue
            code = codes[position] if codes is not None else 0
            if steps and steps[-1] == index:
                kinds[-1] = max(kinds[-1], code)
                continue
            steps.append(index)
            kinds.append(code)
        return steps[-self.max_length :], kinds[-self.max_length :], unknown

    def _popular(self, k: int, unknown: list[str]) -> SessionRecommendations:
        top = self.popular[:k]
        return SessionRecommendations(
            [self.item_map.external(int(i)) for i in top],
            [float(v) for v in self.popular_scores[:k]],
            POPULARITY_STRATEGY,
            unknown,
            self.version,
        )

    @staticmethod
    def _event_code(event: str, number: int) -> int:
        if event not in EVENT_TYPES:
            raise DataError(
                f"session {number}: unknown event {event!r}; expected one of {list(EVENT_TYPES)}",
                column="events",
            )
        return EVENT_TYPES.index(event)
