"""Shared timing helper: one warm-up call (compile time reported apart), then repeats.

Every timed call ends with ``jax.block_until_ready`` before the clock stops.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax


def timeit(fn: Callable, *args: Any, repeats: int = 10) -> dict:
    """Compile+first-call time and the median of ``repeats`` timed calls, in milliseconds."""
    t0 = time.perf_counter_ns()
    jax.block_until_ready(fn(*args))
    first = (time.perf_counter_ns() - t0) / 1e6
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        jax.block_until_ready(fn(*args))
        times.append((time.perf_counter_ns() - t0) / 1e6)
    times.sort()
    return {"first_call_ms": first, "median_ms": times[len(times) // 2], "min_ms": times[0],
            "repeats": repeats}
