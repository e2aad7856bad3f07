"""What the dashboard shows of the model in service: facts, evaluation, curves, examples.

Everything is read from the running service (the engine's bundle, the registry, the
database for item titles), the same state the API answers from.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from storex.io import read_json
from storex.serve.api.service import Service
from storex.serve.db import items_by_external
from storex.serve.engine import EngineHolder, Recommendations
from storex.serve.web.charts import Chart, training_charts
from storex.serve.web.evaluation import Evaluation, load_evaluation

log = logging.getLogger(__name__)
SAMPLE_USERS = 3
EXAMPLE_ITEMS = 5


@dataclass(frozen=True)
class ModelFacts:
    name: str
    version: str
    trained: str
    dataset: str
    model: str
    fingerprint: str
    code_version: str
    params: list[tuple[str, str]]
    counts: dict[str, int]


@dataclass(frozen=True)
class ExampleItem:
    item_id: str
    title: str
    because: str | None


@dataclass(frozen=True)
class Example:
    user_id: str
    strategy: str
    items: list[ExampleItem]


@dataclass(frozen=True)
class ModelView:
    """The dashboard's model sections; ``facts`` is None when no model is loaded."""

    facts: ModelFacts | None = None
    evaluation: Evaluation = field(default_factory=Evaluation)
    charts: list[Chart] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)


def model_view(service: Service, session: Session) -> ModelView:
    holder = service.holder
    if holder is None:
        return ModelView()
    bundle = holder.engine.bundle
    info = bundle.info
    data = bundle.data
    facts = ModelFacts(
        name=service.model_name() or str(info.get("name") or ""),
        version=holder.version,
        trained=format_time(info.get("created")),
        dataset=str(info.get("dataset") or "—"),
        model=str(info.get("model") or bundle.model.name),
        fingerprint=str(info.get("data_fingerprint") or "—"),
        code_version=str(info.get("code_version") or "—"),
        params=flatten(dict(info.get("params") or {})),
        counts={
            "users": data.num_users,
            "items": data.num_items,
            "edges": int(data.train.shape[1]),
        },
    )
    history = info.get("history")
    return ModelView(
        facts=facts,
        evaluation=load_evaluation(bundle.path, info),
        charts=training_charts(history if isinstance(history, list) else []),
        examples=examples(holder, session),
    )


def examples(holder: EngineHolder, session: Session) -> list[Example]:
    """Top items (with a reason) for the most active training users."""
    bundle = holder.engine.bundle
    if bundle.data.num_users == 0:
        return []
    degree = np.bincount(bundle.data.train[0].numpy(), minlength=bundle.data.num_users)
    users = [bundle.user_map.external(int(i)) for i in np.argsort(-degree, kind="stable")]
    answers = [holder.recommend(user, EXAMPLE_ITEMS, explain=True) for user in users[:SAMPLE_USERS]]
    ids = [item.item_id for a in answers for item in a.items]
    ids += [b.item_id for a in answers for item in a.items for b in item.because]
    rows = items_by_external(session, ids)
    titles = {k: v.title or k for k, v in rows.items()}
    return [_example(answer, titles) for answer in answers]


def model_versions(service: Service) -> dict[str, Any]:
    """Published versions of the served model name, which is current and which serves."""
    name = service.model_name()
    serving = None if service.holder is None else service.holder.version
    if name is None:
        return {"name": None, "serving": serving, "current": None, "versions": []}
    registry = service.registry
    versions = registry.versions(name)
    pointer = registry.current(name)  # rollback moves this pointer, so it needs one
    current = pointer or (versions[-1] if versions else None)
    rows = []
    for version in reversed(versions):
        info = _info(registry.root / name / version / "bundle.json")
        rows.append(
            {
                "version": version,
                "trained": format_time(info.get("created")),
                "model": info.get("model"),
                "serving": version == serving,
                "current": version == current,
            }
        )
    position = versions.index(pointer) if pointer in versions else -1
    return {
        "name": name,
        "serving": serving,
        "current": current,
        "versions": rows,
        "can_roll_back": position > 0,
    }


def flatten(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested hyperparameters as ``("train.lr", "0.01")`` rows, in their given order."""
    rows: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows += flatten(value, f"{name}.")
        else:
            rows.append((name, "—" if value is None else str(value)))
    return rows


def format_time(value: Any) -> str:
    """An ISO timestamp as ``2025-01-31 14:05 UTC`` (as given when it does not parse)."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    zone = moment.tzname() or ""
    return moment.strftime("%Y-%m-%d %H:%M") + (" UTC" if zone in ("UTC", "UTC+00:00") else "")


def _example(answer: Recommendations, titles: Mapping[str, str]) -> Example:
    items = [
        ExampleItem(
            item_id=item.item_id,
            title=titles.get(item.item_id, item.item_id),
            because=titles.get(item.because[0].item_id, item.because[0].item_id)
            if item.because
            else None,
        )
        for item in answer.items
    ]
    return Example(answer.user_id, answer.strategy, items)


def _info(path: Any) -> dict[str, Any]:
    try:
        content = read_json(path)
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return {}
    return content if isinstance(content, dict) else {}
