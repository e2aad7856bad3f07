"""The data pipeline: raw source -> cleaned, split tables -> features -> saved graph artifacts.

Each stage reads only what the stage before it produced; the CLI and the benchmarks call
:func:`prepare` and nothing else.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from storex.config import Settings
from storex.data.catalog import load_dataset
from storex.data.cleaning import CleaningReport, clean
from storex.data.schema import StoreData
from storex.data.splits import SplitResult, split_interactions
from storex.features import ItemEncoder, UserEncoder
from storex.graph import GraphBuilder, save_artifacts
from storex.idmap import IdMap
from storex.io import write_json

logger = logging.getLogger(__name__)

StageHook = Callable[[str], None]


@dataclass(frozen=True)
class PreparedData:
    """Everything :func:`prepare` made, in memory, beside what it wrote to ``out_dir``."""

    out_dir: Path
    data: StoreData
    cleaning: CleaningReport
    split: SplitResult
    user_map: IdMap
    item_map: IdMap
    summary: dict[str, Any]


def prepare(
    source: str | Path,
    out_dir: str | Path,
    settings: Settings,
    *,
    on_stage: StageHook | None = None,
) -> PreparedData:
    """Read ``source`` (a data set name or a path), clean, split, encode and save its graph.

    Parameters
    ----------
    source
        A name from :data:`storex.data.catalog.DATASET_NAMES` or a file/folder in a supported
        layout.
    out_dir
        Folder for the artifacts; replaced whole, only once everything succeeded.
    settings
        Cleaning, split, feature and graph settings.
    on_stage
        Called with each stage's name as it starts (progress display).
    """
    out_dir = Path(out_dir)
    timings: dict[str, float] = {}

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        if on_stage is not None:
            on_stage(name)
        start = time.perf_counter()
        yield
        timings[name] = round(time.perf_counter() - start, 3)
        logger.debug("stage %s took %.3f s", name, timings[name])

    with stage("read"):
        data = load_dataset(
            source,
            data_dir=settings.data_dir,
            session_gap_minutes=settings.graph.session_gap_minutes,
            stream_rows=settings.stream_rows,
        )
    with stage("clean"):
        dedupe = "exact" if data.has_sessions else "pair"
        cleaned, cleaning = clean(data, settings.cleaning, dedupe=dedupe)
        raw = replace(data, interactions=data.interactions.iloc[:0])
        del data  # the raw rows are not needed past cleaning: free them before the split
    with stage("split"):
        split = split_interactions(cleaned.interactions, settings.split)
        interactions = split.interactions
        train = split.train
    with stage("features"):
        user_map = IdMap.from_series(interactions["user_id"])
        item_map = IdMap.from_series(interactions["item_id"])
        item_encoder = ItemEncoder(settings.features).fit(cleaned.items)
        user_encoder = UserEncoder(settings.features).fit(cleaned.users, train)
        item_x = item_encoder.transform(cleaned.items, item_map.ids)
        user_x = user_encoder.transform(cleaned.users, user_map.ids, train)
        del train
    with stage("graph"):
        graph = GraphBuilder(settings.graph).build_artifacts(
            interactions,
            user_map,
            item_map,
            user_x,
            item_x,
            user_feature_names=user_encoder.feature_names_,
            item_feature_names=item_encoder.feature_names_,
            seed=settings.seed,
        )
    summary = _summary(raw, cleaned, cleaning, split, user_map, item_map, user_x, item_x)

    def write_stage_files(folder: Path) -> None:
        write_json(folder / "cleaning_report.json", cleaning.to_dict())
        write_json(folder / "split_report.json", split.report)
        item_encoder.save(folder)
        user_encoder.save(folder)

    with stage("save"):
        manifest = save_artifacts(graph, out_dir, extras=write_stage_files)
    summary["fingerprint"] = manifest["fingerprint"]
    summary["item_graph_edges"] = manifest["counts"]["item_graph_edges"]
    summary["stage_seconds"] = timings
    write_json(out_dir / "summary.json", summary)
    return PreparedData(out_dir, cleaned, cleaning, split, user_map, item_map, summary)


def _summary(
    raw: StoreData,
    cleaned: StoreData,
    cleaning: CleaningReport,
    split: SplitResult,
    user_map: IdMap,
    item_map: IdMap,
    user_x: np.ndarray,
    item_x: np.ndarray,
) -> dict[str, Any]:
    split_dropped = int(sum(split.report.get("dropped", {}).values()))
    rows = split.report.get("rows", {})
    return {
        "dataset": raw.name,
        "source": raw.source,
        "users": len(user_map),
        "items": len(item_map),
        "interactions": len(split.interactions),
        "raw_interactions": cleaning.input_rows,
        "dropped": cleaning.total_dropped + split_dropped,
        "dropped_by_reason": {**cleaning.dropped, **split.report.get("dropped", {})},
        "read_issues": dict(cleaning.read_issues),
        "splits": rows,
        "catalog_items": 0 if cleaned.items is None else len(cleaned.items),
        "user_features": int(user_x.shape[1]),
        "item_features": int(item_x.shape[1]),
        "explicit": cleaned.is_explicit,
        "sessions": int(cleaned.interactions["session_id"].nunique()),
    }
