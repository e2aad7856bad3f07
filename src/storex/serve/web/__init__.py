"""The storefront (``/``) and the dashboard (``/dashboard``), served by the StoreX service.

Pages are Jinja2 templates filled from the service state; the scripts beside them talk to
the REST API with ``fetch`` (recommendations, ratings, registration) and to a few JSON
routes of this package (live figures, model versions, ratings with titles). Every asset is
served from the package: a page makes no request to another origin.

    app.include_router(storex.serve.web.router)
"""

from fastapi import APIRouter

from storex.serve.web import data, pages

router = APIRouter()
router.include_router(pages.router)
router.include_router(data.router)

__all__ = ["router"]
