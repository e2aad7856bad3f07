"""Fill an empty database from the data set the served bundle was trained on.

So that ``storex serve`` right after ``storex demo`` (or ``storex train``) has a catalog to
show and the history behind the model, with no ``storex db init`` step. A database that
already holds items is never touched.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from storex.bundle import ModelBundle
from storex.errors import MissingDataError
from storex.serve.db import count_items, load_store, make_session_factory

log = logging.getLogger(__name__)


def bundle_sources(bundle: ModelBundle) -> list[str]:
    """Where the bundle's data set may be read, best first: the source its artifacts were
    prepared from (a folder, say), then the data set's name."""
    sources = []
    artifacts = bundle.info.get("artifacts")
    summary = Path(str(artifacts)) / "summary.json" if artifacts else None
    if summary is not None and summary.is_file():
        sources.append(json.loads(summary.read_text()).get("source"))
    sources.append(bundle.info.get("dataset"))
    return list(dict.fromkeys(str(s) for s in sources if s))


def seed_database(engine: Engine, bundle: ModelBundle, data_dir: Path) -> dict[str, Any] | None:
    """Load the bundle's data set (users, items, ratings) when the items table is empty.

    Returns the load summary, or None when nothing was loaded (items already there, or a
    bundle whose data set cannot be found). A data set that cannot be found is logged, not
    raised: the service still serves, without a catalog. A data set that is found but
    holds a bad row raises (:class:`~storex.errors.DataError`): serving half a catalog
    would hide it.
    """
    with make_session_factory(engine)() as session:
        if count_items(session) > 0:
            return None
    sources = bundle_sources(bundle)
    if not sources:
        log.warning("the database has no items and the bundle names no data set to fill it")
        return None
    from storex.data.catalog import load_dataset

    problems = []
    for source in sources:
        try:
            data = load_dataset(source, data_dir=data_dir)
        except MissingDataError as exc:
            problems.append(f"{source}: {exc}")
            continue
        log.info("the database has no items: loading %s (catalog and history)", source)
        with engine.begin() as connection:
            counts = load_store(connection, data, with_history=True, where=source)
        summary = {"source": source, **counts, "read_issues": dict(data.read_issues)}
        log.info("database filled from %s: %s", source, summary)
        return summary
    log.warning(
        "the database has no items and the bundle's data set cannot be read (%s); load a "
        "catalog with `storex db init --from DATASET --with-history`",
        "; ".join(problems),
    )
    return None
