"""External ids (strings) to contiguous indices and back, one map per entity type."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from storex.io import write_json


class IdMap:
    """An ordered, append-only mapping ``external id -> 0..n-1``.

    New ids (a new user at serve time) get the next index; existing indices never move, so
    embeddings indexed by them stay valid.
    """

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._index: dict[str, int] = {}
        self._ids: list[str] = []
        for external in ids:
            self.add(external)

    @classmethod
    def from_series(cls, ids: pd.Series) -> IdMap:
        """Ids in order of first appearance (fast path for large columns)."""
        mapping = cls()
        if isinstance(ids.dtype, pd.CategoricalDtype):  # first appearance read off the codes
            codes = ids.cat.codes.to_numpy()
            first = pd.unique(codes)
            values = ids.cat.categories.to_numpy(dtype=object)
            mapping._ids = [str(values[c]) if c >= 0 else str(pd.NA) for c in first]
        else:
            mapping._ids = [str(v) for v in pd.unique(ids.astype("string").to_numpy())]
        mapping._index = {v: i for i, v in enumerate(mapping._ids)}
        if len(mapping._index) != len(mapping._ids):
            raise ValueError("duplicate ids after conversion to text")
        return mapping

    def add(self, external: str) -> int:
        """Index of ``external``, appended when new."""
        external = str(external)
        idx = self._index.get(external)
        if idx is None:
            idx = len(self._ids)
            self._index[external] = idx
            self._ids.append(external)
        return idx

    def index(self, external: str) -> int:
        """Index of a known id; KeyError otherwise."""
        return self._index[str(external)]

    def get(self, external: str) -> int | None:
        return self._index.get(str(external))

    def lookup(self, ids: pd.Series | np.ndarray | list[str]) -> np.ndarray:
        """Vectorised indices of known ids; -1 for unknown ones."""
        if isinstance(ids, pd.Series) and isinstance(ids.dtype, pd.CategoricalDtype):
            per_value = self.lookup(ids.cat.categories.astype("string"))
            codes = ids.cat.codes.to_numpy()
            out = np.full(codes.size, -1, dtype=np.int64)
            out[codes >= 0] = per_value[codes[codes >= 0]]
            return out
        series = pd.Series(ids, dtype="string")
        codes = series.map(self._index)
        return codes.fillna(-1).to_numpy(dtype=np.int64)

    def external(self, index: int) -> str:
        return self._ids[index]

    @property
    def ids(self) -> list[str]:
        return list(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, external: object) -> bool:
        return str(external) in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and self._ids == other._ids

    def __repr__(self) -> str:
        return f"IdMap(size={len(self)})"

    def save(self, path: str | Path) -> None:
        """JSON object ``{external: index}`` (the ``user2idx.json`` layout)."""
        write_json(path, self._index)

    @classmethod
    def load(cls, path: str | Path) -> IdMap:
        raw: dict[str, int] = json.loads(Path(path).read_text())
        ordered = sorted(raw.items(), key=lambda kv: kv[1])
        if [i for _, i in ordered] != list(range(len(ordered))):
            raise ValueError(f"{path}: indices are not contiguous from 0")
        return cls(k for k, _ in ordered)
