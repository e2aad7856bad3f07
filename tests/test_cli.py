"""The storex command as a user runs it: a real process, JSON last, clear errors."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from storex.serve.engine.registry import ModelRegistry

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


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A folder where `storex train synthetic --model ease` ran, and its summary."""
    folder = tmp_path_factory.mktemp("trained")
    done = run("train", "synthetic", "--model", "ease", cwd=folder, data_dir=folder)
    assert done.returncode == 0, done.stderr
    return folder, json.loads(done.stdout.strip().splitlines()[-1])


def test_train_then_recommend_and_evaluate(trained):
    tmp_path, summary = trained
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


def test_each_training_run_is_published_as_the_current_version(trained, tmp_path):
    folder, summary = trained
    shutil.copytree(folder / "models", tmp_path / "models")
    first = Path(summary["bundles"]["ease"]).name
    pointer = tmp_path / "models" / "ease" / "current.json"
    assert json.loads(pointer.read_text())["version"] == first
    again = run("train", "synthetic", "--model", "ease", cwd=tmp_path, data_dir=tmp_path)
    assert again.returncode == 0, again.stderr
    second = Path(json.loads(again.stdout.strip().splitlines()[-1])["bundles"]["ease"]).name
    assert second > first and json.loads(pointer.read_text())["version"] == second
    assert ModelRegistry(tmp_path / "models", "ease").rollback() == first


def test_serve_with_no_option_after_training(trained):
    """The newest bundle under ./models and ./storex.db, filled from the bundle's data set."""
    folder, _ = trained
    assert not (folder / "storex.db").exists()
    port = free_port()
    env = {**os.environ, "STOREX_DATA_DIR": str(folder)}
    with (folder / "serve.log").open("wb") as log:
        server = subprocess.Popen(
            [*STOREX, "serve", "--port", str(port)], cwd=folder, env=env, stderr=log
        )
    try:
        base = f"http://127.0.0.1:{port}"
        health = wait_for(f"{base}/api/health", server, folder / "serve.log")
        assert health["status"] == "ok" and health["model_loaded"]
        assert httpx.get(f"{base}/api/items", params={"limit": 1}).json()["total"] > 0
        stats = httpx.get(f"{base}/api/ratings/stats").json()
        assert stats["count"] > 0  # the history came along
        users = json.loads(next(folder.glob("models/ease/*/user2idx.json")).read_text())
        answer = httpx.get(f"{base}/api/recommendations/{next(iter(users))}").json()
        assert answer["strategy"] in ("personalized", "fold_in") and answer["items"]
        assert answer["items"][0]["title"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert (folder / "storex.db").is_file()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, server: subprocess.Popen, log: Path) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text()[-2000:]}")
        try:
            return httpx.get(url, timeout=2).json()
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"no answer from {url} in 120 s")


SMALL_SESSION_SETTINGS = """
datasets:
  default:
    models:
      graph_transformer: {dim: 16, pe_dim: 4, epochs: 2, patience: 1, threads: 1}
"""


@pytest.fixture(scope="module")
def session_trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A folder where `storex sessions train synthetic` ran with small settings, and its
    summary."""
    folder = tmp_path_factory.mktemp("sessions")
    (folder / "sessions.yaml").write_text(SMALL_SESSION_SETTINGS)
    done = run(
        "sessions", "train", "synthetic", "--config", "sessions.yaml", cwd=folder, data_dir=folder
    )
    assert done.returncode == 0, done.stderr
    return folder, json.loads(done.stdout.strip().splitlines()[-1])


def test_sessions_train_saves_the_model_and_prints_its_report(session_trained):
    folder, summary = session_trained
    assert (summary["dataset"], summary["model"]) == ("synthetic", "graph_transformer")
    saved = Path(summary["path"])
    assert saved == Path("models", "sessions", "graph_transformer", summary["version"])
    manifest = json.loads((folder / saved / "manifest.json").read_text())
    assert manifest["version"] == summary["version"] and manifest["config"]["dim"] == 16
    assert summary["training"]["epochs"] <= 2 and summary["items"] == manifest["num_items"]
    assert 0.0 <= summary["test"]["ndcg@10"] <= summary["test"]["recall@10"] <= 1.0
    data = summary["data"]
    assert data["train_samples"] > 0 and data["test_samples"] > 0 and "short_sessions" in data


def test_sessions_train_refuses_an_unknown_model(tmp_path):
    (tmp_path / "sessions.yaml").write_text(SMALL_SESSION_SETTINGS)
    done = run(
        "sessions", "train", "synthetic", "--model", "rnn", "--config", "sessions.yaml",
        cwd=tmp_path, data_dir=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "no session model 'rnn'" in done.stderr and "graph_transformer" in done.stderr
    assert not (tmp_path / "models").exists()


def test_serve_answers_sessions_from_the_newest_session_model(session_trained):
    """`storex serve` with no option finds the session model under ./models/sessions."""
    folder, summary = session_trained
    port = free_port()
    env = {**os.environ, "STOREX_DATA_DIR": str(folder)}
    with (folder / "serve.log").open("wb") as log:
        server = subprocess.Popen(
            [*STOREX, "serve", "--port", str(port)], cwd=folder, env=env, stderr=log
        )
    try:
        base = f"http://127.0.0.1:{port}"
        health = wait_for(f"{base}/api/health", server, folder / "serve.log")
        assert health["session_model_loaded"]
        assert health["session_model_version"] == summary["version"]
        items = json.loads((folder / summary["path"] / "items.json").read_text())
        known = list(items)[:2]  # {external id: index}
        answer = httpx.post(f"{base}/recommend", json={"session_items": known, "k": 5})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["strategy"] == "session_model" and len(body["items"]) == 5
        assert body["model_version"] == summary["version"] and body["unknown_items"] == []
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_train_without_cold_start_fits_once_and_says_why(trained, tmp_path):
    folder, _ = trained
    artifacts = next(p.parent for p in folder.rglob("manifest.json"))
    done = run(
        "train", str(artifacts), "--model", "ease", "--no-cold-start", cwd=tmp_path, data_dir=folder
    )
    assert done.returncode == 0, done.stderr
    ease = next(
        r for r in json.loads(done.stdout.splitlines()[-1])["results"] if r["model"] == "ease"
    )
    assert ease["cold_users_status"] == ease["cold_items_status"] == "skipped"
    assert "cold-start section skipped: turned off (--no-cold-start)" in done.stderr
