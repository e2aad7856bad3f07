"""User features: demographics plus a summary of the training history.

Statistics (means, stds, the global mean rating) come from the training split only and are
saved as JSON, so a brand-new user with demographics and no interactions (the cold-start path)
is encoded at serve time exactly as training would have.

Columns, in order: ``age_z``/``age_missing``; ``gender=<v>``, ``gender_missing``;
``occupation=<v>``, ``occupation_other``, ``occupation_missing``; optionally ``zip_digit=<d>``,
``zip_digit_other``, ``zip_digit_missing``; ``history_log_count_z`` (log1p of the number of
interactions), ``no_history``; ``avg_rating_z`` when the training data has ratings.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from storex.config import FeatureSettings
from storex.data.schema import text_codes
from storex.errors import DataError, EmptyDataError, ModelError, NotFittedError
from storex.features.base import (
    OneHot,
    Scaler,
    align_rows,
    as_ids,
    clean_text,
    key_column,
    maybe_block,
    non_negative_column,
    numeric_column,
    read_state,
    write_state,
)

STEM = "user_encoder"
_TABLE = "users table"
_COLUMNS = ("age", "gender", "occupation", "zip")
_HOLDOUT_SPLITS = ("valid", "test")
MAX_GENDERS = 10
"""Gender levels kept; a free-text field must not blow up the width."""
ZIP_DIGITS = tuple("0123456789")


class UserEncoder:
    """Turn user demographics and history into a float32 matrix, one row per user id.

    Parameters
    ----------
    settings
        Feature settings (kept for symmetry with the item encoder and saved with the state).
    use_zip
        Add the first digit of the zip code (one-hot), a coarse region. Off by default.
    max_occupations
        Occupations kept; the rest go to ``occupation_other``.
    """

    def __init__(
        self,
        settings: FeatureSettings | None = None,
        *,
        use_zip: bool = False,
        max_occupations: int = 50,
    ) -> None:
        self.settings = settings
        self.use_zip = use_zip
        self.max_occupations = max_occupations

    def fit(self, users: pd.DataFrame | None, train_interactions: pd.DataFrame) -> UserEncoder:
        """Learn statistics from the users table and the training interactions only.

        Rows marked ``valid``/``test`` in a ``split`` column are refused (DataError): letting
        them in would leak held-out ratings into the features.
        """
        vars(self).pop("feature_names_", None)  # unfitted until this fit succeeds
        history = _history(train_interactions, "train interactions")
        self.age_: Scaler | None = None
        self.gender_: OneHot | None = None
        self.occupation_: OneHot | None = None
        self.zip_: OneHot | None = None
        population = history.index
        if users is not None:
            user_ids = key_column(users, "user_id", _TABLE)
            frame = align_rows(users, user_ids, "user_id", _COLUMNS, _TABLE)
            population = population.union(user_ids)
            age = non_negative_column(frame, "age", _TABLE)
            if np.isfinite(age).any():
                self.age_ = Scaler.fit("age", age, flag=True)
            if frame["gender"].notna().any():
                self.gender_ = OneHot.fit("gender", frame["gender"], top_n=MAX_GENDERS, other=False)
            if frame["occupation"].notna().any():
                self.occupation_ = OneHot.fit(
                    "occupation", frame["occupation"], top_n=self.max_occupations, other=True
                )
        if self.use_zip:
            self.zip_ = OneHot("zip_digit", ZIP_DIGITS, other=True)
        if population.empty:
            raise EmptyDataError("no user in the users table or the train interactions")
        counts = history["count"].reindex(population, fill_value=0).to_numpy(dtype=np.float64)
        self.history_ = Scaler.fit("history_log_count", np.log1p(counts), flag=False)
        ratings = numeric_column(train_interactions, "rating", "train interactions")
        self.rating_: Scaler | None = None
        self.global_rating_: float | None = None
        if np.isfinite(ratings).any():
            self.global_rating_ = float(np.nanmean(ratings))
            per_user = history["rating_mean"].to_numpy(dtype=np.float64, na_value=np.nan)
            self.rating_ = Scaler.fit("avg_rating", per_user, flag=False)
        self.feature_names_: list[str] = self._names()
        return self

    def transform(
        self,
        users: pd.DataFrame | None,
        ids: Sequence[str],
        interactions: pd.DataFrame | None = None,
    ) -> np.ndarray:
        """Features of ``ids`` in that order.

        ``interactions`` is the history to summarise (the training interactions offline, the
        user's known events at serve time); None or no rows for a user means no history.
        """
        self._check_fitted()
        index = as_ids(ids)
        frame = align_rows(users, index, "user_id", _COLUMNS, _TABLE)
        parts: list[np.ndarray] = []
        if self.age_ is not None:
            parts.append(self.age_.transform(non_negative_column(frame, "age", _TABLE)))
        for column, block in (("gender", self.gender_), ("occupation", self.occupation_)):
            if block is not None:
                parts.append(block.transform(frame[column]))
        if self.zip_ is not None:
            parts.append(self.zip_.transform(clean_text(frame["zip"]).str.slice(0, 1)))
        history = _history(interactions, "interactions") if interactions is not None else None
        counts = np.zeros(len(index))
        if history is not None:
            counts = history["count"].reindex(index, fill_value=0).to_numpy(dtype=np.float64)
        parts.append(self.history_.transform(np.log1p(counts)))
        parts.append((counts == 0).astype(np.float64)[:, None])
        if self.rating_ is not None:
            means = np.full(len(index), np.nan)
            if history is not None:
                means = (
                    history["rating_mean"]
                    .reindex(index)
                    .to_numpy(np.float64, na_value=np.nan, copy=True)
                )
            means[np.isnan(means)] = self.global_rating_
            parts.append(self.rating_.transform(means))
        out = np.zeros((len(index), len(self.feature_names_)), dtype=np.float32)
        np.concatenate(parts, axis=1, out=out, casting="same_kind")
        return out

    @property
    def n_features_(self) -> int:
        self._check_fitted()
        return len(self.feature_names_)

    def save(self, folder: str | Path) -> None:
        """Write ``user_encoder.json`` (and an empty ``user_encoder.npz``) into ``folder``."""
        self._check_fitted()
        meta = {
            "params": {
                "settings": (self.settings or FeatureSettings()).model_dump(),
                "use_zip": self.use_zip,
                "max_occupations": self.max_occupations,
            },
            "feature_names": self.feature_names_,
            "global_rating": self.global_rating_,
            **{
                name: None if block is None else block.to_state()
                for name, block in self._blocks().items()
            },
        }
        write_state(folder, STEM, meta, {})

    @classmethod
    def load(cls, folder: str | Path) -> UserEncoder:
        """Rebuild a saved encoder; a missing or damaged file is a ModelError naming it."""
        meta, _ = read_state(folder, STEM)
        try:
            params = meta["params"]
            encoder = cls(
                FeatureSettings(**params["settings"]),
                use_zip=bool(params["use_zip"]),
                max_occupations=int(params["max_occupations"]),
            )
            encoder.age_ = maybe_block(Scaler.from_state, meta["age"])
            encoder.gender_ = maybe_block(OneHot.from_state, meta["gender"])
            encoder.occupation_ = maybe_block(OneHot.from_state, meta["occupation"])
            encoder.zip_ = maybe_block(OneHot.from_state, meta["zip"])
            encoder.history_ = Scaler.from_state(meta["history"])
            encoder.rating_ = maybe_block(Scaler.from_state, meta["rating"])
            rating = meta["global_rating"]
            encoder.global_rating_ = None if rating is None else float(rating)
            if (encoder.rating_ is None) != (encoder.global_rating_ is None):
                raise ValueError("rating statistics are incomplete")
            encoder.feature_names_ = encoder._names()
            if encoder.feature_names_ != meta["feature_names"]:
                raise ValueError("feature names do not match the saved blocks")
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"{Path(folder) / f'{STEM}.json'}: bad encoder state ({exc!r})"
            ) from exc
        return encoder

    def _blocks(self) -> dict[str, OneHot | Scaler | None]:
        return {
            "age": self.age_,
            "gender": self.gender_,
            "occupation": self.occupation_,
            "zip": self.zip_,
            "history": self.history_,
            "rating": self.rating_,
        }

    def _names(self) -> list[str]:
        names: list[str] = []
        for block in (self.age_, self.gender_, self.occupation_, self.zip_, self.history_):
            if block is not None:
                names += block.names
        names.append("no_history")
        if self.rating_ is not None:
            names += self.rating_.names
        return names

    def _check_fitted(self) -> None:
        if not hasattr(self, "feature_names_"):
            raise NotFittedError(
                "UserEncoder is not fitted: call fit(users, train_interactions) or UserEncoder.load"
            )


def _history(interactions: pd.DataFrame, what: str) -> pd.DataFrame:
    """Per user: number of interactions and mean rating (NaN when none is rated)."""
    if "user_id" not in interactions.columns:
        raise DataError(f"{what}: no 'user_id' column", column="user_id")
    if "split" in interactions.columns:
        codes, names = text_codes(interactions["split"])
        names = pd.Series(names, dtype="string").str.strip().str.lower()
        held_out = int(names.isin(_HOLDOUT_SPLITS).to_numpy(dtype=bool)[codes[codes >= 0]].sum())
        if held_out:
            raise DataError(
                f"{what}: {held_out} row(s) marked valid/test; user features may only summarise "
                "training interactions",
                column="split",
            )
    users = interactions["user_id"]
    if not isinstance(users.dtype, pd.CategoricalDtype):
        users = users.astype("string")  # 1 and "1" are one user, as in the id maps
    codes, user_ids = text_codes(users)
    if (codes < 0).any():
        raise DataError(
            f"{what}: {int((codes < 0).sum())} row(s) without a user id", column="user_id"
        )
    ratings = numeric_column(interactions, "rating", what)
    # Grouping the codes is grouping the text (same order of first appearance), minus the text.
    grouped = pd.DataFrame({"code": codes, "rating": ratings}).groupby("code", sort=False)
    means = grouped["rating"].mean()
    index = pd.Index(pd.Series(user_ids[means.index.to_numpy()], dtype="string"), name="user_id")
    return pd.DataFrame(
        {"count": grouped.size().to_numpy(), "rating_mean": means.to_numpy()}, index=index
    )
