"""The fp32 matrix-product peak of this process: the yardstick batch scoring is read against.

Machines differ and shared ones are noisy, so a scoring speed means little as GFLOP/s alone;
as a share of the peak measured in the same run it compares across machines and loads.
"""

from __future__ import annotations

import time

import torch

PEAK_SIZE = 2048


def gemm_peak_gflops(size: int = PEAK_SIZE, repeats: int = 5) -> float:
    """Best GFLOP/s of a square fp32 ``torch.mm`` with torch's current threads."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator)
    b = torch.randn(size, size, generator=generator)
    out = torch.empty(size, size)
    torch.mm(a, b, out=out)  # warm-up: thread pool and caches
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9
