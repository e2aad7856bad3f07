"""What the training loop writes around its steps: TensorBoard events and the progress bar."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from storex.train.callbacks import EpochLog
from tests.train.test_trainer import grouped_data, lightgcn


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_run_with_a_log_path_writes_tensorboard_events(tmp_path: Path) -> None:
    log_path = tmp_path / "run" / "train.jsonl"
    model = lightgcn(epochs=4, eval_every=2, extra={"log_path": str(log_path)}).fit(grouped_data())
    events = list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1
    scalars = EventAccumulator(str(events[0])).Reload()
    assert {"loss", "ndcg@20", "recall@10", "seconds"} <= set(scalars.Tags()["scalars"])
    losses = [(e.step, e.value) for e in scalars.Scalars("loss")]
    expected = [(r["epoch"], r["loss"]) for r in model.history_]
    assert [step for step, _ in losses] == [step for step, _ in expected]
    assert [value for _, value in losses] == pytest.approx([v for _, v in expected], rel=1e-6)
    assert [e.step for e in scalars.Scalars("ndcg@20")] == [2, 4]


def test_no_log_path_no_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    lightgcn(epochs=1).fit(grouped_data())
    assert not list(tmp_path.rglob("events.out.tfevents.*"))


def test_progress_bar_on_a_terminal_counts_epochs(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with EpochLog(None, total_epochs=5, start_epoch=1) as epoch_log:
        assert epoch_log.progress is not None
        epoch_log.write({"epoch": 2, "loss": 0.5, "ndcg@20": 0.25, "seconds": 1.0})
        epoch_log.write({"epoch": 3, "loss": 0.4, "rmse": 0.95, "seconds": 1.0})
        task = epoch_log.progress.tasks[0]
        assert (task.completed, task.total) == (3, 5)
        assert task.description == "loss=0.4000 rmse=0.9500"
    assert not epoch_log.progress.live.is_started
    assert "loss=0.4000 rmse=0.9500" in terminal.getvalue()


def test_no_progress_bar_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with EpochLog(None, total_epochs=3) as epoch_log:
        epoch_log.write({"epoch": 1, "loss": 0.5})
        assert epoch_log.progress is None
