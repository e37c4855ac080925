"""Shared timing helper for the benchmark scripts (STYLE.md: one warm-up call reported
as compile time, then ``time.perf_counter_ns`` around ``jax.block_until_ready``)."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax

RESULTS = Path(__file__).parent / "results"


def time_fn(fn: Callable[..., Any], *args: Any, repeats: int = 5) -> dict[str, float]:
    """Seconds for the first call (compile + run) and the median of ``repeats`` more."""
    t0 = time.perf_counter_ns()
    out = jax.block_until_ready(fn(*args))
    first = (time.perf_counter_ns() - t0) * 1e-9
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        out = jax.block_until_ready(fn(*args))
        runs.append((time.perf_counter_ns() - t0) * 1e-9)
    runs.sort()
    median = runs[len(runs) // 2]
    return {"compile_s": max(first - median, 0.0), "run_s": median, "out": out}


def device_name() -> str:
    d = jax.devices()[0]
    return "cpu" if d.platform == "cpu" else d.device_kind.replace(" ", "-").lower()


def write(name: str, rows: list[dict[str, Any]], columns: list[str], meta: dict[str, Any]) -> Path:
    """Write ``results/<name>-<device>.json`` and ``.md``; returns the JSON path."""
    RESULTS.mkdir(exist_ok=True)
    dev = device_name()
    meta = {"device": dev, "jax": jax.__version__, "python": platform.python_version(), **meta}
    path = RESULTS / f"{name}-{dev}.json"
    path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2, default=float))
    lines = [f"# {name} ({dev})", "", ", ".join(f"{k}: {v}" for k, v in meta.items()), "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |")
    (RESULTS / f"{name}-{dev}.md").write_text("\n".join(lines) + "\n")
    return path


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)
