"""Shared timing helper for the benchmark scripts.

One warm-up call (its time is reported as compile time), then ``repeats`` timed calls
with ``time.perf_counter_ns``, each ended by ``jax.block_until_ready``. Results go to
``benchmarks/results/<name>.json`` and ``<name>.md`` with the device named.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

RESULTS = Path(__file__).parent / "results"


def time_fn(fn: Callable[[], Any], repeats: int = 5) -> dict[str, float]:
    """Time ``fn()`` (no arguments): first call apart, then the median of ``repeats``.

    Returns:
        ``{"first_s": ..., "median_s": ..., "min_s": ..., "repeats": ...}``; ``first_s``
        minus ``median_s`` is about the compile time.
    """
    t0 = time.perf_counter_ns()
    jax.block_until_ready(fn())
    first = (time.perf_counter_ns() - t0) * 1e-9
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        jax.block_until_ready(fn())
        times.append((time.perf_counter_ns() - t0) * 1e-9)
    return {"first_s": first, "compile_s": max(first - float(np.median(times)), 0.0),
            "median_s": float(np.median(times)), "min_s": float(np.min(times)),
            "repeats": repeats}


def device_info() -> dict[str, Any]:
    d = jax.devices()[0]
    return {"platform": d.platform, "device": getattr(d, "device_kind", str(d)),
            "n_devices": jax.device_count(), "cpu_count": os.cpu_count(),
            "jax": jax.__version__, "machine": platform.machine(),
            "x64": bool(jax.config.jax_enable_x64),
            "loadavg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}


def write_results(name: str, rows: Sequence[dict[str, Any]], columns: Sequence[str],
                  meta: dict[str, Any] | None = None) -> Path:
    """Write ``results/<name>.json`` and a Markdown table ``results/<name>.md``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = device_info()
    payload = {"benchmark": name, "device": info, "meta": meta or {}, "rows": list(rows)}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2, default=float) + "\n")

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    lines = [f"# {name}", "",
             "Times are the minimum over the timed repeats (after one warm-up call): the "
             "machine is shared, and the minimum is the least disturbed estimate.", "",
             f"Device: {info['platform']} ({info['device']}), {info['cpu_count']} CPU cores, "
             f"jax {info['jax']}, x64={info['x64']}.", ""]
    for k, v in (meta or {}).items():
        lines.append(f"- {k}: {v}")
    if meta:
        lines.append("")
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "---|" * len(columns))
    for r in rows:
        lines.append("| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |")
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    return RESULTS / f"{name}.json"
