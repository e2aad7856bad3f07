"""The storex command as a user runs it: a real process, JSON last, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

STOREX = [sys.executable, "-c", "from storex.cli import main; main()"]


def run(*args: str, cwd: Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STOREX_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [*STOREX, *args], capture_output=True, text=True, cwd=cwd, env=env, check=False
    )


def test_prepare_prints_json_summary_last(tmp_path):
    done = run("data", "prepare", "synthetic", "--out", "g", cwd=tmp_path, data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"users", "items", "interactions", "dropped"} <= summary.keys()
    assert (tmp_path / "g" / "manifest.json").is_file()


def test_bad_input_exits_2_with_one_clear_line(tmp_path):
    bad = tmp_path / "shop"
    bad.mkdir()
    (bad / "interactions.csv").write_text("customer,product\n1,2\n")
    done = run("data", "prepare", str(bad), "--out", "g", cwd=tmp_path, data_dir=tmp_path)
    assert done.returncode == 2
    assert "error:" in done.stderr and "interactions.csv" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "g").exists()


def test_unknown_split_strategy_is_refused(tmp_path):
    done = run(
        "data",
        "prepare",
        "synthetic",
        "--out",
        "g",
        "--split",
        "sideways",
        cwd=tmp_path,
        data_dir=tmp_path,
    )
    assert done.returncode == 2
    assert "split.strategy" in done.stderr


def test_list_reports_missing_sets(tmp_path):
    done = run("data", "list", cwd=tmp_path, data_dir=tmp_path / "absent")
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout.strip().splitlines()[-1])
    names = {d["name"] for d in listing["datasets"]}
    assert {"ml-100k", "synthetic"} <= names


def test_train_then_recommend_and_evaluate(tmp_path):
    trained = run("train", "synthetic", "--model", "ease", cwd=tmp_path, data_dir=tmp_path)
    assert trained.returncode == 0, trained.stderr
    summary = json.loads(trained.stdout.strip().splitlines()[-1])
    bundle = Path(tmp_path / summary["bundles"]["ease"])
    assert (bundle / "bundle.json").is_file() and (bundle / "report" / "report.md").is_file()
    models = {row["model"] for row in summary["results"]}
    assert models == {"ease", "random", "most_popular"}
    ease = next(r for r in summary["results"] if r["model"] == "ease")
    popular = next(r for r in summary["results"] if r["model"] == "most_popular")
    assert ease["ndcg@10"] > popular["ndcg@10"]

    user = next(iter(json.loads((bundle / "user2idx.json").read_text())))
    answer = run("recommend", user, "--k", "5", cwd=tmp_path, data_dir=tmp_path)
    assert answer.returncode == 0, answer.stderr
    recommended = json.loads(answer.stdout.strip().splitlines()[-1])
    assert len(recommended["items"]) == 5 and recommended["model"] == "ease"

    unknown = run("recommend", "nobody", cwd=tmp_path, data_dir=tmp_path)
    assert unknown.returncode == 2 and "unknown user 'nobody'" in unknown.stderr

    evaluated = run("evaluate", "--bundle", str(bundle), cwd=tmp_path, data_dir=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads(evaluated.stdout.strip().splitlines()[-1])
    assert result["metrics"]["ndcg@10"] == pytest.approx(ease["ndcg@10"], abs=1e-4)
