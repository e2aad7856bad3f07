"""Public entry points: a whole store in memory, chunks of events, or parquet files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from storex.data.schema import StoreData
from storex.errors import ConfigError
from storex.io import atomic_path

from .behaviour import block_events
from .config import SyntheticConfig
from .population import UserBlock, iter_user_blocks
from .world import World, build_world

# Columns with few distinct values per row group; session ids and numbers gain nothing from
# a dictionary and cost half the write time with one.
_DICTIONARY_COLUMNS = ("user_id", "item_id", "event", "split")


def generate_store(config: SyntheticConfig | None = None) -> StoreData:
    """The whole synthetic store in memory (demo and test sized stores)."""
    config = config or SyntheticConfig()
    world = build_world(config)
    tables, users = [], []
    for block, events in _blocks(config, world):
        tables.append(events)
        users.append(block.table)
    return StoreData(
        name="synthetic",
        interactions=_to_frame(pa.concat_tables(tables)),
        items=world.catalog.items,
        users=pd.concat(users, ignore_index=True),
        source=f"synthetic:seed={config.seed}",
    )


def iter_interaction_chunks(
    config: SyntheticConfig | None = None, chunk_rows: int = 1_000_000
) -> Iterator[pd.DataFrame]:
    """Canonical interaction frames of ``chunk_rows`` rows (the last may be shorter).

    Shoppers are generated block by block, so memory stays bounded whatever the size of
    the store. Blocks depend on the config alone, never on ``chunk_rows``: the chunks,
    concatenated, equal ``generate_store(config).interactions`` row for row.
    """
    config = config or SyntheticConfig()
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    pending: list[pa.Table] = []
    held = 0
    for _, events in _blocks(config, build_world(config)):
        pending.append(events)
        held += events.num_rows
        while held >= chunk_rows:
            joined = pa.concat_tables(pending)
            yield _to_frame(joined.slice(0, chunk_rows))
            rest = joined.slice(chunk_rows)
            pending, held = [rest], rest.num_rows
    if held:
        yield _to_frame(pa.concat_tables(pending))


def write_store(config: SyntheticConfig | None, out_dir: str | Path) -> dict[str, int]:
    """Write users.parquet, items.parquet and interactions.parquet into ``out_dir``.

    Events are appended one shopper block at a time (one or more row groups each), so a
    store of tens of millions of events is written in bounded memory. Each file appears
    only once complete. Returns the row counts.
    """
    config = config or SyntheticConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    world = build_world(config)
    counts = {"users": 0, "items": len(world.catalog.items), "interactions": 0}
    with (
        atomic_path(out / "interactions.parquet") as events_tmp,
        atomic_path(out / "users.parquet") as users_tmp,
    ):
        events_writer = pq.ParquetWriter(
            events_tmp, world.interaction_schema, use_dictionary=list(_DICTIONARY_COLUMNS)
        )
        users_writer: pq.ParquetWriter | None = None
        try:
            for block, events in _blocks(config, world):
                events_writer.write_table(events)
                users_table = pa.Table.from_pandas(block.table, preserve_index=False)
                if users_writer is None:
                    users_writer = pq.ParquetWriter(users_tmp, users_table.schema)
                users_writer.write_table(users_table)
                counts["users"] += len(block.table)
                counts["interactions"] += events.num_rows
        finally:
            events_writer.close()
            if users_writer is not None:
                users_writer.close()
    with atomic_path(out / "items.parquet") as items_tmp:
        world.catalog.items.to_parquet(items_tmp, index=False)
    return counts


def _blocks(config: SyntheticConfig, world: World) -> Iterator[tuple[UserBlock, pa.Table]]:
    for b, block in enumerate(iter_user_blocks(config, world)):
        yield block, block_events(config, world, block, b)


def _to_frame(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas()
