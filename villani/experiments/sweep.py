r"""Sweeps over seeds, step sizes and widths: vmapped, sharded across devices, resumable.

:func:`sweep` runs a pure ``run(config, key)`` over a grid of named axes and a set of
seeds and returns one tidy :class:`~villani.experiments.SweepTable`.

How the work is laid out:

* **Looped axes** (values that change array shapes: widths, depths, sample counts; by
  default every axis whose values are not all real numbers with at least one float, and
  every axis named in ``static_axes``) are a Python loop over *grid cells*; each cell is
  compiled once.
* **Vmapped axes** (floats that leave shapes alone: learning rate, momentum, temperature,
  $\lambda$) and the **seed axis** are ``vmap``\ ped in one compiled call per cell.
* The seed axis is **sharded** over ``devices`` with a 1-D :class:`jax.sharding.Mesh`
  (axis name ``"seed"``) and a :class:`jax.sharding.NamedSharding`; it is padded to a
  multiple of the device count and the padding dropped. The same code runs on one CPU,
  one GPU or eight GPUs.
* ``chunk`` splits the seed axis into sequential vmapped chunks when all seeds at once do
  not fit in device memory. Every seed's key is ``jax.random.fold_in(key, seed)``, so the
  numbers do not depend on chunking, sharding, or which other seeds or grid values ran.

Multi-host: start the same script on every host and call
``jax.distributed.initialize()`` first (on SLURM/TPU pods it finds its coordinator
itself; otherwise pass ``coordinator_address``, ``num_processes``, ``process_id``).
``jax.devices()`` then lists every host's devices, the seed axis is sharded over all of
them, every process receives the gathered results, and only process 0 writes to ``out/``
(use a shared file system, or read the results on process 0).
"""

from __future__ import annotations

import itertools
import pathlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..trajectory import Trajectory
from . import _store
from ._progress import progress_bar
from ._table import SweepTable

__all__ = ["sweep", "SweepTable", "classify_axes"]

_RESERVED = ("seed", "step", "record")


# --------------------------------------------------------------------------------------
# validation and axis classification


def _is_float_axis(values: Sequence[Any]) -> bool:
    def real(v):
        return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))

    return all(real(v) for v in values) and any(isinstance(v, (float, np.floating)) for v in values)


def classify_axes(grid: Mapping[str, Sequence[Any]],
                  static_axes: Sequence[str] | None = None) -> tuple[list[str], list[str]]:
    """Split grid axes into (looped, vmapped) names, each in grid order.

    An axis is vmapped when its values are real numbers, at least one of them a float,
    and it is not named in ``static_axes``; every other axis (ints, strings, bools,
    objects) is looped, one compiled call per value.

    Example:
        >>> classify_axes({"width": [16, 64], "lr": [0.1, 0.2], "act": ["tanh"]})
        (['width', 'act'], ['lr'])
    """
    static = set(static_axes or ())
    unknown = static - set(grid)
    if unknown:
        raise ValueError(f"static_axes: {sorted(unknown)} are not grid axes; the grid has {list(grid)}")
    looped = [k for k, v in grid.items() if k in static or not _is_float_axis(v)]
    return looped, [k for k in grid if k not in looped]


def _check_grid(grid: Any) -> dict[str, list[Any]]:
    if not isinstance(grid, Mapping):
        raise TypeError(f"grid: expected a mapping of axis name -> values, got {type(grid).__name__}")
    out = {}
    for name, values in grid.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"grid: axis names must be non-empty strings, got {name!r}")
        if name in _RESERVED:
            raise ValueError(f"grid: axis name {name!r} is reserved (reserved: {_RESERVED})")
        if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
            raise TypeError(f"grid.{name}: expected a sequence of values, got {values!r}")
        values = [v.item() if isinstance(v, np.generic) else v for v in values]
        if not values:
            raise ValueError(f"grid.{name}: expected at least one value, got none")
        if len({repr(v) for v in values}) != len(values):
            raise ValueError(f"grid.{name}: values must be distinct, got {values}")
        out[name] = values
    return out


def _check_seeds(seeds: Any) -> np.ndarray:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds: expected a positive number of seeds, got {seeds}")
        return np.arange(int(seeds), dtype=np.int64)
    arr = np.asarray(seeds)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"seeds: expected a positive int or a non-empty 1-D sequence of ints, got {seeds!r}")
    if arr.min() < 0 or arr.max() >= 2**31:
        raise ValueError(f"seeds: expected ints in [0, 2**31), got range [{arr.min()}, {arr.max()}]")
    if len(np.unique(arr)) != arr.size:
        raise ValueError(f"seeds: expected distinct seeds, got {arr.tolist()}")
    return arr.astype(np.int64)


def _key_data(key: Any) -> np.ndarray:
    if not isinstance(key, jax.Array):
        raise TypeError(f"key: expected a JAX PRNG key (jax.random.key(0)), got {type(key).__name__}")
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"key: expected a single key, got a key array of shape {key.shape}")
        return np.asarray(jax.random.key_data(key))
    if key.shape != (2,) or key.dtype != jnp.uint32:
        raise ValueError(f"key: expected a PRNG key, got an array of shape {key.shape}, dtype {key.dtype}")
    return np.asarray(key)


# --------------------------------------------------------------------------------------
# outputs


def _outputs(out: Any) -> dict[str, jax.Array]:
    """A run's output as a flat dict; ``step`` (if present) defines the record axis."""
    if isinstance(out, Trajectory):
        flat = {"step": out.steps, "loss": out.loss, "grad_norm2": out.grad_norm2,
                "valid": out.valid, "diverged": out.diverged, "diverged_at": out.diverged_at}
        for name, v in out.metrics.items():
            if name in flat:
                raise ValueError(f"run: metric name {name!r} clashes with a Trajectory field")
            flat[name] = v
    elif isinstance(out, Mapping):
        flat = {}

        def walk(prefix, d):
            for k, v in d.items():
                name = f"{prefix}{k}"
                if isinstance(v, Mapping):
                    walk(name + ".", v)
                else:
                    flat[name] = jnp.asarray(v)

        walk("", out)
    else:
        raise TypeError(f"run: expected a Trajectory or a dict of arrays, got {type(out).__name__}")
    for name in ("seed", "record"):
        if name in flat:
            raise ValueError(f"run: output name {name!r} is reserved")
    if "step" in flat:
        if jnp.ndim(flat["step"]) != 1:
            raise ValueError("run: 'step' must be 1-D (the record axis), "
                             f"got shape {jnp.shape(flat['step'])}")
        k = flat["step"].shape[0]
        for name, v in flat.items():
            if jnp.ndim(v) == 0:
                flat[name] = jnp.broadcast_to(v, (k,))
            elif v.shape[0] != k:
                raise ValueError(
                    f"run: output {name!r} has shape {v.shape}; with a 'step' output of length {k} "
                    f"every output must be a scalar or have {k} records on its leading axis")
    return flat


# --------------------------------------------------------------------------------------
# one grid cell


def _cell_fn(run: Callable, static_cfg: dict[str, Any], dyn_names: list[str]) -> Callable:
    # Reuse the jitted function when the same run meets the same looped values again
    # (a notebook re-running a sweep, a resumed one): jit caches per function object.
    try:
        cache_key = (run, tuple(static_cfg.items()), tuple(dyn_names))
        hash(cache_key)
    except TypeError:  # unhashable looped values: build afresh
        return _make_cell_fn(run, static_cfg, dyn_names)
    fn = _CELL_CACHE.pop(cache_key, None) or _make_cell_fn(run, static_cfg, dyn_names)
    _CELL_CACHE[cache_key] = fn  # most recently used last
    while len(_CELL_CACHE) > 64:
        _CELL_CACHE.pop(next(iter(_CELL_CACHE)))
    return fn


_CELL_CACHE: dict[Any, Callable] = {}


def _make_cell_fn(run: Callable, static_cfg: dict[str, Any], dyn_names: list[str]) -> Callable:
    def one(dyn, seed, key):
        cfg = dict(static_cfg)
        cfg.update(dyn)
        return _outputs(run(cfg, jax.random.fold_in(key, seed)))

    over_seeds = jax.vmap(one, in_axes=(None, 0, None))
    if not dyn_names:
        return jax.jit(lambda dyn, seeds, key: jax.tree_util.tree_map(
            lambda x: x[None], over_seeds(dyn, seeds, key)))
    return jax.jit(jax.vmap(over_seeds, in_axes=(0, None, None)))


def _gather(x: jax.Array) -> np.ndarray:
    if getattr(x, "is_fully_addressable", True):
        return np.asarray(x)
    from jax.experimental import multihost_utils  # multi-host only

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def _run_cell(run, static_cfg, dyn_axes, seeds, key, mesh, chunk) -> dict[str, np.ndarray]:
    from jax.sharding import NamedSharding, PartitionSpec

    n_dev = mesh.devices.size
    dyn_names = list(dyn_axes)
    dyn_lens = [len(v) for v in dyn_axes.values()]
    fdtype = jnp.zeros((), float).dtype
    mesh_vals = np.meshgrid(*[np.asarray(v, dtype=fdtype) for v in dyn_axes.values()], indexing="ij")
    replicated = NamedSharding(mesh, PartitionSpec())
    dyn = {k: jax.device_put(v.reshape(-1), replicated) for k, v in zip(dyn_names, mesh_vals)}
    key = jax.device_put(key, replicated)

    s = len(seeds)
    size = min(chunk or s, s)
    size = -(-size // n_dev) * n_dev  # a multiple of the device count
    n_chunks = -(-s // size)
    padded = np.concatenate([seeds, np.full(n_chunks * size - s, seeds[-1])]).astype(np.int32)
    sharded = NamedSharding(mesh, PartitionSpec("seed"))
    fn = _cell_fn(run, static_cfg, dyn_names)

    parts: list[dict[str, np.ndarray]] = []
    for c in range(n_chunks):
        block = padded[c * size:(c + 1) * size]
        seeds_dev = jax.make_array_from_callback((size,), sharded, lambda idx, b=block: b[idx])
        out = fn(dyn, seeds_dev, key)
        parts.append({k: _gather(v) for k, v in out.items()})
    cell = {}
    for name in parts[0]:
        arr = np.concatenate([p[name] for p in parts], axis=1)[:, :s]
        cell[name] = arr.reshape((*dyn_lens, s, *arr.shape[2:]))
    return cell


# --------------------------------------------------------------------------------------


def sweep(run: Callable[[dict[str, Any], Any], Any], grid: Mapping[str, Sequence[Any]],
          seeds: int | Sequence[int], key: Any, *, devices: Sequence[Any] | None = None,
          out: str | pathlib.Path | None = None, chunk: int | None = None,
          progress: bool | None = None, static_axes: Sequence[str] | None = None,
          meta: Mapping[str, Any] | None = None) -> SweepTable:
    r"""Run ``run(config, key)`` over every grid cell and seed; return a tidy table.

    For every point $c$ of the grid $\prod_a \text{values}_a$ and every seed $s$,
    computes ``run(c, fold_in(key, s))``. Looped axes (see :func:`classify_axes`) are a
    Python loop compiled once per cell; the vmapped axes and the seeds are one
    ``vmap``\ ped, jitted call per cell, its seed axis sharded over ``devices`` (and
    split into sequential chunks of ``chunk`` seeds). Seed $s$ gets the same key in every
    cell (common random numbers: the same initialisation for every learning rate).

    Args:
        run: pure ``run(config, key) -> Trajectory | dict`` of arrays. ``config`` maps each
            grid axis to one value: Python values for looped axes, scalar float arrays
            (traced) for vmapped ones. A dict output may nest dicts (names joined by
            ``.``); an output named ``step`` (1-D, length $K$; a Trajectory's ``steps``)
            makes a record axis: every other output is then a scalar (broadcast) or has
            $K$ leading records. Params and optimiser state of a Trajectory are dropped.
            Must be pure: the compiled cell is reused whenever the same ``run`` object
            meets the same looped values again (as ``jax.jit`` reuses traces).
        grid: axis name -> sequence of distinct values, e.g.
            ``{"width": [16, 64], "lr": [0.1, 0.3]}``. May be empty (seeds only).
        seeds: a number of seeds $S$ (meaning ``range(S)``) or a sequence of distinct
            ints in $[0, 2^{31})$.
        key: a PRNG key (``jax.random.key(0)``).
        devices: devices to shard the seed axis over (default: ``jax.devices()``).
        out: a directory for resumable results: ``sweep.json`` (config, its hash, versions
            of villani/jax/jaxlib, device, git revision) and one ``cells/*.npz`` per
            looped cell, each written atomically when it finishes; cells already there
            are loaded, not re-run. A different config in the same ``out`` raises
            ``ValueError`` naming what differs. ``table.npz`` holds the assembled table.
        chunk: at most this many seeds per compiled call (rounded up to a multiple of the
            device count); default all seeds at once.
        progress: a tqdm bar over cells with a remaining-time estimate. ``None``: only
            when stderr is a terminal; ``False``: never. Plain stderr lines if tqdm is
            not installed (``pip install villani[progress]``).
        static_axes: axis names to loop over even though their values are floats.
        meta: extra JSON-serialisable description of what ``run`` computes (e.g. the
            TOML config of ``villani run``); part of the config hash.

    Returns:
        A :class:`SweepTable`: ``table.data[name]`` dense with shape
        ``(*grid_shape, S[, K], ...)``; ``table.columns`` tidy (one row per cell, seed
        [and record]); ``table.to_pandas()``, ``table.to_xarray_dict()``.

    Example:
        >>> def run(config, key):
        ...     theta = jax.random.normal(key, (config["n"],))
        ...     for _ in range(10):
        ...         theta = theta - config["lr"] * theta
        ...     return {"loss": 0.5 * jnp.sum(theta**2)}
        >>> t = sweep(run, {"n": [2, 4], "lr": [0.1, 0.5]}, seeds=8, key=jax.random.key(0))
        >>> t.data["loss"].shape, len(t["loss"])
        ((2, 2, 8), 32)
    """
    if not callable(run):
        raise TypeError(f"run: expected a callable run(config, key), got {run!r}")
    grid = _check_grid(grid)
    seeds_arr = _check_seeds(seeds)
    key_data = _key_data(key)
    bad_chunk = not isinstance(chunk, (int, np.integer)) or isinstance(chunk, bool) or chunk < 1
    if chunk is not None and bad_chunk:
        raise ValueError(f"chunk: expected a positive int (seeds per compiled call), got {chunk!r}")
    looped, vmapped = classify_axes(grid, static_axes)
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices: expected at least one device, got none")
    mesh = jax.sharding.Mesh(np.array(devices), ("seed",))

    env = _store.environment(devices)
    config = {"run": f"{getattr(run, '__module__', '?')}.{getattr(run, '__qualname__', repr(run))}",
              "grid": grid, "looped": looped, "vmapped": vmapped, "seeds": seeds_arr.tolist(),
              "key": key_data.tolist(), "meta": dict(meta or {})}
    writer = jax.process_index() == 0
    out_dir, sweep_meta = (None, {"config": _store.jsonable(config), "environment": env,
                                  "config_hash": _store.config_hash(config)})
    if out is not None:
        out_dir, sweep_meta = _store.prepare_out(out, config, env, writer)

    cells = list(itertools.product(*[grid[a] for a in looped]))
    paths = [out_dir / "cells" / _store.cell_name(i, dict(zip(looped, c))) if out_dir else None
             for i, c in enumerate(cells)]
    done = sum(1 for p in paths if p is not None and p.exists())
    bar = progress_bar(progress, len(cells), done, seeds=len(seeds_arr))
    dyn_axes = {a: grid[a] for a in vmapped}
    results: list[dict[str, np.ndarray]] = []
    try:
        for cell, path in zip(cells, paths):
            static_cfg = dict(zip(looped, cell))
            if path is not None and path.exists():
                results.append(_store.load_npz(path))
                continue
            res = _run_cell(run, static_cfg, dyn_axes, seeds_arr, key, mesh, chunk)
            if path is not None and writer:
                _store.save_npz(path, res)
            results.append(res)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()

    table = _assemble(grid, looped, vmapped, seeds_arr, results, cells, sweep_meta)
    if out_dir is not None and writer:
        table.save(out_dir / "table.npz")
    return table


def _assemble(grid, looped, vmapped, seeds, results, cells, meta) -> SweepTable:
    names = list(results[0])
    for res, cell in zip(results, cells):
        if sorted(res) != sorted(names):
            raise ValueError(f"run: outputs {sorted(res)} at {dict(zip(looped, cell))} differ from "
                             f"{sorted(names)} at {dict(zip(looped, cells[0]))}")
    static_shape = tuple(len(grid[a]) for a in looped)
    order = looped + vmapped
    perm_axes = [order.index(a) for a in grid]
    data = {}
    for name in names:
        shapes = {res[name].shape for res in results}
        if len(shapes) > 1:
            raise ValueError(f"run: output {name!r} changes shape across the grid ({sorted(shapes)}); "
                             "outputs must have the same shape in every cell")
        stacked = np.stack([res[name] for res in results]) if results else np.zeros(0)
        stacked = stacked.reshape(static_shape + stacked.shape[1:])
        rest = list(range(len(order), stacked.ndim))
        data[name] = np.transpose(stacked, perm_axes + rest)
    has_records = "step" in names
    return SweepTable({a: grid[a] for a in grid}, seeds, data, has_records, meta)

