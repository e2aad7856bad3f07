"""Train, evaluate and bundle: the workflow the CLI, the demo and the benchmarks share.

Tuned settings live in ``configs/<dataset>.yaml`` (layout: ``{dataset: NAME, models:
{MODEL: {PARAM: VALUE, ..., train: {...}}}}``); a model without an entry runs with its
defaults. Every run is evaluated on test under both protocols, beside Random and
MostPopular trained on the same split.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from storex.bundle import ModelBundle, describe, new_version
from storex.errors import ConfigError
from storex.evaluate import evaluate, write_report
from storex.evaluate.report import BASELINES
from storex.graph import load_manifest
from storex.idmap import IdMap
from storex.models.base import Recommender
from storex.models.data import InteractionData
from storex.models.registry import model_class

logger = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
KS = (5, 10, 20)
PROTOCOLS = ("reference", "strict")


@dataclass
class RunResult:
    """One trained model's test results and training cost."""

    model: Recommender
    train_seconds: float
    evaluations: list[dict[str, Any]]
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        return len(self.history)

    def metrics(self, protocol: str = "reference") -> dict[str, float]:
        for row in self.evaluations:
            if row["protocol"] == protocol:
                return dict(row["metrics"])
        raise KeyError(protocol)

    def summary(self, dataset: str) -> dict[str, Any]:
        """The flat JSON line the benchmarks print."""
        strict = {f"strict_{k}": round(v, 4) for k, v in self.metrics("strict").items()}
        return {
            "dataset": dataset,
            "model": self.model.name,
            **{k: round(v, 4) for k, v in self.metrics("reference").items()},
            **strict,
            "epochs": self.epochs,
            "train_seconds": round(self.train_seconds, 2),
            "seconds_per_epoch": round(self.train_seconds / self.epochs, 3)
            if self.epochs
            else None,
        }


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
) -> RunResult:
    """Fit on train (valid drives early stopping), then evaluate on test."""
    start = time.perf_counter()
    model.fit(data)
    seconds = time.perf_counter() - start
    evaluations = [
        evaluate(model, data, split="test", protocol=protocol, ks=ks).to_dict()  # type: ignore[arg-type]
        for protocol in protocols
    ]
    history = list(getattr(model, "history_", None) or [])
    logger.info("%s trained in %.1f s over %d epochs", model.name, seconds, len(history))
    return RunResult(model, seconds, evaluations, history)


def run_models(
    data: InteractionData,
    dataset: str,
    models: Sequence[str],
    *,
    config: Path | None = None,
    with_baselines: bool = True,
) -> list[RunResult]:
    """Train and evaluate each model (plus the baselines) with its tuned settings."""
    names = list(models)
    if with_baselines:
        names += [b for b in BASELINES if b not in names]
    return [
        train_and_evaluate(build_model(name, tuned_settings(dataset, name, config)), data)
        for name in names
    ]


def save_bundle(
    result: RunResult,
    data: InteractionData,
    artifacts_dir: Path,
    out_root: Path,
    *,
    dataset: str,
    baselines: Sequence[RunResult] = (),
) -> ModelBundle:
    """Write ``out_root/<model>/<version>/`` with the report beside the bundle."""
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
    evaluations = [row for run in (result, *baselines) for row in run.evaluations]
    write_report(folder / "report", evaluations, history=result.history or None)
    return bundle
