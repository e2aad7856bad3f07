"""The ``storex`` command: a thin shell over the library calls.

Human-facing progress goes to stderr; the last line on stdout is a JSON summary, so scripts
can read it with ``tail -n 1``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from storex.config import Settings, load_settings
from storex.errors import StorexError
from storex.log import setup_logging

app = typer.Typer(help="StoreX: graph-neural-network recommendations for online stores.")
data_app = typer.Typer(help="Read, generate and prepare data sets.")
app.add_typer(data_app, name="data")

err_console = Console(stderr=True)

PIPELINE_STAGES = ("read", "clean", "split", "features", "graph", "save")


def _settings(**overrides: Any) -> Settings:
    settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    setup_logging(settings.log_level)
    return settings


def _emit(summary: dict[str, Any]) -> None:
    """Print the machine-readable summary as the last line of stdout."""
    sys.stdout.write(json.dumps(summary, default=str) + "\n")


def _run_prepare(source: str, out: Path, settings: Settings) -> dict[str, Any]:
    from storex.pipeline import prepare

    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        task = progress.add_task(f"{source}: starting", total=len(PIPELINE_STAGES))

        def on_stage(name: str) -> None:
            progress.update(task, description=f"{source}: {name}", completed=_stage_index(name))

        result = prepare(source, out, settings, on_stage=on_stage)
        progress.update(task, description=f"{source}: done", completed=len(PIPELINE_STAGES))
    return result.summary


def _stage_index(name: str) -> int:
    return PIPELINE_STAGES.index(name) if name in PIPELINE_STAGES else 0


@data_app.command("prepare")
def data_prepare(
    source: Annotated[str, typer.Argument(help="Data set name (see `storex data list`) or path.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the artifacts.")],
    split: Annotated[
        str | None,
        typer.Option(help="random, temporal, leave-last-out, cold-users or cold-items."),
    ] = None,
    k_core: Annotated[int | None, typer.Option(help="Iterative k-core filter; 0 = off.")] = None,
    implicit_threshold: Annotated[
        float | None, typer.Option(help="Ratings at or above this are positives.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for splits and sampling.")] = None,
) -> None:
    """Read, clean, split and encode a data set, and save its graph artifacts."""
    base = load_settings()
    cleaning = base.cleaning.model_copy(
        update={
            k: v
            for k, v in {"k_core": k_core, "implicit_threshold": implicit_threshold}.items()
            if v is not None
        }
    )
    split_settings = base.split.model_copy(
        update={k: v for k, v in {"strategy": split, "seed": seed}.items() if v is not None}
    )
    settings = _settings(
        cleaning=cleaning.model_dump(), split=split_settings.model_dump(), seed=seed
    )
    _emit(_run_prepare(source, out, settings))


@data_app.command("list")
def data_list() -> None:
    """List the data sets StoreX knows by name and whether they are present."""
    from storex.data.catalog import describe_datasets

    settings = _settings()
    _emit({"data_dir": str(settings.data_dir), "datasets": describe_datasets(settings.data_dir)})


@data_app.command("download")
def data_download(
    name: Annotated[str, typer.Argument(help="ml-100k, ml-1m, amazon-2023:<Category>, ...")],
    cache_dir: Annotated[Path | None, typer.Option(help="Where downloads are kept.")] = None,
) -> None:
    """Download a public data set from its official address into the cache."""
    from storex.data.download import download

    settings = _settings()
    path = download(name, cache_dir or settings.cache_dir)
    _emit({"dataset": name, "path": str(path)})


@data_app.command("synth")
def data_synth(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the Parquet files.")],
    users: Annotated[int, typer.Option(help="Number of users.")] = 1_000,
    items: Annotated[int, typer.Option(help="Number of items.")] = 600,
    interactions: Annotated[int, typer.Option(help="Target number of interactions.")] = 40_000,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 42,
) -> None:
    """Generate a synthetic store as Parquet files (streamed; millions of rows are fine)."""
    from storex.data.synthetic import SyntheticConfig, write_store

    _settings()
    config = SyntheticConfig(n_users=users, n_items=items, n_interactions=interactions, seed=seed)
    with err_console.status(f"generating {interactions:,} interactions"):
        counts = write_store(config, out)
    _emit({"out": str(out), **counts})


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's artifacts.")] = Path(
        "artifacts/demo"
    ),
) -> None:
    """The main job on the embedded synthetic store: no network, no data folder needed."""
    settings = _settings()
    summary = _run_prepare("synthetic", out / "data", settings)
    _emit({"demo": "data pipeline", "artifacts": str(out / "data"), **summary})


def main() -> None:
    """Entry point: StoreX errors become one clear line on stderr and exit code 2."""
    try:
        app()
    except StorexError as exc:
        err_console.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
        raise SystemExit(2) from exc
