"""Big Parquet interaction tables read batch by batch into integer codes.

Reading a 100M-row table with :func:`pandas.read_parquet` holds every id as a Python string
(tens of bytes each, several copies while converting). Here text columns never exist whole:
each record batch is dictionary-encoded by Arrow, its small per-batch dictionary is mapped to
codes that grow in order of first appearance, and only the int32 codes are kept. The result is
a frame whose text columns are :class:`pandas.Categorical` (codes plus the distinct values), the
same content :func:`storex.data.readers.tabular.read_table` gives as strings, at about 4 bytes a
cell. Numbers are read as they are stored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from storex.errors import DataError, MissingDataError

DEFAULT_BATCH_ROWS = 1_000_000


def parquet_rows(path: Path) -> int:
    """Rows of a Parquet file from its footer (no data read)."""
    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"cannot be read as Parquet: {exc}", path=path) from exc


def read_parquet_codes(path: Path, *, batch_rows: int = DEFAULT_BATCH_ROWS) -> pd.DataFrame:
    """The whole table, text columns as categoricals built batch by batch (module docstring).

    Missing text stays missing (code -1); nothing is dropped, so the frame has exactly the
    file's rows, in file order.
    """
    if not path.is_file():
        raise MissingDataError("file not found", path=path)
    try:
        parquet = pq.ParquetFile(path)
        n_rows = parquet.metadata.num_rows
        schema = parquet.schema_arrow
        columns = {field.name: _Column.for_type(field.type, n_rows) for field in schema}
        start = 0
        for batch in parquet.iter_batches(batch_size=batch_rows):
            for name, column in columns.items():
                column.put(start, batch.column(name))
            start += batch.num_rows
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"cannot be read as Parquet: {exc}", path=path) from exc
    if start != n_rows:
        raise DataError(f"footer says {n_rows} rows, batches held {start}", path=path)
    return pd.DataFrame({name: column.finish() for name, column in columns.items()}, copy=False)


class _Column:
    """One column being filled: text as growing codes, anything else as plain values."""

    def __init__(self, n_rows: int, text: bool) -> None:
        self.text = text
        self.codes = np.empty(n_rows, dtype=np.int32) if text else None
        self.index: dict[str, int] = {}
        self.parts: list[pa.Array] = []

    @classmethod
    def for_type(cls, kind: pa.DataType, n_rows: int) -> _Column:
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        return cls(n_rows, pa.types.is_string(kind) or pa.types.is_large_string(kind))

    def put(self, start: int, values: pa.Array) -> None:
        if not self.text:
            self.parts.append(values)
            return
        if pa.types.is_dictionary(values.type):
            values = values.dictionary_decode()  # a file's dictionary may hold unused values
        encoded = pc.dictionary_encode(values)
        local = encoded.dictionary.to_pylist()
        mapping = np.fromiter(
            (self.index.setdefault(text, len(self.index)) for text in local),
            dtype=np.int32,
            count=len(local),
        )
        indices = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        out = self.codes[start : start + len(values)]
        out[:] = -1
        present = indices >= 0
        out[present] = mapping[indices[present]]

    def finish(self) -> pd.Series:
        if not self.text:
            chunked = pa.chunked_array(self.parts) if self.parts else pa.array([])
            self.parts = []
            return chunked.to_pandas()
        categories = pd.Index(list(self.index), dtype=object)
        self.index = {}
        return pd.Series(pd.Categorical.from_codes(self.codes, categories=categories))
