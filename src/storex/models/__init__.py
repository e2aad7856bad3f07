"""Recommenders behind one contract: baselines and graph neural networks."""

from storex.models import (
    baselines,  # noqa: F401
    gat,  # noqa: F401
    graphsage,  # noqa: F401
    lightgcn,  # noqa: F401
    ncf,  # noqa: F401
)
