"""How many CPU threads a training run uses.

Torch's CPU kernels spin while they wait for their sibling threads, so a run with as many
threads as cores on a machine already busy with other work is not slightly but several times
slower than one thread (on a shared 2-core machine, ML-100K LightGCN epochs took 3x longer
with 2 threads than with 1, and the synthetic store's GraphSAGE 15x). The default therefore
takes every usable core only while nothing else is running, and one core less per unit of
1-minute load average.
"""

from __future__ import annotations

import os

from storex.errors import ConfigError

AUTO = "auto"


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """Usable cores minus those the 1-minute load average says are busy, at least one.

    The load includes work of this very process from the last minute (an earlier fit, say),
    which errs towards fewer threads: the cheap mistake, since too many threads on a busy
    machine cost far more than one idle core does.
    """
    cores = usable_cores()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # platforms without a load average
        return cores
    return max(1, min(cores, cores - round(load)))


def resolve_threads(value: object) -> int:
    """A thread count from a setting: a positive int, or ``"auto"`` / None for the default."""
    if value is None or value == AUTO:
        return default_threads()
    count = value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, str) and value.isdigit():
        count = int(value)
    if count is None or count < 1:
        raise ConfigError(f"threads must be a positive integer or {AUTO!r}, got {value!r}")
    return count
