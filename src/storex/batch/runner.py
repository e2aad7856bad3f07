"""Top-K for every user (or a list) of a bundle, partition by partition, here or on Dask.

Users are cut into partitions of a fixed size in a fixed order, and each partition is
scored by the same code wherever it runs, so a Dask run writes exactly the files a run in
this process writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from storex.batch.filters import BatchFilters
from storex.batch.scoring import ItemSide, Partition, score_partition
from storex.batch.sinks import Sink
from storex.bundle import ModelBundle
from storex.retrieval.exact import DEFAULT_MEMORY_MB

DEFAULT_PARTITION_USERS = 65_536
Progress = Callable[[int], None]
"""Called with the number of users a finished partition held."""


@dataclass
class BatchResult:
    """What a batch run did: counts, where the answers went, how fast."""

    users: int
    unknown_users: int
    rows: int
    partitions: int
    seconds: float
    sink: str
    workers: int
    model_version: str
    k: int
    filters: dict[str, Any]
    flops: float | None = None

    @property
    def gflops(self) -> float | None:
        """Matrix-product work per second (dot-product models only)."""
        if self.flops is None or self.seconds <= 0:
            return None
        return self.flops / self.seconds / 1e9

    def as_dict(self) -> dict[str, Any]:
        gflops = self.gflops
        return {
            "users": self.users,
            "unknown_users": self.unknown_users,
            "rows": self.rows,
            "partitions": self.partitions,
            "seconds": round(self.seconds, 3),
            "gflops": None if gflops is None else round(gflops, 2),
            "sink": self.sink,
            "workers": self.workers,
            "model_version": self.model_version,
            "k": self.k,
            "filters": self.filters,
        }


class BatchJob:
    """The item side built once and the users cut into partitions.

    Parameters
    ----------
    bundle
        The trained bundle; its training positives are the seen items.
    users
        External user ids to answer (default: every training user, in index order). Ids
        the bundle does not know are counted in :attr:`unknown_users` and left out: the
        service answers them by popularity, which needs no batch.
    catalog
        The shop's items table (canonical layout), read by category, price and stock filters.
    """

    def __init__(
        self,
        bundle: ModelBundle,
        *,
        k: int = 10,
        filters: BatchFilters | None = None,
        catalog: pd.DataFrame | None = None,
        users: Sequence[str] | None = None,
        partition_users: int = DEFAULT_PARTITION_USERS,
        memory_mb: float = DEFAULT_MEMORY_MB,
    ) -> None:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if partition_users < 1:
            raise ValueError(f"partition_users must be >= 1, got {partition_users}")
        self.bundle, self.k = bundle, k
        self.filters = filters or BatchFilters()
        self.partition_users = partition_users
        self.factors = bundle.model.dot_factors()
        self.seen = bundle.data.matrix("train") if self.filters.exclude_rated else None
        self.side = ItemSide(
            item_ids=np.asarray(bundle.item_map.ids, dtype=object),
            k=k,
            allowed=self.filters.item_mask(bundle.item_map, catalog),
            memory_mb=memory_mb,
            item_vectors=None if self.factors is None else self.factors[1].detach().float(),
            model=bundle.model if self.factors is None else None,
            seen=self.seen if self.factors is None else None,
        )
        self.users, self.unknown_users = _resolve(bundle, users)

    @property
    def num_partitions(self) -> int:
        return -(-len(self.users) // self.partition_users)

    @property
    def flops(self) -> float | None:
        """Multiply-adds of scoring every user against every admissible item, times two."""
        if self.factors is None:
            return None
        return 2.0 * len(self.users) * self.side.num_items * self.factors[1].shape[1]

    def partitions(self) -> Iterator[Partition]:
        ids = np.asarray(self.bundle.user_map.ids, dtype=object)
        vectors = None if self.factors is None else self.factors[0].detach().float()
        for number in range(self.num_partitions):
            users = self.users[number * self.partition_users : (number + 1) * self.partition_users]
            yield Partition(
                number=number,
                user_ids=ids[users],
                users=users,
                user_vectors=None if vectors is None else vectors[torch.from_numpy(users)],
                seen=None if self.seen is None or vectors is None else self.seen[users],
            )

    def result(self, rows: int, seconds: float, sink: Sink, workers: int) -> BatchResult:
        return BatchResult(
            users=len(self.users),
            unknown_users=self.unknown_users,
            rows=rows,
            partitions=self.num_partitions,
            seconds=seconds,
            sink=sink.describe(),
            workers=workers,
            model_version=self.bundle.version,
            k=self.k,
            filters=self.filters.as_dict(),
            flops=self.flops,
        )

    def run_info(self) -> dict[str, Any]:
        return {"model_version": self.bundle.version, "k": self.k, "users": len(self.users)}


def run_local(job: BatchJob, sink: Sink, progress: Progress | None = None) -> BatchResult:
    """Score every partition in this process, with torch's threads."""
    sink.begin(job.run_info())
    start, rows = time.perf_counter(), 0
    for part in job.partitions():
        frame = score_partition(job.side, part)
        sink.write(part.number, frame)
        rows += len(frame)
        if progress is not None:
            progress(len(part.users))
    result = job.result(rows, time.perf_counter() - start, sink, workers=1)
    sink.finish(result.as_dict())
    return result


def run_dask(
    job: BatchJob, sink: Sink, client: Any, progress: Progress | None = None
) -> BatchResult:
    """Score the partitions on a Dask cluster: the item side is scattered to every worker
    once, each partition is a task that writes its own part, and torch in each task uses
    the threads its worker has."""
    from distributed import as_completed

    sink.begin(job.run_info())
    threads = min(client.nthreads().values(), default=1)
    start = time.perf_counter()
    side = client.scatter(job.side, broadcast=True)
    futures = {
        client.submit(_score_and_write, side, part, sink, threads, pure=False): len(part.users)
        for part in job.partitions()
    }
    rows = 0
    for future in as_completed(futures):
        rows += future.result()
        if progress is not None:
            progress(futures[future])
    result = job.result(rows, time.perf_counter() - start, sink, workers=len(client.nthreads()))
    sink.finish(result.as_dict())
    return result


def _score_and_write(side: ItemSide, part: Partition, sink: Sink, threads: int) -> int:
    torch.set_num_threads(max(threads, 1))
    frame = score_partition(side, part)
    sink.write(part.number, frame)
    return len(frame)


def _resolve(bundle: ModelBundle, users: Sequence[str] | None) -> tuple[np.ndarray, int]:
    """Indices of the users to answer (first mention kept) and how many are unknown."""
    if users is None:
        return np.arange(bundle.data.num_users, dtype=np.int64), 0
    unique = list(dict.fromkeys(str(u) for u in users))
    indices = bundle.user_map.lookup(unique)
    return indices[indices >= 0], int((indices < 0).sum())
