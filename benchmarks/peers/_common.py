"""Shared by the driver and every side of benchmarks/peers: plain Python + NumPy only.

Each side (villani, torch, neural-tangents, blackjax) runs in its own virtual
environment, so this module must import nothing but the standard library and NumPy.

A side is started as ``python side_X.py TASKS.json``. The file lists tasks; each task
names an operation (``op``), an implementation (``impl``), the ``.npz`` of inputs the
driver wrote, a ``spec`` (sizes, dtype, loss, ...) and the ``.npz`` to write outputs to.
The side appends one JSON line per task to ``TASKS.json.results``: status ``"ok"`` with
timings, or ``"not run"`` with the reason. Outputs are compared by the driver.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np


class NotRun(Exception):
    """Raised by a side when it cannot run a task (missing function, unsupported layer...)."""


def time_call(fn: Callable[[], Any], sync: Callable[[Any], Any], *, min_time: float = 0.5,
              max_repeats: int = 7, min_repeats: int = 5) -> tuple[Any, dict]:
    """Time ``fn()``: one warm-up call (compile/trace included), then repeats.

    ``sync(out)`` must block until the result is computed (``jax.block_until_ready``,
    ``torch.cuda.synchronize``, or nothing on a synchronous CPU backend). The warm-up
    call's time minus the steady time is reported as ``compile_s``; ``time_s`` is the
    median of up to ``max_repeats`` further calls (at least one, stopping once
    ``min_time`` seconds have been spent, and never before ``min(min_repeats,
    max_repeats)`` calls: calls that write hundreds of MB, e.g. per-sample gradients, vary
    several-fold with the allocator's page faults, and a median of two or three is noise).
    """
    t0 = time.perf_counter_ns()
    out = fn()
    sync(out)
    first = (time.perf_counter_ns() - t0) * 1e-9
    times: list[float] = []
    spent = 0.0
    floor = max(1, min(min_repeats, max_repeats))
    while len(times) < max_repeats and (len(times) < floor or spent < min_time):
        t0 = time.perf_counter_ns()
        out = fn()
        sync(out)
        dt = (time.perf_counter_ns() - t0) * 1e-9
        times.append(dt)
        spent += dt
    med = statistics.median(times)
    return out, {"time_s": med, "first_call_s": first, "compile_s": max(first - med, 0.0),
                 "repeats": len(times), "times_s": times}


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux ru_maxrss is in KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def versions(names: list[str]) -> dict[str, str]:
    """Installed versions of the named distributions ("missing" where absent)."""
    import importlib.metadata as md

    out = {"python": sys.version.split()[0]}
    for n in names:
        try:
            out[n] = md.version(n)
        except md.PackageNotFoundError:
            out[n] = "missing"
    return out


def run_tasks(registry: dict[str, Callable[[dict, dict], tuple[dict, dict]]],
              side: str, version_names: list[str], setup: Callable[[list[dict]], None] | None = None
              ) -> None:
    """Main loop of a side: read the task file, run each task, append one result line each.

    ``registry[impl](spec, inputs) -> (outputs, timing)``; outputs is a dict of arrays
    written to ``task["out"]``, timing a dict (``time_s``, ``compile_s``, ...).
    """
    path = sys.argv[1]
    with open(path) as f:
        tasks = json.load(f)
    if setup is not None:
        setup(tasks)
    vers = versions(version_names)
    res_path = path + ".results"
    for task in tasks:
        with open(path + ".current", "w") as f:  # the driver's per-task watchdog reads this
            f.write(task["id"])
        rec: dict[str, Any] = {"id": task["id"], "side": side, "impl": task["impl"],
                               "versions": vers}
        try:
            fn = registry.get(task["impl"])
            if fn is None:
                raise NotRun(f"no implementation {task['impl']!r} in {side}")
            with np.load(task["input"]) as z:
                inputs = {k: z[k] for k in z.files}
            outputs, timing = fn(task["spec"], inputs)
            np.savez(task["out"], **{k: np.asarray(v) for k, v in outputs.items()})
            rec.update(status="ok", **timing)
        except NotRun as e:
            rec.update(status="not run", reason=str(e))
        except MemoryError as e:
            rec.update(status="not run", reason=f"out of memory: {e}")
        except Exception as e:  # a failing peer is reported, never turned into a number
            tb = traceback.format_exc(limit=3).strip().splitlines()
            msg = " ".join(str(e).split())  # one line: it goes into a Markdown table cell
            rec.update(status="not run", reason=f"failed: {type(e).__name__}: {msg}"[:300],
                       traceback=tb[-3:])
        rec["peak_rss_bytes"] = peak_rss_bytes()
        with open(res_path, "a") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())


def trace_study(spec: dict, estimate: Callable[[int, int], float]) -> tuple[dict, dict]:
    """Run ``estimate(k, seed)`` over ``spec["probe_grid"]`` x ``spec["seeds"]``.

    One warm-up estimate per probe count (a JAX side compiles there), then one timed
    estimate per seed; stops after the first count whose median relative error against
    ``spec["reference"]`` (when given) is at most ``spec["target"]``. Returns the
    estimates (counts x seeds), the median time per count and the counts run.
    """
    grid, seeds, ref = spec["probe_grid"], spec["seeds"], spec.get("reference")
    est, times, ks = [], [], []
    for k in grid:
        estimate(k, 10_000)  # warm-up, a seed outside the reported ones
        row, trow = [], []
        for s in seeds:
            t0 = time.perf_counter_ns()
            row.append(float(estimate(k, s)))  # float() waits for the result
            trow.append((time.perf_counter_ns() - t0) * 1e-9)
        est.append(row)
        times.append(float(np.median(trow)))
        ks.append(k)
        if ref is not None and median_rel_error(row, ref) <= spec["target"]:
            break
    return ({"estimates": np.array(est), "probes": np.array(ks), "times": np.array(times)},
            {"time_s": times[-1], "compile_s": 0.0, "repeats": len(seeds)})


def median_rel_error(estimates: list[float], exact: float) -> float:
    """Median over seeds of |estimate - exact| / |exact|."""
    return float(np.median([abs(e - exact) / abs(exact) for e in estimates]))
