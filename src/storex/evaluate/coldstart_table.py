"""The cold-start table of a report, and its flat form for benchmark lines.

Reads what :func:`storex.evaluate.coldstart.evaluate_cold_users` and
:func:`~storex.evaluate.coldstart.evaluate_cold_items` return, gathered as ``{"users": ...,
"items": ...}`` (either may instead be ``{"status": "skipped", "reason": ...}`` when the data
allow no such run). Each scenario puts the model beside the references computed on the same
reduced data: Random and MostPopular for cold users, Random for cold items (an item without
history has no popularity to rank by).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from storex.errors import DataError

COLUMNS: tuple[str, ...] = ("recall@10", "ndcg@10", "recall@20", "ndcg@20")
"""Metrics shown in the Markdown table and in the flat summary (the JSON keeps them all)."""

USER_REFERENCES: tuple[str, ...] = ("random", "most_popular")
ITEM_REFERENCES: tuple[str, ...] = ("random",)


def cold_start_table(cold_start: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """Rows scenario x model, best of each column per scenario in bold.

    Returns
    -------
    json_ready, markdown
        ``{"rows": [{"scenario", "kind", "revealed", "users", "model", "reference",
        "metrics", "best"}], "notes": [...], "seconds"}`` and the same as a Markdown section.
    """
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    users, items = cold_start.get("users"), cold_start.get("items")
    if users is None and items is None:
        raise DataError("cold-start results hold neither 'users' nor 'items'")
    if users is not None:
        rows += _user_rows(users, notes)
    if items is not None:
        rows += _item_rows(items, notes)
    _mark_best(rows)
    payload = {"rows": rows, "notes": notes, "seconds": cold_start.get("seconds")}
    return payload, _markdown(payload)


def cold_start_summary(cold_start: Mapping[str, Any]) -> dict[str, Any]:
    """Flat keys of the model's own cold-start figures for a one-line JSON summary.

    ``cold_users_{n}_{metric}`` for each revealed count ``n``, ``cold_items_{metric}``,
    ``cold_users_status`` / ``cold_items_status`` (ok, partial, unsupported or skipped) and
    ``cold_start_seconds``; a metric the model could not produce is None. The cold-user
    references are left out: the Random and MostPopular lines of the same run carry their
    own. The cold-item one is kept as ``cold_items_random_{metric}``: no baseline model
    embeds new items, so no other line carries it.
    """
    flat: dict[str, Any] = {}
    users = cold_start.get("users")
    if users is not None:
        flat["cold_users_status"] = users.get("status")
        for n, entry in users.get("by_reveal", {}).items():
            for column in COLUMNS:
                flat[f"cold_users_{n}_{column}"] = _rounded(entry.get("model"), column)
    items = cold_start.get("items")
    if items is not None:
        flat["cold_items_status"] = items.get("status")
        if "results" in items:
            results = items["results"]
            for column in COLUMNS:
                flat[f"cold_items_{column}"] = _rounded(results.get("model"), column)
                flat[f"cold_items_random_{column}"] = _rounded(results.get("random"), column)
    if cold_start.get("seconds") is not None:
        flat["cold_start_seconds"] = round(float(cold_start["seconds"]), 2)
    return flat


def _user_rows(users: Mapping[str, Any], notes: list[str]) -> list[dict[str, Any]]:
    if users.get("status") == "skipped":
        notes.append(f"Cold users skipped: {users.get('reason', 'no reason given')}.")
        return []
    notes.append(
        f"Cold users: {users['held_out_users']} of {users['eligible_users']} eligible users "
        f"held out of training entirely (fraction {users['fraction']}, seed {users['seed']}), "
        "then scored from their features and their first n interactions "
        f"({users['history_order']}); revealed items are masked, every other item of the user "
        "is truth."
    )
    for n, reason in users.get("unsupported", {}).items():
        notes.append(f"{users['model']} with {n} revealed: unsupported ({reason}).")
    rows = []
    for n, entry in users["by_reveal"].items():
        scenario = f"users, {n} revealed"
        for name in ("model", *USER_REFERENCES):
            model = users["model"] if name == "model" else name
            rows.append(
                _row(scenario, "cold_users", int(n), entry["users"], model, name, entry.get(name))
            )
    return rows


def _item_rows(items: Mapping[str, Any], notes: list[str]) -> list[dict[str, Any]]:
    if items.get("status") == "skipped":
        notes.append(f"Cold items skipped: {items.get('reason', 'no reason given')}.")
        return []
    notes.append(
        f"Cold items: {items['held_out_items']} items held out of training entirely "
        f"(fraction {items['fraction']}, seed {items['seed']}), ranked from their features among "
        f"all items for the {items['users']} users who interacted with one (not counted: "
        f"{items['skipped_users']} users left without any training pair); "
        "MostPopular has no row since a new item has no popularity."
    )
    if items.get("reason"):
        notes.append(f"{items['model']} on cold items: unsupported ({items['reason']}).")
    results = items["results"]
    return [
        _row("items", "cold_items", None, items["users"], model, name, results.get(name))
        for name, model in (("model", items["model"]), *((r, r) for r in ITEM_REFERENCES))
    ]


def _row(
    scenario: str,
    kind: str,
    revealed: int | None,
    users: int,
    model: str,
    role: str,
    metrics: Mapping[str, float] | None,
) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "kind": kind,
        "revealed": revealed,
        "users": users,
        "model": model,
        "reference": role != "model",
        "metrics": None if metrics is None else dict(metrics),
        "best": [],
    }


def _mark_best(rows: list[dict[str, Any]]) -> None:
    by_scenario: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_scenario.setdefault(row["scenario"], []).append(row)
    for group in by_scenario.values():
        scored = [row for row in group if row["metrics"]]
        for column in COLUMNS if len(scored) > 1 else ():
            values = [row["metrics"][column] for row in scored if _finite(row["metrics"], column)]
            if not values:
                continue
            for row in scored:
                if row["metrics"].get(column) == max(values):
                    row["best"].append(column)


def _markdown(payload: Mapping[str, Any]) -> str:
    lines = [
        "## Cold start",
        "",
        "| scenario | users | model | " + " | ".join(COLUMNS) + " |",
        "|---|---:|---|" + "---:|" * len(COLUMNS),
    ]
    for row in payload["rows"]:
        metrics = row["metrics"]
        if metrics is None:
            cells = ["unsupported"] + ["—"] * (len(COLUMNS) - 1)
        else:
            cells = [_cell(metrics, column, column in row["best"]) for column in COLUMNS]
        head = f"| {row['scenario']} | {row['users']} | {row['model']} | "
        lines.append(head + " | ".join(cells) + " |")
    lines.append("")
    if any(row["best"] for row in payload["rows"]):
        lines.append("Best value per scenario and column in **bold**.")
    lines += [f"- {note}" for note in payload["notes"]]
    if payload.get("seconds") is not None:
        lines.append(f"- Cold-start evaluation took {payload['seconds']:.1f} s (refits included).")
    return "\n".join(lines) + "\n"


def _cell(metrics: Mapping[str, float], column: str, best: bool) -> str:
    value = metrics.get(column)
    text = "—" if value is None else f"{value:.4f}"
    return f"**{text}**" if best else text


def _rounded(metrics: Mapping[str, float] | None, column: str) -> float | None:
    if metrics is None or metrics.get(column) is None:
        return None
    return round(float(metrics[column]), 4)


def _finite(metrics: Mapping[str, Any], column: str) -> bool:
    value = metrics.get(column)
    return value is not None and math.isfinite(value)
