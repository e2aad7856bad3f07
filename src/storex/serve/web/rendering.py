"""HTML pages from the package's Jinja2 templates, with the headers every page carries.

Jinja2 is the ``web`` extra: without it the API still runs and every page answers 503 with
the command that installs it. The Content-Security-Policy keeps every request on this
origin: no page can load a script, style, font or image from anywhere else.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import PlainTextResponse, Response

import storex

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
STATIC_PREFIX = "/web/static"

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
MISSING_JINJA = (
    "The StoreX storefront and dashboard need Jinja2, which is not installed. "
    "Install the web extra: pip install 'storex[web]'"
)


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    """The page ``template`` filled with ``context`` (plus ``root`` and ``version``)."""
    templates = _templates()
    if templates is None:
        return PlainTextResponse(MISSING_JINJA, status_code=503)
    root = request.scope.get("root_path", "").rstrip("/")
    context = {"root": root, "version": storex.__version__, **context}
    return templates.TemplateResponse(
        request, template, context, status_code=status_code, headers=PAGE_HEADERS
    )


def asset_url(root: str, name: str) -> str:
    """URL of a static file, with a digest of its content so a new release is refetched."""
    return f"{root}{STATIC_PREFIX}/{name}?v={_digest(name)}"


@cache
def _digest(name: str) -> str:
    path = STATIC_DIR / name
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10] if path.is_file() else "missing"


@cache
def _templates() -> Any:
    try:
        import jinja2  # noqa: F401  (the web extra)
    except ImportError:
        return None
    from starlette.templating import Jinja2Templates

    templates = Jinja2Templates(directory=TEMPLATES_DIR)
    templates.env.globals["asset_url"] = asset_url
    templates.env.filters["price"] = format_price
    templates.env.filters["metric"] = format_metric
    return templates


def format_price(value: float | None) -> str:
    return "—" if value is None else f"${value:,.2f}"


def format_metric(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"
