"""Honest evaluation: full ranking under the published protocol, cold start, reports."""

from storex.evaluate.coldstart import evaluate_cold_items, evaluate_cold_users
from storex.evaluate.evaluator import EvaluationResult, evaluate, quick_validator, score_validator
from storex.evaluate.metrics import (
    catalog_coverage,
    hit_matrix,
    mae,
    ranking_metrics,
    rmse,
    topk_metrics,
)
from storex.evaluate.report import comparison_table, write_report

__all__ = [
    "EvaluationResult",
    "catalog_coverage",
    "comparison_table",
    "evaluate",
    "evaluate_cold_items",
    "evaluate_cold_users",
    "hit_matrix",
    "mae",
    "quick_validator",
    "ranking_metrics",
    "rmse",
    "score_validator",
    "topk_metrics",
    "write_report",
]
