"""Where batch answers go: part files (Parquet or CSV), the service's database, Redis.

A sink is opened once by the process that runs the batch (``begin``: old output cleared),
written by partition from wherever the partition was scored (this process or a Dask
worker: sinks travel by pickle and connect lazily), and closed once (``finish``).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from storex.batch.scoring import COLUMNS
from storex.errors import ConfigError
from storex.io import atomic_path, write_json

MANIFEST = "_manifest.json"
FileFormat = Literal["parquet", "csv"]
TABLE = "batch_recommendations"


class Sink(Protocol):
    def begin(self, run: dict[str, Any]) -> None: ...

    def write(self, part: int, frame: pd.DataFrame) -> None: ...

    def finish(self, summary: dict[str, Any]) -> None: ...

    def describe(self) -> str: ...


@dataclass
class FileSink:
    """One file per partition, ``part-00000.parquet`` ..., and ``_manifest.json`` last.

    The folder reads as one table (``pandas.read_parquet(folder)``; files starting with
    ``_`` are skipped). A folder that is neither empty nor an earlier batch output is never
    touched; an earlier output is replaced. The manifest is written after every part, so
    its presence means the output is complete.
    """

    folder: Path
    format: FileFormat = "parquet"

    def begin(self, run: dict[str, Any]) -> None:
        self.folder = Path(self.folder)
        if self.folder.exists():
            entries = list(self.folder.iterdir())
            if entries and not (self.folder / MANIFEST).is_file() and not _only_parts(entries):
                raise ConfigError(
                    f"{self.folder}: not empty and not a batch output; choose another --out"
                )
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)

    def write(self, part: int, frame: pd.DataFrame) -> None:
        path = Path(self.folder) / f"part-{part:05d}.{self.format}"
        with atomic_path(path) as tmp:
            if self.format == "parquet":
                frame.to_parquet(tmp, index=False)
            else:
                frame.to_csv(tmp, index=False)

    def finish(self, summary: dict[str, Any]) -> None:
        write_json(Path(self.folder) / MANIFEST, summary)

    def describe(self) -> str:
        return f"{self.format} files in {self.folder}"


def read_output(folder: str | Path) -> pd.DataFrame:
    """A :class:`FileSink` folder as one frame, in partition order."""
    folder = Path(folder)
    parts = sorted(p for p in folder.iterdir() if p.name.startswith("part-"))
    if not parts:
        return pd.DataFrame(columns=list(COLUMNS))
    reader = pd.read_parquet if parts[0].suffix == ".parquet" else _read_csv
    return pd.concat([reader(p) for p in parts], ignore_index=True)


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"user_id": str, "item_id": str})


def _only_parts(entries: list[Path]) -> bool:
    """An interrupted earlier output: nothing but part files (and their temporaries)."""
    return all(e.name.startswith(("part-", ".part-")) for e in entries)


@dataclass
class TableSink:
    """The service database's ``batch_recommendations`` table (migration 0002), replaced
    whole by each run through the service's bulk loading (COPY on PostgreSQL, batched
    inserts on SQLite), one transaction per partition."""

    url: str
    model_version: str = ""
    _engine: Any = field(default=None, repr=False, compare=False)

    def begin(self, run: dict[str, Any]) -> None:
        from sqlalchemy import text

        from storex.serve.db import upgrade_database

        upgrade_database(self.url)
        self.model_version = str(run.get("model_version", ""))
        with self._connect().begin() as connection:
            connection.execute(text(f"DELETE FROM {TABLE}"))

    def write(self, part: int, frame: pd.DataFrame) -> None:
        from storex.serve.db.bulk import upsert_rows
        from storex.serve.db.models import Base

        rows = len(frame)
        columns = {
            "user_id": frame["user_id"].tolist(),
            "rank": frame["rank"].astype(int).tolist(),
            "item_id": frame["item_id"].tolist(),
            "score": frame["score"].astype(float).tolist(),
            "model_version": [self.model_version] * rows,
            "created_at": pd.Series(datetime.now(UTC), index=range(rows)),
        }
        with self._connect().begin() as connection:
            upsert_rows(connection, Base.metadata.tables[TABLE], columns, key=("user_id", "rank"))

    def finish(self, summary: dict[str, Any]) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def describe(self) -> str:
        from sqlalchemy.engine import make_url

        return f"table {TABLE} of {make_url(self.url).render_as_string(hide_password=True)}"

    def _connect(self) -> Any:
        if self._engine is None:
            from storex.serve.db import make_engine

            self._engine = make_engine(self.url)
        return self._engine

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_engine": None}  # each process opens its own


@dataclass
class RedisSink:
    """One key per user, ``<prefix>:<user_id>``, holding the answer as JSON
    (``{"model_version", "items": [{"item_id", "score"}, ...]}``), optionally expiring."""

    url: str
    prefix: str = "storex:batch"
    ttl_seconds: int | None = None
    model_version: str = ""
    _client: Any = field(default=None, repr=False, compare=False)

    def begin(self, run: dict[str, Any]) -> None:
        self.model_version = str(run.get("model_version", ""))
        self._connect().ping()

    def write(self, part: int, frame: pd.DataFrame) -> None:
        users = frame["user_id"].to_numpy()
        items, scores = frame["item_id"].tolist(), frame["score"].round(6).tolist()
        starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]).tolist()
        with self._connect().pipeline(transaction=False) as pipe:
            for start, stop in zip(starts, [*starts[1:], len(users)], strict=True):
                answer = [
                    {"item_id": i, "score": s}
                    for i, s in zip(items[start:stop], scores[start:stop], strict=True)
                ]
                value = json.dumps({"model_version": self.model_version, "items": answer})
                pipe.set(f"{self.prefix}:{users[start]}", value, ex=self.ttl_seconds)
            pipe.execute()

    def finish(self, summary: dict[str, Any]) -> None:
        """The run's summary under ``<prefix>:_manifest``, written last."""
        self._connect().set(f"{self.prefix}:_manifest", json.dumps(summary))

    def describe(self) -> str:
        return f"redis keys {self.prefix}:<user_id>"

    def _connect(self) -> Any:
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(self.url)
        return self._client

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_client": None}
