"""Batch scoring: top-K for every user of a bundle to files, the service's database or
Redis, in one process or on a Dask cluster, with the service's exclusions and filters.

::

    job = BatchJob(bundle, k=10, filters=BatchFilters(category="books"), catalog=items)
    result = run_local(job, FileSink(Path("out")))            # or run_dask(job, sink, client)
"""

from storex.batch.filters import BatchFilters
from storex.batch.peak import gemm_peak_gflops
from storex.batch.runner import BatchJob, BatchResult, run_dask, run_local
from storex.batch.sinks import FileSink, RedisSink, Sink, TableSink, read_output

__all__ = [
    "BatchFilters",
    "BatchJob",
    "BatchResult",
    "FileSink",
    "RedisSink",
    "Sink",
    "TableSink",
    "gemm_peak_gflops",
    "read_output",
    "run_dask",
    "run_local",
]
