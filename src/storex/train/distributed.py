"""Multi-process data-parallel training with ``torch.distributed``.

:func:`fit_distributed` spawns ``processes`` ranks (``torch.multiprocessing.spawn``) in one
process group, gloo on CPU and NCCL on GPUs. Every rank builds the same module from the same
seed and runs :class:`storex.train.Trainer` with its rank: each takes its share of every
epoch's shuffled batches, gradients are all-reduced to their mean before each optimiser step
(so parameters stay identical on every rank), and rank 0 validates, decides early stopping
for all and hands the trained module back through a file. Asked for with
``TrainConfig.extra["processes"]`` (``storex train --processes N``).
"""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from storex.devices import training_device
from storex.errors import ModelError
from storex.models.data import InteractionData
from storex.models.neural import EmbeddingRecommender, TrainConfig
from storex.train.threads import resolve_threads

RANK_FILE = "rank{rank}.pt"


def fit_distributed(
    recommender: EmbeddingRecommender,
    data: InteractionData,
    processes: int,
    *,
    rank_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """Train ``recommender.module_`` on ``processes`` ranks; returns rank 0's history and
    leaves its module and embeddings in ``recommender``. ``rank_dir`` keeps each rank's
    final parameters (``rank{r}.pt``), to check that they agree."""
    with tempfile.TemporaryDirectory(prefix="storex-ddp-") as scratch:
        folder = Path(rank_dir or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        args = (processes, _free_port(), recommender, data, str(folder))
        try:
            mp.spawn(_run_rank, args=args, nprocs=processes, join=True)
        except mp.ProcessRaisedException as exc:
            raise ModelError(f"a training process failed: {exc}") from exc
        result = torch.load(folder / RANK_FILE.format(rank=0), weights_only=False)
    recommender.module_.load_state_dict(result["module"])
    recommender.set_embeddings(result["user_emb"], result["item_emb"])
    recommender.trainer_mode_ = result["mode"]
    return result["history"]


def _run_rank(
    rank: int,
    world_size: int,
    port: int,
    recommender: EmbeddingRecommender,
    data: InteractionData,
    folder: str,
) -> None:
    from storex.train.trainer import Trainer

    cfg = recommender.train
    device = training_device(cfg.device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(rank % torch.cuda.device_count())
    dist.init_process_group(
        backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size
    )
    try:
        trainer = Trainer(_rank_config(cfg, world_size), rank=rank, world_size=world_size)
        history = trainer.fit(recommender, data)
        state: dict[str, Any] = {"module": recommender.module_.state_dict()}
        if rank == 0:
            state.update(
                history=history,
                mode=trainer.mode_,
                user_emb=recommender.user_emb_,
                item_emb=recommender.item_emb_,
            )
        torch.save(state, Path(folder) / RANK_FILE.format(rank=rank))
    finally:
        dist.destroy_process_group()


def _rank_config(cfg: TrainConfig, world_size: int) -> TrainConfig:
    """The rank's settings: its share of the cores, and no further spawning; the training
    outputs (checkpoints, epoch log) belong to rank 0 alone."""
    threads = cfg.extra.get("threads")
    if threads in (None, "auto"):
        threads = max(1, resolve_threads(None) // world_size)
    extra = {**cfg.extra, "threads": threads, "processes": 1}
    return TrainConfig(**{**cfg.to_dict(), "extra": extra})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
