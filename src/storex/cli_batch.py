"""``storex batch recommend``: :mod:`storex.batch` behind a command line (kept apart from
the package so that ``storex --help`` imports no torch).

A table of figures goes to stderr; the last line on stdout is the JSON summary.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from storex.errors import ConfigError, DataError

batch_app = typer.Typer(help="Score every user at once: files, the database or Redis.")
err_console = Console(stderr=True)
Destination = Literal["parquet", "csv", "db", "redis"]


@batch_app.command("recommend")
def batch_recommend(
    to: Annotated[
        str, typer.Option(help="Where answers go: parquet, csv (--out), db or redis.")
    ] = "parquet",
    out: Annotated[Path | None, typer.Option(help="Folder of part files (parquet, csv).")] = None,
    k: Annotated[int, typer.Option("-k", "--k", min=1, help="Items per user.")] = 10,
    bundle: Annotated[Path | None, typer.Option(help="Bundle folder (default: newest).")] = None,
    models_root: Annotated[
        Path | None, typer.Option(help="Root folder of model bundles (default: models_dir).")
    ] = None,
    users: Annotated[
        Path | None,
        typer.Option(help="Users to answer: one id per line, or a table with user_id."),
    ] = None,
    include_seen: Annotated[bool, typer.Option(help="Also recommend items already seen.")] = False,
    category: Annotated[str | None, typer.Option(help="Only items of this category.")] = None,
    min_price: Annotated[float | None, typer.Option(help="Lowest price.")] = None,
    max_price: Annotated[float | None, typer.Option(help="Highest price.")] = None,
    in_stock_only: Annotated[bool, typer.Option(help="Only items in stock.")] = False,
    allowed_items: Annotated[
        Path | None, typer.Option(help="Only these items: one id per line, or a table.")
    ] = None,
    catalog: Annotated[
        Path | None,
        typer.Option(help="Items table for the filters (default: the database's items)."),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Service database (default: the serve setting).")
    ] = None,
    redis_url: Annotated[
        str | None, typer.Option(help="Redis URL (default: serve setting).")
    ] = None,
    dask: Annotated[bool, typer.Option(help="Run on a Dask LocalCluster.")] = False,
    scheduler: Annotated[
        str | None, typer.Option(help="Run on this Dask scheduler (tcp://host:8786).")
    ] = None,
    dask_workers: Annotated[int, typer.Option(min=1, help="LocalCluster workers.")] = 2,
    partition_users: Annotated[int, typer.Option(min=1, help="Users per partition.")] = 65_536,
    memory_mb: Annotated[float, typer.Option(help="Memory for one chunk of scores.")] = 256.0,
) -> None:
    """Top-K for every user of a bundle (or --users), seen items excluded and the API's
    filters applied, in chunks sized to --memory-mb, here or on Dask (--dask, --scheduler).

    Parquet/CSV go to --out as one file per partition plus _manifest.json; `db` fills
    the service database's batch_recommendations table; `redis` sets one key per user.
    """
    from storex.batch import BatchFilters, BatchJob, gemm_peak_gflops, run_dask, run_local
    from storex.bundle import ModelBundle
    from storex.cli import _newest_bundle, _settings

    settings = _settings()
    database_url = database_url or settings.serve.database_url
    loaded = ModelBundle.load(bundle or _newest_bundle(models_root or settings.models_dir))
    filters = BatchFilters(
        exclude_rated=not include_seen,
        category=category,
        min_price=min_price,
        max_price=max_price,
        in_stock_only=in_stock_only,
        allowed_items=None if allowed_items is None else tuple(_read_ids(allowed_items, "item_id")),
    )
    items = _catalog(catalog, database_url) if filters.needs_catalog else None
    job = BatchJob(
        loaded,
        k=k,
        filters=filters,
        catalog=items,
        users=None if users is None else _read_ids(users, "user_id"),
        partition_users=partition_users,
        memory_mb=memory_mb,
    )
    sink = _sink(_destination(to), out, database_url, redis_url or settings.serve.redis_url)
    peak = gemm_peak_gflops() if job.flops is not None else None
    with ExitStack() as stack:
        progress = stack.enter_context(
            Progress(
                *Progress.get_default_columns()[:1],
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err_console,
            )
        )
        task = progress.add_task("users", total=len(job.users))

        def advance(count: int) -> None:
            progress.advance(task, count)

        if dask or scheduler:
            client = stack.enter_context(_dask_client(scheduler, dask_workers))
            result = run_dask(job, sink, client, advance)
        else:
            result = run_local(job, sink, advance)
    summary = result.as_dict()
    if peak is not None and result.gflops is not None:
        summary |= {"peak_gflops": round(peak, 2), "ratio": round(result.gflops / peak, 3)}
    _print_table(summary)
    sys.stdout.write(json.dumps(summary, default=str) + "\n")


def _destination(to: str) -> Destination:
    if to not in ("parquet", "csv", "db", "redis"):
        raise ConfigError(f"--to must be parquet, csv, db or redis, got {to!r}")
    return to  # type: ignore[return-value]


def _sink(to: Destination, out: Path | None, database_url: str, redis_url: str | None) -> Any:
    from storex.batch import FileSink, RedisSink, TableSink

    if to in ("parquet", "csv"):
        if out is None:
            raise ConfigError(f"--to {to} writes part files: give --out FOLDER")
        return FileSink(out, to)  # type: ignore[arg-type]
    if to == "db":
        return TableSink(database_url)
    if not redis_url:
        raise ConfigError("--to redis needs --redis-url (or the serve.redis_url setting)")
    return RedisSink(redis_url)


@contextmanager
def _dask_client(scheduler: str | None, workers: int) -> Iterator[Any]:
    """A client of the given scheduler, or of a new LocalCluster closed afterwards."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _read_ids(path: Path, column: str) -> list[str]:
    """Ids from a text file (one per line) or a table's ``column``."""
    from storex.data.readers.tabular import read_table

    if path.suffix.lower() in (".txt", ".ids", ""):
        if not path.is_file():
            raise DataError("file not found", path=path)
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    table = read_table(path)
    if column not in table.columns:
        raise DataError(f"no {column!r} column (has {list(table.columns)})", path=path)
    missing = table[column].isna()
    if missing.any():
        row = int(missing.to_numpy().argmax()) + 2  # header is line 1
        raise DataError(f"row {row}: {column} is empty", path=path)
    return table[column].astype(str).tolist()


def _catalog(path: Path | None, database_url: str) -> Any:
    """The items table the filters read: the given file, else the service database's."""
    if path is not None:
        from storex.data.readers.tabular import read_table

        return read_table(path)
    from sqlalchemy.engine import make_url

    from storex.serve.db import catalog_frame, make_engine, make_session_factory, upgrade_database

    upgrade_database(database_url)  # an empty database gets the schema, then says it is empty
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            frame = catalog_frame(session)
    finally:
        engine.dispose()
    if frame.empty:
        shown = make_url(database_url).render_as_string(hide_password=True)
        raise ConfigError(
            f"category, price and stock filters need the shop's catalog, and {shown} "
            "holds no items: load it (`storex db init --from DATASET`, or `storex serve` "
            "fills it), or give --catalog FILE or --database-url"
        )
    return frame


def _print_table(summary: dict[str, Any]) -> None:
    table = Table(title="batch recommend", show_header=False)
    for key in ("users", "unknown_users", "rows", "partitions", "workers", "seconds", "gflops"):
        table.add_row(key, str(summary.get(key)))
    if "ratio" in summary:
        table.add_row("peak_gflops", str(summary["peak_gflops"]))
        table.add_row("share of peak", str(summary["ratio"]))
    table.add_row("written to", str(summary["sink"]))
    err_console.print(table)
