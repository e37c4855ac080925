"""Shared timing helper for the benchmark scripts.

One warm-up call (its time, less a timed run's, is reported as compile time), then
``repeats`` timed calls with ``time.perf_counter_ns``, each ended by
``jax.block_until_ready``. Results go to ``benchmarks/results/`` as JSON and a
Markdown table with the device named.
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


def time_fn(fn: Callable[..., Any], *args: Any, repeats: int = 5) -> dict[str, Any]:
    """Time ``fn(*args)``: the first call apart, then ``repeats`` timed calls.

    Returns:
        ``first_s``, ``compile_s`` (first minus median), ``median_s`` (= ``run_s``),
        ``min_s``, ``repeats`` and ``out`` (the last output).
    """
    t0 = time.perf_counter_ns()
    out = jax.block_until_ready(fn(*args))
    first = (time.perf_counter_ns() - t0) * 1e-9
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        out = jax.block_until_ready(fn(*args))
        times.append((time.perf_counter_ns() - t0) * 1e-9)
    median = float(np.median(times))
    return {"first_s": first, "compile_s": max(first - median, 0.0), "median_s": median,
            "run_s": median, "min_s": float(np.min(times)), "repeats": repeats, "out": out}


def device_name() -> str:
    """``cpu`` or the accelerator's kind, e.g. ``nvidia-h100-80gb-hbm3``."""
    d = jax.devices()[0]
    return "cpu" if d.platform == "cpu" else d.device_kind.replace(" ", "-").lower()


def device_info() -> dict[str, Any]:
    d = jax.devices()[0]
    return {"platform": d.platform, "device": getattr(d, "device_kind", str(d)),
            "cpu_model": cpu_model(),
            "n_devices": jax.device_count(), "cpu_count": os.cpu_count(),
            "jax": jax.__version__, "python": platform.python_version(),
            "machine": platform.machine(), "x64": bool(jax.config.jax_enable_x64),
            "loadavg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}


def cpu_model() -> str | None:
    """The host CPU's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _write(stem: str, title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str],
           meta: dict[str, Any] | None) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = device_info()
    rows = [{k: v for k, v in r.items() if k != "out"} for r in rows]
    payload = {"benchmark": title, "device": info, "meta": meta or {}, "rows": rows}
    path = RESULTS / f"{stem}.json"
    path.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    lines = [f"# {title}", "",
             f"Device: {info['platform']} ({info['device']}), host CPU {info['cpu_model'] or 'unknown'}, "
             f"{info['cpu_count']} CPU cores, "
             f"jax {info['jax']}, x64={info['x64']}, 1-min load average {info['loadavg_1min']}.", ""]
    lines += [f"- {k}: {v}" for k, v in (meta or {}).items()]
    lines += ["", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    return path


def write_results(name: str, rows: Sequence[dict[str, Any]], columns: Sequence[str],
                  meta: dict[str, Any] | None = None) -> Path:
    """Write ``results/<name>.json`` and ``results/<name>.md``."""
    return _write(name, name, rows, columns, meta)


def write(name: str, rows: Sequence[dict[str, Any]], columns: Sequence[str],
          meta: dict[str, Any] | None = None) -> Path:
    """Write ``results/<name>-<device>.json`` and ``.md``; returns the JSON path."""
    return _write(f"{name}-{device_name()}", f"{name} ({device_name()})", rows, columns, meta)
