"""Health, model information, Prometheus metrics and model administration."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

import storex
from storex.serve.api.deps import AdminKey, HolderDep, ServiceDep
from storex.serve.api.schemas import GraphState, Health, ModelChange, ModelInfo
from storex.serve.db import ping
from storex.sessions.engine import SessionEngine

router = APIRouter(tags=["system"])
log = logging.getLogger(__name__)


@router.get("/api/health", response_model=Health, responses={503: {"model": Health}})
def health(service: ServiceDep, request: Request) -> JSONResponse:
    """200 while the database answers (status ``degraded`` without a model), else 503."""
    try:
        with service.read_session() as session:
            ping(session)
        database = True
    except Exception as exc:  # any failure means "not reachable" here
        log.warning("health: database check failed: %s", exc)
        database = False
    holder = service.holder
    graph = None
    if holder is not None:
        engine = holder.engine
        stats = engine.stats()
        data = engine.bundle.data
        graph = GraphState(
            users=data.num_users,
            items=data.num_items,
            training_edges=int(data.train.shape[1]),
            live_users=stats["live_users"],
            added_items=stats["added_items"],
        )
    service.metrics.model_loaded.set(holder is not None)
    status = "ok" if database and holder is not None else "degraded" if database else "down"
    sessions = getattr(request.app.state, "session_recommender", None)
    session_engine = sessions if isinstance(sessions, SessionEngine) else None
    body = Health(
        status=status,
        version=storex.__version__,
        database=database,
        model_loaded=holder is not None,
        model_version=None if holder is None else holder.version,
        graph=graph,
        session_model_loaded=session_engine is not None,
        session_model_version=None if session_engine is None else session_engine.version,
    )
    return JSONResponse(body.model_dump(), status_code=200 if database else 503)


@router.get("/api/model/info", response_model=ModelInfo)
def model_info(service: ServiceDep, holder: HolderDep) -> ModelInfo:
    """Version, training date, metrics and hyperparameters of the model in service."""
    engine = holder.engine
    info = engine.bundle.info
    name = service.model_name() or str(info.get("name") or "")
    return ModelInfo(
        name=name,
        version=engine.version,
        created=info.get("created"),
        model=info.get("model"),
        dataset=info.get("dataset"),
        params=dict(info.get("params") or {}),
        metrics=dict(info.get("metrics") or {}),
        code_version=info.get("code_version"),
        registry_versions=service.registry.versions(name) if name else [],
        registry_current=service.registry.current(name) if name else None,
        stats=engine.stats(),
    )


@router.get("/metrics", include_in_schema=False)
def metrics(service: ServiceDep) -> Response:
    service.metrics.model_loaded.set(service.holder is not None)
    return Response(service.metrics.render(), media_type=service.metrics.content_type)


@router.post("/api/model/reload", response_model=ModelChange, dependencies=[AdminKey])
def reload(service: ServiceDep) -> ModelChange:
    """Serve the registry's current version now (in-flight requests finish on the old)."""
    return ModelChange(**service.reload())


@router.post("/api/model/rollback", response_model=ModelChange, dependencies=[AdminKey])
def rollback(service: ServiceDep) -> ModelChange:
    """Make the previous version current in the registry and serve it."""
    return ModelChange(**service.rollback())
