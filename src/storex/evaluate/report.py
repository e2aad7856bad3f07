"""Comparison tables and report folders: a model's numbers beside the baselines'.

A metric means little alone: a recall@10 of 0.15 is strong or weak only next to what chance
(``random``) and popularity (``most_popular``) reach on the same split under the same
protocol. Tables are therefore grouped by (split, protocol), mark the best value of each
column, and say so when a baseline row is missing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from storex.errors import DataError
from storex.evaluate.coldstart_table import cold_start_table
from storex.evaluate.metrics import LOWER_IS_BETTER, metric_sort_key
from storex.io import atomic_path, write_json

BASELINES: tuple[str, ...] = ("random", "most_popular")
"""Registered names of the reference models every comparison should include."""


Result = Mapping[str, Any]


def comparison_table(results: Sequence[Any]) -> tuple[dict[str, Any], str]:
    """Rows model x metrics per (split, protocol), best value per column in bold.

    Parameters
    ----------
    results
        :class:`~storex.evaluate.evaluator.EvaluationResult` objects or their ``to_dict()``
        form: ``{"model", "split", "protocol", "users", "seconds", "metrics": {...}}``.

    Returns
    -------
    json_ready, markdown
        ``{"tables": [{"split", "protocol", "columns", "best", "missing_baselines",
        "rows"}]}`` and the same tables as Markdown.
    """
    rows = [_as_row(result, number) for number, result in enumerate(results)]
    if not rows:
        raise DataError("no evaluation results to compare")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["split"], row["protocol"]), []).append(row)
    tables = [_table(split, protocol, group) for (split, protocol), group in groups.items()]
    markdown = "\n\n".join(_markdown(table) for table in tables) + "\n"
    return {"tables": tables}, markdown


def write_report(
    folder: str | Path,
    results: Sequence[Any],
    history: Sequence[Mapping[str, Any]] | None = None,
    cold_start: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and PNG charts into ``folder``; return the paths.

    One metrics chart per (split, protocol) table, plus ``training.png`` when a training
    ``history`` (rows with ``epoch``, ``loss`` and validation metrics) is given, and a
    cold-start section (``"cold_start"`` in the JSON) when ``cold_start`` results are given
    (see :func:`storex.evaluate.coldstart_table.cold_start_table`).
    """
    from storex.evaluate.plots import plot_metrics, plot_training  # matplotlib loads only here

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    payload, _ = comparison_table(results)
    written: dict[str, Path] = {}
    sections = ["# Evaluation report", ""]
    for table in payload["tables"]:
        name = f"metrics-{table['split']}-{table['protocol']}.png"
        written[name] = plot_metrics(table["rows"], folder / name)
        sections += [_markdown(table), "", f"![metrics by model]({name})", ""]
    extra: dict[str, Any] = {"history": list(history or [])}
    if cold_start is not None:
        extra["cold_start"], cold_markdown = cold_start_table(cold_start)
        sections.append(cold_markdown)
    if history:
        written["training.png"] = plot_training(history, folder / "training.png")
        sections.append("## Training\n\n![training curves](training.png)\n")
    write_json(folder / "report.json", {**payload, **extra})
    written["report.json"] = folder / "report.json"
    with atomic_path(folder / "report.md") as tmp:
        tmp.write_text("\n".join(sections))
    written["report.md"] = folder / "report.md"
    return written


def _as_row(result: Any, number: int) -> dict[str, Any]:
    row = result.to_dict() if hasattr(result, "to_dict") else result
    if not isinstance(row, Mapping):
        raise DataError(f"result {number}: expected a mapping, got {type(row).__name__}")
    missing = {"model", "split", "protocol", "metrics"} - set(row)
    if missing:
        raise DataError(f"result {number}: missing keys {sorted(missing)}")
    metrics = row["metrics"]
    for name, value in metrics.items():
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise DataError(f"result {number}, metric {name!r}: expected a number, got {value!r}")
    return {**row, "metrics": dict(metrics)}


def _table(split: str, protocol: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    columns = sorted({name for row in rows for name in row["metrics"]}, key=metric_sort_key)
    rows = [{**row, "best": []} for row in rows]
    best: dict[str, list[str]] = {}
    for column in columns if len(rows) > 1 else ():
        values = [row["metrics"][column] for row in rows if _finite(row["metrics"], column)]
        if not values:
            continue
        target = min(values) if column in LOWER_IS_BETTER else max(values)
        for row in rows:
            if row["metrics"].get(column) == target:
                row["best"].append(column)
                best.setdefault(column, []).append(str(row["model"]))
    names = {str(row["model"]) for row in rows}
    return {
        "split": split,
        "protocol": protocol,
        "columns": columns,
        "best": best,
        "missing_baselines": [b for b in BASELINES if b not in names],
        "rows": rows,
    }


def _markdown(table: dict[str, Any]) -> str:
    columns = table["columns"]
    lines = [
        f"### {table['split']} split, {table['protocol']} protocol",
        "",
        "| model | users | " + " | ".join(columns) + " | seconds |",
        "|---|---:|" + "---:|" * len(columns) + "---:|",
    ]
    for row in table["rows"]:
        cells = []
        for column in columns:
            value = row["metrics"].get(column)
            text = "—" if value is None else f"{value:.4f}"
            if column in row["best"]:
                text = f"**{text}**"
            cells.append(text)
        seconds = row.get("seconds")
        lines.append(
            f"| {row['model']} | {row.get('users', '—')} | "
            + " | ".join(cells)
            + f" | {'—' if seconds is None else f'{seconds:.2f}'} |"
        )
    lines.append("")
    if table["best"]:
        lines.append("Best value per column in **bold** (lowest for rmse and mae).")
    if table["missing_baselines"]:
        lines.append(
            f"No row for {', '.join(table['missing_baselines'])}: these numbers lack their "
            "reference on this split."
        )
    return "\n".join(lines)


def _finite(metrics: Mapping[str, Any], column: str) -> bool:
    value = metrics.get(column)
    return value is not None and math.isfinite(value)
