"""Query strings validated as one Pydantic model, for the routes that answer most requests.

FastAPI validates each declared query parameter on its own, through generic code that costs
more than the recommendation itself once answers are cached. A route that reads its query
with :func:`read_query` validates it in a single call instead, and declares the model's
fields in its OpenAPI description with :func:`query_parameters`. Errors are FastAPI's
own 422 (``query.<field>: ...``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def read_query(model: type[M], request: Request) -> M:
    """The request's query as ``model`` (the last value of a repeated name counts)."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI parameter objects for the fields of ``model`` (required as the model says)."""
    schema = model.model_json_schema()
    return [
        {
            "name": name,
            "in": "query",
            "required": name in schema.get("required", ()),
            "schema": {k: v for k, v in field.items() if k != "description"},
            **({"description": field["description"]} if "description" in field else {}),
        }
        for name, field in schema["properties"].items()
    ]
