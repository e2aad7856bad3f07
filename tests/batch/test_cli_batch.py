"""``storex batch recommend`` as a user runs it: one process, then a Dask LocalCluster, the
same files; a JSON summary last; clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from storex.batch import read_output
from tests.batch.conftest import catalog_of

STOREX = [sys.executable, "-c", "from storex.cli import main; main()"]


def batch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STOREX_MODELS_DIR": str(cwd / "models")}
    return subprocess.run(
        [*STOREX, "batch", "recommend", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
        timeout=300,
    )


def test_one_process_and_a_local_cluster_write_the_same_answers(lightgcn_bundle, tmp_path):
    pytest.importorskip("distributed", reason="Dask needs the 'scale' extra")
    catalog = catalog_of().assign(categories=lambda f: f["categories"].str.join("|"))
    catalog.to_csv(tmp_path / "items.csv", index=False)
    common = ["--bundle", str(lightgcn_bundle.path), "-k", "4", "--category", "garden"]
    common += ["--catalog", "items.csv", "--partition-users", "50"]
    here = batch(*common, "--out", "here", cwd=tmp_path)
    assert here.returncode == 0, here.stderr
    summary = json.loads(here.stdout.strip().splitlines()[-1])
    assert summary["users"] == 150 and summary["rows"] == 600 and summary["partitions"] == 3
    assert summary["gflops"] > 0 and summary["ratio"] > 0 and summary["peak_gflops"] > 0
    there = batch(*common, "--out", "there", "--dask", "--dask-workers", "2", cwd=tmp_path)
    assert there.returncode == 0, there.stderr
    assert json.loads(there.stdout.strip().splitlines()[-1])["workers"] == 2
    frame = read_output(tmp_path / "there")
    pd.testing.assert_frame_equal(frame, read_output(tmp_path / "here"))
    garden = {f"i{i}" for i in range(2, 3000, 3)}
    assert set(frame["item_id"]) <= garden


def test_files_without_a_folder_are_refused_in_one_line(lightgcn_bundle, tmp_path):
    done = batch("--bundle", str(lightgcn_bundle.path), "--to", "csv", cwd=tmp_path)
    assert done.returncode == 2
    assert "give --out FOLDER" in done.stderr and "Traceback" not in done.stderr


def test_filters_over_an_empty_database_say_how_to_load_it(lightgcn_bundle, tmp_path):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    done = batch(
        "--bundle", str(lightgcn_bundle.path), "--to", "db", "--database-url", url,
        "--category", "books", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "holds no items" in done.stderr and "storex db init" in done.stderr
