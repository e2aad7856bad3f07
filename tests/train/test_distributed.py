"""Data-parallel training on two real gloo processes: ranks stay in step, quality holds."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from storex.evaluate import evaluate
from storex.train.distributed import RANK_FILE, fit_distributed
from tests.train.test_trainer import grouped_data, lightgcn


@pytest.mark.slow
def test_two_processes_keep_identical_parameters_and_learn(tmp_path: Path) -> None:
    data = grouped_data()
    parallel = lightgcn(epochs=10, eval_every=5)
    parallel.spec_ = data.spec
    torch.manual_seed(parallel.train.seed)
    parallel.module_ = parallel.build_module(data.spec)
    history = fit_distributed(parallel, data, 2, rank_dir=tmp_path)

    ranks = [torch.load(tmp_path / RANK_FILE.format(rank=r)) for r in range(2)]
    for name, value in ranks[0]["module"].items():
        assert torch.equal(value, ranks[1]["module"][name]), name
    assert [r["epoch"] for r in history] == list(range(1, 11))

    single = lightgcn(epochs=10, eval_every=5).fit(data)
    got = evaluate(parallel, data, split="test").metrics["recall@10"]
    want = evaluate(single, data, split="test").metrics["recall@10"]
    assert got >= 0.9 * want and got > 0.5


@pytest.mark.slow
def test_the_processes_option_trains_through_the_group() -> None:
    data = grouped_data()
    model = lightgcn(epochs=2, extra={"processes": 2}).fit(data)
    assert len(model.history_) == 2
    assert model.score(torch.arange(data.num_users)).shape == (data.num_users, data.num_items)
