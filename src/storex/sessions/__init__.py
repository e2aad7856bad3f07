"""Session-based recommendations: the next item for an anonymous visitor's session.

Data flows one way: events (:mod:`.sources`) -> ordered sessions (:mod:`.build`) -> temporal
split with blackouts and the training vocabulary (:mod:`.split`) -> next-item samples
(:mod:`.samples`) and the co-occurrence item graph with its Laplacian encodings
(:mod:`.graph`, :mod:`.positional`) -> a trained model (:mod:`.recommender`: an item-graph
encoder from :mod:`.encoders`, the readout of :mod:`.readout`) -> metrics beside the
baselines (:mod:`.evaluation`, :mod:`.baselines`) -> a saved folder served by
:class:`SessionEngine`, in PyTorch or ONNX Runtime (:mod:`.export`).
:func:`train_session_model` runs the whole chain with the tuned settings of
``configs/sessions.yaml``.
"""

from storex.sessions.baselines import BASELINES, SessionBaseline, make_baseline
from storex.sessions.build import SessionOptions, build_sessions
from storex.sessions.dataset import SessionDataset, SessionDataSettings, prepare_sessions
from storex.sessions.engine import SessionEngine, SessionRecommendations
from storex.sessions.evaluation import (
    evaluate_next_item,
    next_item_metrics,
    standard_errors,
    write_session_report,
)
from storex.sessions.export import OnnxSessionScorer, export_onnx
from storex.sessions.graph import ItemGraph, build_item_graph
from storex.sessions.model import SessionModelConfig
from storex.sessions.pipeline import train_session_model
from storex.sessions.positional import laplacian_encodings
from storex.sessions.recommender import SessionRecommender
from storex.sessions.samples import NextItemSamples, next_item_samples
from storex.sessions.settings import session_settings
from storex.sessions.split import SessionSplit, SplitOptions, temporal_split
from storex.sessions.table import EVENT_TYPES, SessionTable

__all__ = [
    "BASELINES",
    "EVENT_TYPES",
    "ItemGraph",
    "NextItemSamples",
    "OnnxSessionScorer",
    "SessionBaseline",
    "SessionDataSettings",
    "SessionDataset",
    "SessionEngine",
    "SessionModelConfig",
    "SessionOptions",
    "SessionRecommendations",
    "SessionRecommender",
    "SessionSplit",
    "SessionTable",
    "SplitOptions",
    "build_item_graph",
    "build_sessions",
    "evaluate_next_item",
    "export_onnx",
    "laplacian_encodings",
    "make_baseline",
    "next_item_metrics",
    "next_item_samples",
    "prepare_sessions",
    "session_settings",
    "standard_errors",
    "temporal_split",
    "train_session_model",
    "write_session_report",
]
