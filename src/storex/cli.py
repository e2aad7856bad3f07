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

from storex.cli_batch import batch_app
from storex.config import Settings, load_settings
from storex.errors import StorexError
from storex.log import setup_logging

app = typer.Typer(help="StoreX: graph-neural-network recommendations for online stores.")
data_app = typer.Typer(help="Read, generate and prepare data sets.")
app.add_typer(data_app, name="data")
db_app = typer.Typer(help="The service's database.")
app.add_typer(db_app, name="db")
sessions_app = typer.Typer(help="Session-based recommendations for anonymous visitors.")
app.add_typer(sessions_app, name="sessions")
app.add_typer(batch_app, name="batch")

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


DEMO_MODELS = ("graphsage", "lightgcn")
DEMO_SESSION_MODEL = "graph_transformer"


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the prepared data.")] = Path(
        "artifacts/demo"
    ),
    models_root: Annotated[
        Path | None, typer.Option(help="Root folder of model bundles (default: models_dir).")
    ] = None,
) -> None:
    """The main job on the embedded synthetic store: no network, no data folder needed.

    Prepares the store, trains the GNN models beside Random and MostPopular, evaluates them
    on test and writes a model bundle with its report per model; then trains the store's
    session model (for POST /recommend) under <models_root>/sessions/.
    """
    settings = _settings()
    prepared = _run_prepare("synthetic", out, settings)
    models = models_root or settings.models_dir
    summary = _train(out, "synthetic", list(DEMO_MODELS), models, config=None)
    sessions = _train_sessions("synthetic", DEMO_SESSION_MODEL, None, None, models, settings)
    _emit(
        {
            "demo": str(out),
            "data": prepared,
            **summary,
            "sessions": sessions,
            "next": "storex serve",
        }
    )


@app.command()
def train(
    source: Annotated[
        str, typer.Argument(help="Prepared artifacts folder, data set name or path.")
    ],
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="Model name; repeat for several.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="YAML with tuned settings (default configs/<dataset>.yaml).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Root folder of model bundles (default: models_dir).")
    ] = None,
    cold_start: Annotated[
        bool | None,
        typer.Option(
            "--cold-start/--no-cold-start",
            help="Refit for the report's cold-start section (default: on up to the "
            "cold_start_max_edges setting, off above it).",
        ),
    ] = None,
    processes: Annotated[
        int, typer.Option(min=1, help="Data-parallel training processes (torch.distributed).")
    ] = 1,
) -> None:
    """Train models with their tuned settings, evaluate on test beside the baselines, bundle.

    Each model is fitted once; the cold-start section of the report refits it (once per
    scenario), which is skipped by default on big training graphs and says so in the report.
    """
    settings = _settings()
    artifacts, dataset = _artifacts_for(source, settings)
    models = out or settings.models_dir
    _emit(
        _train(
            artifacts,
            dataset,
            model or ["graphsage"],
            models,
            config=config,
            cold_start=cold_start,
            cold_start_max_edges=settings.cold_start_max_edges,
            processes=processes,
        )
    )


@sessions_app.command("train")
def sessions_train(
    dataset: Annotated[
        str, typer.Argument(help="Data set name (diginetica-sample, synthetic, ...) or path.")
    ],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model entry of the settings file.")
    ] = DEMO_SESSION_MODEL,
    config: Annotated[
        Path | None, typer.Option(help="Session settings YAML (default configs/sessions.yaml).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Model folder (default <models_dir>/sessions/<model>/<version>)."),
    ] = None,
) -> None:
    """Train a session model with its tuned settings, score it on test and save it."""
    settings = _settings()
    _emit(_train_sessions(dataset, model, config, out, settings.models_dir, settings))


@app.command("evaluate")
def evaluate_bundle(
    bundle: Annotated[Path | None, typer.Option(help="Bundle folder (default: newest).")] = None,
    data: Annotated[
        Path | None, typer.Option(help="Prepared artifacts to evaluate on (default: training's).")
    ] = None,
    models_root: Annotated[
        Path | None, typer.Option(help="Root folder of model bundles (default: models_dir).")
    ] = None,
) -> None:
    """Evaluate a bundle on the test split under both protocols, beside the baselines."""
    from storex.bundle import ModelBundle
    from storex.evaluate import evaluate, write_report
    from storex.experiment import PROTOCOLS, run_models
    from storex.models.data import InteractionData

    settings = _settings()
    folder = bundle or _newest_bundle(models_root or settings.models_dir)
    loaded = ModelBundle.load(folder)
    artifacts = data or Path(str(loaded.info.get("artifacts", "")))
    held_out = InteractionData.from_artifacts(artifacts)
    rows = [
        evaluate(loaded.model, held_out, protocol=p).to_dict()  # type: ignore[arg-type]
        for p in PROTOCOLS
    ]
    for baseline in run_models(held_out, str(loaded.info.get("dataset", "")), []):
        rows += baseline.evaluations
    report = write_report(folder / "report", rows)
    reference = next(r for r in rows if r["protocol"] == "reference")
    _emit({"bundle": str(folder), "report": str(report["report.md"]), **reference})


@app.command()
def recommend(
    user: Annotated[str, typer.Argument(help="External user id.")],
    k: Annotated[int, typer.Option(help="How many items.")] = 10,
    bundle: Annotated[Path | None, typer.Option(help="Bundle folder (default: newest).")] = None,
    include_seen: Annotated[bool, typer.Option(help="Also recommend items already seen.")] = False,
    models_root: Annotated[
        Path | None, typer.Option(help="Root folder of model bundles (default: models_dir).")
    ] = None,
) -> None:
    """Top-K items for a known user from a trained bundle."""
    import torch

    from storex.bundle import ModelBundle
    from storex.errors import DataError

    settings = _settings()
    loaded = ModelBundle.load(bundle or _newest_bundle(models_root or settings.models_dir))
    index = loaded.user_map.get(user)
    if index is None:
        raise DataError(f"unknown user {user!r}: not in the bundle's training data")
    exclude = None if include_seen else loaded.data.matrix("train")
    items, scores = loaded.model.recommend(torch.tensor([index]), k, exclude=exclude)
    _emit(
        {
            "user": user,
            "model": loaded.model.name,
            "version": loaded.version,
            "items": [loaded.item_map.external(int(i)) for i in items[0] if i >= 0],
            "scores": [round(float(x), 5) for x in scores[0][items[0] >= 0]],
        }
    )


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8000).")] = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy database URL (default sqlite:///storex.db).")
    ] = None,
    models_dir: Annotated[
        Path | None, typer.Option(help="Root folder of model bundles (default: models_dir).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Server processes on the port (default 1); >1 needs Redis."),
    ] = None,
) -> None:
    """Start the recommendation service (REST API, docs at /docs) on the newest bundle.

    With no option it serves right after `storex demo`: the newest bundle under models_dir,
    and the SQLite file storex.db, filled from the bundle's data set when it has no items.
    Every option is also a setting (STOREX_SERVE__PORT, STOREX_MODELS_DIR, ...). With
    --workers N every worker has its own engine, and live updates reach the others through
    Redis (STOREX_SERVE__REDIS_URL), which several workers require.
    """
    from storex.serve.server import run

    serve_overrides = {
        "port": port,
        "host": host,
        "database_url": database_url,
        "workers": workers,
    }
    chosen = {k: v for k, v in serve_overrides.items() if v is not None}
    run(_settings(models_dir=models_dir, serve=chosen or None))


@db_app.command("init")
def db_init(
    source: Annotated[
        str | None, typer.Option("--from", help="Data set name or path whose catalog to load.")
    ] = None,
    with_history: Annotated[bool, typer.Option(help="Also load the ratings.")] = False,
    url: Annotated[str | None, typer.Option(help="Database URL (default: the service's).")] = None,
) -> None:
    """Create or migrate the database, optionally loading a catalog (and its ratings)."""
    from storex.serve.db import init_database

    settings = _settings()
    database = url or settings.serve.database_url
    with err_console.status(f"initialising {database}"):
        counts = init_database(
            database, source=source, data_dir=settings.data_dir, with_history=with_history
        )
    _emit({"database": database, **counts})


def _artifacts_for(source: str, settings: Settings) -> tuple[Path, str]:
    """A prepared artifacts folder for ``source`` (preparing it when needed) and its name."""
    path = Path(source)
    if (path / "manifest.json").is_file():
        summary = path / "summary.json"
        dataset = json.loads(summary.read_text())["dataset"] if summary.is_file() else path.name
        return path, str(dataset)
    dataset = path.name if path.exists() else source
    artifacts = settings.artifacts_dir / dataset
    _run_prepare(source, artifacts, settings)
    return artifacts, dataset


def _train(
    artifacts: Path,
    dataset: str,
    models: list[str],
    out: Path,
    *,
    config: Path | None,
    cold_start: bool | None = None,
    cold_start_max_edges: int = 2_000_000,
    processes: int = 1,
) -> dict[str, Any]:
    from storex.evaluate.report import BASELINES
    from storex.experiment import (
        cold_start_skip_reason,
        run_models,
        save_bundle,
        skipped_cold_start,
    )
    from storex.models.data import InteractionData
    from storex.serve.engine.registry import ModelRegistry

    data = InteractionData.from_artifacts(artifacts)
    registry = ModelRegistry(out)
    with err_console.status(f"training {', '.join(models)} on {dataset}"):
        results = run_models(data, dataset, models, config=config, processes=processes)
    baselines = [r for r in results if r.model.name in BASELINES and r.model.name not in models]
    skip_reason = cold_start_skip_reason(data, cold_start, cold_start_max_edges)
    bundles = {}
    for result in results:
        if result in baselines:
            continue
        if skip_reason is not None:
            err_console.print(f"cold-start section skipped: {skip_reason}", highlight=False)
            result.cold_start = skipped_cold_start(skip_reason)
        bundle = save_bundle(result, data, artifacts, out, dataset=dataset, baselines=baselines)
        bundles[result.model.name] = str(bundle.path)
        registry.publish(bundles[result.model.name], name=result.model.name)  # rollback target
    for result in results:
        err_console.print(json.dumps(result.summary(dataset)), soft_wrap=True, highlight=False)
    return {
        "dataset": dataset,
        "bundles": bundles,
        "results": [r.summary(dataset) for r in results],
    }


def _train_sessions(
    dataset: str,
    model: str,
    config: Path | None,
    out: Path | None,
    models_root: Path,
    settings: Settings,
) -> dict[str, Any]:
    """Train, save and test one session model; the summary holds the data counts too."""
    from storex.config import SESSION_MODELS_FOLDER
    from storex.sessions import evaluate_next_item, train_session_model

    with err_console.status(f"training session model {model} on {dataset}"):
        fitted, data = train_session_model(
            dataset, model, settings_path=config, cache_dir=settings.cache_dir / "sessions"
        )
    folder = out or models_root / SESSION_MODELS_FOLDER / model / fitted.version_
    fitted.save(folder)
    test = data.samples["test"]
    return {
        "dataset": data.name,
        "model": model,
        "path": str(folder),
        "version": fitted.version_,
        "items": fitted.num_items,
        "training": fitted.training_,
        "test": evaluate_next_item(fitted, test) if len(test) else None,
        "data": data.report,
    }


def _newest_bundle(models_root: Path) -> Path:
    """The most recent bundle under ``models_root`` (versions sort by time)."""
    from storex.bundle import BUNDLE_FILE
    from storex.errors import MissingDataError

    found = sorted(models_root.glob(f"*/*/{BUNDLE_FILE}"), key=lambda p: p.parent.name)
    if not found:
        raise MissingDataError(
            "no model bundle found; train one with `storex train` or `storex demo`",
            path=models_root,
        )
    return found[-1].parent


def main() -> None:
    """Entry point: StoreX errors become one clear line on stderr and exit code 2."""
    try:
        app()
    except StorexError as exc:
        err_console.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
        raise SystemExit(2) from exc
