"""The dashboard's evaluation section, read from the report folder beside a bundle.

``report/report.json`` (see :mod:`storex.evaluate.report`) holds one comparison table per
(split, protocol) with the model beside Random and MostPopular. The dashboard shows the
headline columns of each; a bundle without a report still shows its own test metrics, with
a note that the baselines are missing. The cold-start section (``cold_start`` in the report:
users and items held out of training) is shown when the report has one.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HEADLINE = ("precision@5", "precision@10", "recall@5", "recall@10", "ndcg@10")
MODEL_LABELS = {"random": "Random", "most_popular": "MostPopular"}
REPORT_FILE = "report.json"
_IMAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.png$")


@dataclass(frozen=True)
class TableRow:
    label: str
    values: tuple[float | None, ...]
    best: tuple[bool, ...]
    baseline: bool
    note: str | None = None


@dataclass(frozen=True)
class MetricTable:
    caption: str
    columns: tuple[str, ...]
    rows: tuple[TableRow, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportImage:
    name: str
    alt: str


@dataclass(frozen=True)
class Evaluation:
    """What the dashboard shows of a bundle's evaluation."""

    tables: list[MetricTable] = field(default_factory=list)
    cold_start: list[MetricTable] = field(default_factory=list)
    cold_start_notes: list[str] = field(default_factory=list)
    images: list[ReportImage] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_evaluation(bundle_dir: Path | None, info: Mapping[str, Any]) -> Evaluation:
    """Tables and charts of the report beside ``bundle_dir`` (or of ``info`` without one)."""
    report_dir = None if bundle_dir is None else bundle_dir / "report"
    problems: list[str] = []
    report: Mapping[str, Any] | None = None
    if report_dir is not None and (report_dir / REPORT_FILE).is_file():
        try:
            report = json.loads((report_dir / REPORT_FILE).read_text())
        except (OSError, ValueError) as exc:
            problems.append(f"report/{REPORT_FILE} cannot be read ({exc}); showing bundle metrics")
    if report is not None:
        tables = [comparison(table) for table in _mappings(report.get("tables"))]
        cold, cold_notes = cold_start_tables(report.get("cold_start"))
    else:
        if not problems:
            problems.append("this bundle has no report: Random and MostPopular are not shown")
        tables = own_metrics(info)
        cold, cold_notes = [], []
    return Evaluation(tables, cold, cold_notes, report_images(report_dir), problems)


def comparison(table: Mapping[str, Any]) -> MetricTable:
    """One report table cut to the headline columns, the trained model first."""
    available = [str(c) for c in table.get("columns") or ()]
    columns = tuple(c for c in HEADLINE if c in available) or tuple(available[:5])
    best = {str(k): {str(m) for m in v} for k, v in dict(table.get("best") or {}).items()}
    rows = sorted(_mappings(table.get("rows")), key=lambda r: str(r.get("model")) in MODEL_LABELS)
    notes = []
    missing = [MODEL_LABELS.get(str(m), str(m)) for m in table.get("missing_baselines") or ()]
    if missing:
        notes.append(f"No row for {', '.join(missing)}: these numbers lack their reference.")
    return MetricTable(
        caption=f"{table.get('split', '?')} split, {table.get('protocol', '?')} protocol",
        columns=columns,
        rows=tuple(
            TableRow(
                label=_label(row.get("model")),
                values=tuple(_number(dict(row.get("metrics") or {}).get(c)) for c in columns),
                best=tuple(str(row.get("model")) in best.get(c, ()) for c in columns),
                baseline=str(row.get("model")) in MODEL_LABELS,
            )
            for row in rows
        ),
        notes=tuple(notes),
    )


def own_metrics(info: Mapping[str, Any]) -> list[MetricTable]:
    """The bundle's own test rows (``info["metrics"]["test"]``), without baselines."""
    metrics = info.get("metrics")
    rows = _mappings(metrics.get("test") if isinstance(metrics, Mapping) else None)
    tables = []
    for row in rows:
        table = {
            "split": row.get("split", "test"),
            "protocol": row.get("protocol", "?"),
            "columns": list(dict(row.get("metrics") or {})),
            "rows": [row],
        }
        tables.append(comparison(table))
    return tables


def cold_start_tables(section: Any) -> tuple[list[MetricTable], list[str]]:
    """The report's cold-start rows as one table per scenario, and the report's notes.

    ``section`` is ``report.json["cold_start"]`` (see
    :func:`storex.evaluate.coldstart_table.cold_start_table`): rows with ``scenario``,
    ``model``, ``reference`` and ``metrics`` (None where the model could not score).
    """
    if not isinstance(section, Mapping):
        return [], []
    scenarios: dict[str, list[Mapping[str, Any]]] = {}
    for row in _mappings(section.get("rows")):
        scenarios.setdefault(str(row.get("scenario", "?")), []).append(row)
    tables = []
    for scenario, rows in scenarios.items():
        names = [str(k) for row in rows for k in dict(row.get("metrics") or {})]
        columns = tuple(c for c in HEADLINE if c in names) or tuple(dict.fromkeys(names))[:5]
        values = [
            None
            if row.get("metrics") is None
            else tuple(_number(dict(row["metrics"]).get(c)) for c in columns)
            for row in rows
        ]
        best = _best(values, len(columns))
        tables.append(
            MetricTable(
                caption=_scenario_caption(scenario, rows[0].get("users")),
                columns=columns,
                rows=tuple(
                    TableRow(
                        label=_label(row.get("model")),
                        values=v if v is not None else (None,) * len(columns),
                        best=tuple(b and v is not None for b in best_row),
                        baseline=bool(row.get("reference")),
                        note=None if v is not None else "unsupported",
                    )
                    for row, v, best_row in zip(rows, values, best, strict=True)
                ),
            )
        )
    notes = [str(n) for n in section.get("notes") or () if isinstance(n, str)]
    return tables, notes


def report_images(report_dir: Path | None) -> list[ReportImage]:
    """The report's PNG charts, training curves first."""
    if report_dir is None or not report_dir.is_dir():
        return []
    names = sorted(p.name for p in report_dir.iterdir() if is_report_image(p.name))
    names.sort(key=lambda n: n != "training.png")
    return [ReportImage(name, _alt(name)) for name in names]


def is_report_image(name: str) -> bool:
    """Whether ``name`` may be served from a report folder (a plain PNG file name)."""
    return bool(_IMAGE_NAME.match(name))


def _alt(name: str) -> str:
    stem = name.removesuffix(".png")
    if stem == "training":
        return "Training loss and validation metrics by epoch"
    parts = stem.split("-")
    if parts[0] == "metrics" and len(parts) == 3:
        return f"Metrics by model, {parts[1]} split, {parts[2]} protocol"
    return stem.replace("-", " ").replace("_", " ")


def _scenario_caption(scenario: str, users: Any) -> str:
    """``users, 3 revealed`` -> ``New users, 3 interactions revealed`` (with the user count)."""
    head, _, revealed = scenario.partition(", ")
    text = {"users": "New users", "items": "New items"}.get(head, scenario)
    if revealed.endswith(" revealed"):
        count = revealed.removesuffix(" revealed")
        text += f", {count} interaction{'' if count == '1' else 's'} revealed"
    return f"{text} ({users} users)" if isinstance(users, int) else text


def _best(rows: list[tuple[float | None, ...] | None], width: int) -> list[tuple[bool, ...]]:
    """Per row, whether each value is its column's highest (only with two or more rows)."""
    scored = [r for r in rows if r is not None]
    tops = [max((v for r in scored if (v := r[c]) is not None), default=None) for c in range(width)]
    return [
        (False,) * width
        if row is None or len(scored) < 2
        else tuple(row[c] is not None and row[c] == tops[c] for c in range(width))
        for row in rows
    ]


def _label(model: Any) -> str:
    return MODEL_LABELS.get(str(model), str(model))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return [v for v in value if isinstance(v, Mapping)]
