"""Train, evaluate and bundle: the workflow the CLI, the demo and the benchmarks share.

Tuned settings live in ``configs/<dataset>.yaml`` (layout: ``{dataset: NAME, models:
{MODEL: {PARAM: VALUE, ..., train: {...}}}}``); a model without an entry runs with its
defaults. Every run is evaluated on test under both protocols, beside Random and
MostPopular trained on the same split; a bundle's report adds a cold-start evaluation (users
and items held out of training entirely, see :func:`evaluate_cold_start`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from storex.bundle import ModelBundle, describe, new_version
from storex.errors import ConfigError, EmptyDataError
from storex.evaluate import evaluate, evaluate_cold_items, evaluate_cold_users, write_report
from storex.evaluate.coldstart_table import cold_start_summary
from storex.evaluate.metrics import RATING_METRICS
from storex.evaluate.report import BASELINES
from storex.graph import load_manifest
from storex.idmap import IdMap
from storex.models.base import Recommender
from storex.models.data import InteractionData
from storex.models.neural import EmbeddingRecommender
from storex.models.registry import model_class

logger = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
KS = (5, 10, 20)
PROTOCOLS = ("reference", "strict")
COLD_START_FRACTION = 0.1
COLD_START_REVEAL = (0, 1, 3, 5)
RUN_OUTPUTS = ("checkpoint_dir", "log_path", "resume")
"""Trainer options that point at one run's files, never copied to a refit."""


@dataclass
class RunResult:
    """One trained model's test results and training cost (and cold-start results, if run)."""

    model: Recommender
    train_seconds: float
    evaluations: list[dict[str, Any]]
    history: list[dict[str, Any]] = field(default_factory=list)
    cold_start: dict[str, Any] | None = None

    @property
    def epochs(self) -> int:
        return len(self.history)

    def metrics(self, protocol: str = "reference") -> dict[str, float]:
        for row in self.evaluations:
            if row["protocol"] == protocol:
                return dict(row["metrics"])
        raise KeyError(protocol)

    def summary(self, dataset: str) -> dict[str, Any]:
        """The flat JSON line the benchmarks print.

        Reference-protocol metrics, with ``rmse`` and ``mae`` of the rating head on the test
        ratings when the model has one; ``strict_*`` ranking metrics (rating errors do not
        depend on the protocol, so they appear once); then the training cost and, when a
        cold-start evaluation ran, its flat figures (see
        :func:`storex.evaluate.coldstart_table.cold_start_summary`).
        """
        protocols = {row["protocol"] for row in self.evaluations}
        reference = self.metrics("reference") if "reference" in protocols else {}
        strict = self.metrics("strict") if "strict" in protocols else {}
        line = {
            "dataset": dataset,
            "model": self.model.name,
            **{k: round(v, 4) for k, v in reference.items()},
            **{f"strict_{k}": round(v, 4) for k, v in strict.items() if k not in RATING_METRICS},
            "epochs": self.epochs,
            "train_seconds": round(self.train_seconds, 2),
            "seconds_per_epoch": round(self.train_seconds / self.epochs, 3)
            if self.epochs
            else None,
        }
        if self.cold_start is not None:
            line.update(cold_start_summary(self.cold_start))
        return line


def config_path(dataset: str, config: Path | None = None) -> Path:
    """``config`` if given, else ``configs/<dataset>.yaml``, else ``configs/default.yaml``."""
    if config is not None:
        if not config.is_file():
            raise ConfigError(f"{config}: config file not found")
        return config
    named = CONFIG_DIR / f"{dataset}.yaml"
    return named if named.is_file() else CONFIG_DIR / "default.yaml"


def tuned_settings(dataset: str, model: str, config: Path | None = None) -> dict[str, Any]:
    """The model's entry in the data set's config (see :func:`config_path`); ``{}`` if none."""
    path = config_path(dataset, config)
    if not path.is_file():
        return {}
    try:
        content = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    models = content.get("models", {}) if isinstance(content, dict) else {}
    if not isinstance(models, dict):
        raise ConfigError(f"{path}: 'models' must be a mapping of model name to settings")
    return dict(models.get(model) or {})


def build_model(name: str, settings: dict[str, Any]) -> Recommender:
    """A fresh model of registered ``name`` with these hyperparameters."""
    cls = model_class(name)
    try:
        return cls(**settings)
    except TypeError as exc:
        raise ConfigError(f"settings for model {name!r} do not fit it: {exc}") from exc


def train_and_evaluate(
    model: Recommender,
    data: InteractionData,
    *,
    ks: Iterable[int] = KS,
    protocols: Sequence[str] = PROTOCOLS,
    cold_start: bool = False,
) -> RunResult:
    """Fit on train (valid drives early stopping), then evaluate on test; with
    ``cold_start``, also run :func:`evaluate_cold_start` (it refits a copy of the model)."""
    ks = tuple(ks)
    start = time.perf_counter()
    model.fit(data)
    seconds = time.perf_counter() - start
    evaluations = [
        evaluate(model, data, split="test", protocol=protocol, ks=ks).to_dict()  # type: ignore[arg-type]
        for protocol in protocols
    ]
    history = list(getattr(model, "history_", None) or [])
    logger.info("%s trained in %.1f s over %d epochs", model.name, seconds, len(history))
    result = RunResult(model, seconds, evaluations, history)
    if cold_start:
        result.cold_start = evaluate_cold_start(model, data, ks=ks)
    return result


def evaluate_cold_start(
    model: Recommender,
    data: InteractionData,
    *,
    fraction: float = COLD_START_FRACTION,
    reveal: Sequence[int] = COLD_START_REVEAL,
    seed: int = 42,
    ks: Iterable[int] = KS,
) -> dict[str, Any]:
    """Cold users and cold items for a model's hyperparameters: ``{"users", "items", "seconds"}``.

    Users held out of training entirely are scored from their features, then from their
    first 1, 3, 5 interactions too; items held out entirely are ranked from their features
    (see :mod:`storex.evaluate.coldstart`). Each scenario refits an unfitted twin of
    ``model`` (same class and hyperparameters) on the reduced data, except when the model
    has no cold-start path for it, which is then reported as unsupported. Interaction data
    carry no timestamps, so a user's "first" interactions are the first in the order the
    data give them (by item index in the prepared training graph), not the earliest.

    A scenario the data cannot support (say, no user with more than 5 interactions) is
    reported as ``{"status": "skipped", "reason": ...}`` rather than raised.
    """
    ks = tuple(ks)
    start = time.perf_counter()
    make = partial(unfitted_twin, model)
    users = _unless_empty(
        lambda: evaluate_cold_users(make, data, fraction=fraction, reveal=reveal, seed=seed, ks=ks)
    )
    items = _unless_empty(
        lambda: evaluate_cold_items(make, data, fraction=fraction, seed=seed, ks=ks)
    )
    seconds = time.perf_counter() - start
    logger.info("%s cold-start evaluation took %.1f s", model.name, seconds)
    return {"users": users, "items": items, "seconds": round(seconds, 4)}


COLD_START_MAX_EDGES = 2_000_000
"""Training edges above which the cold-start refits are off unless asked for (each one
fits the model again; the ``cold_start_max_edges`` setting)."""


def cold_start_skip_reason(
    data: InteractionData, requested: bool | None, max_edges: int = COLD_START_MAX_EDGES
) -> str | None:
    """Why the cold-start refits do not run, or None when they do.

    ``requested`` is the caller's explicit choice; None decides by size: on up to
    ``max_edges`` training edges, off above (the refits would double or triple training).
    """
    if requested is True:
        return None
    if requested is False:
        return "turned off (--no-cold-start)"
    edges = int(data.train.shape[1])
    if edges <= max_edges:
        return None
    return (
        f"off by default above {max_edges} training edges ({edges} here; each scenario refits "
        "the model): pass --cold-start to run it"
    )


def skipped_cold_start(reason: str) -> dict[str, Any]:
    """A cold-start section saying both scenarios were skipped and why (for the report)."""
    skipped = {"status": "skipped", "reason": reason}
    return {"users": dict(skipped), "items": dict(skipped), "seconds": 0.0}


def unfitted_twin(model: Recommender) -> Recommender:
    """A fresh, unfitted model of the same class with the same hyperparameters.

    Training outputs are left out of the twin's settings: its fit must neither overwrite
    the original's checkpoints and log nor resume from them.
    """
    params = model.get_params()
    train = params.get("train")
    if isinstance(train, dict) and isinstance(train.get("extra"), dict):
        extra = {k: v for k, v in train["extra"].items() if k not in RUN_OUTPUTS}
        params = {**params, "train": {**train, "extra": extra}}
    return type(model)(**params)


def _unless_empty(run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return run()
    except EmptyDataError as exc:
        logger.warning("cold-start scenario skipped: %s", exc)
        return {"status": "skipped", "reason": str(exc)}


def run_models(
    data: InteractionData,
    dataset: str,
    models: Sequence[str],
    *,
    config: Path | None = None,
    with_baselines: bool = True,
    cold_start: bool = False,
    processes: int = 1,
) -> list[RunResult]:
    """Train and evaluate each model (plus the baselines) with its tuned settings; neural
    models on ``processes`` data-parallel processes (:mod:`storex.train.distributed`)."""
    names = list(models)
    if with_baselines:
        names += [b for b in BASELINES if b not in names]
    models_built = [build_model(name, tuned_settings(dataset, name, config)) for name in names]
    for model in models_built:
        if processes > 1 and isinstance(model, EmbeddingRecommender):
            model.train.extra["processes"] = processes
    return [train_and_evaluate(model, data, cold_start=cold_start) for model in models_built]


def save_bundle(
    result: RunResult,
    data: InteractionData,
    artifacts_dir: Path,
    out_root: Path,
    *,
    dataset: str,
    baselines: Sequence[RunResult] = (),
    cold_start: bool = True,
) -> ModelBundle:
    """Write ``out_root/<model>/<version>/`` with the report beside the bundle.

    With ``cold_start`` the report gets a cold-start section: ``result.cold_start`` if the
    run has one, else :func:`evaluate_cold_start` runs now and fills it in.
    """
    manifest = load_manifest(artifacts_dir)
    version = new_version()
    info = describe(
        result.model,
        version=version,
        metrics={"test": result.evaluations, "train_seconds": round(result.train_seconds, 2)},
        fingerprint=str(manifest["fingerprint"]),
        history=result.history,
        dataset=dataset,
    )
    info["artifacts"] = str(artifacts_dir.resolve())
    bundle = ModelBundle(
        result.model,
        data,
        IdMap.load(artifacts_dir / "user2idx.json"),
        IdMap.load(artifacts_dir / "item2idx.json"),
        info,
    )
    folder = bundle.save(out_root / result.model.name / version, artifacts_dir=artifacts_dir)
    if cold_start and result.cold_start is None:
        result.cold_start = evaluate_cold_start(result.model, data)
    evaluations = [row for run in (result, *baselines) for row in run.evaluations]
    write_report(
        folder / "report",
        evaluations,
        history=result.history or None,
        cold_start=result.cold_start if cold_start else None,
    )
    return bundle
