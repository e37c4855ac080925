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
them (inputs are global arrays built with ``jax.make_array_from_callback``), and every
process receives the gathered results. Only process 0 reads and writes ``out/`` (a shared
file system or a directory on process 0's host): it decides which cells are finished and
sends their numbers to the other processes, so a resume where only process 0 holds the
finished cells runs the same collective computations on every process.
"""

from __future__ import annotations

import functools
import itertools
import json
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
        if out.reason is not None:  # why a run diverged (villani.trajectory.REASONS)
            flat["reason"] = out.reason
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


def _cell_fn(run: Callable, static_cfg: dict[str, Any], dyn_names: list[str], impl: Any) -> Callable:
    # Reuse the jitted function when the same run meets the same looped values again
    # (a notebook re-running a sweep, a resumed one): jit caches per function object.
    try:
        cache_key = (run, tuple(static_cfg.items()), tuple(dyn_names), impl)
        hash(cache_key)
    except TypeError:  # unhashable looped values: build afresh
        return _make_cell_fn(run, static_cfg, dyn_names, impl)
    fn = _CELL_CACHE.pop(cache_key, None) or _make_cell_fn(run, static_cfg, dyn_names, impl)
    _CELL_CACHE[cache_key] = fn  # most recently used last
    while len(_CELL_CACHE) > 64:
        _CELL_CACHE.pop(next(iter(_CELL_CACHE)))
    return fn


_CELL_CACHE: dict[Any, Callable] = {}


def _make_cell_fn(run: Callable, static_cfg: dict[str, Any], dyn_names: list[str], impl: Any) -> Callable:
    # The key travels as its raw uint32 data (a global array is built from NumPy data on
    # every process) and is wrapped back into a typed key inside the compiled call.
    def one(dyn, seed, key_data):
        key = key_data if impl is None else jax.random.wrap_key_data(key_data, impl=impl)
        cfg = dict(static_cfg)
        cfg.update(dyn)
        return _outputs(run(cfg, jax.random.fold_in(key, seed)))

    over_seeds = jax.vmap(one, in_axes=(None, 0, None))
    if not dyn_names:
        return jax.jit(lambda dyn, seeds, key: jax.tree_util.tree_map(
            lambda x: x[None], over_seeds(dyn, seeds, key)))
    return jax.jit(jax.vmap(over_seeds, in_axes=(0, None, None)))


def _global(x: np.ndarray, sharding: Any) -> jax.Array:
    """A global array with the given sharding built from the same NumPy value on every
    process (``device_put`` only reaches this process's devices)."""
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda idx: x[idx])


def _gather(x: jax.Array) -> np.ndarray:
    if getattr(x, "is_fully_addressable", True):
        return np.asarray(x)
    from jax.experimental import multihost_utils  # multi-host only

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def _broadcast_bytes(payload: bytes | None) -> bytes:
    """Process 0's ``payload`` on every process (multi-host; a no-op on one process)."""
    if jax.process_count() == 1:
        assert payload is not None
        return payload
    from jax.experimental import multihost_utils

    source = jax.process_index() == 0
    n = int(multihost_utils.broadcast_one_to_all(np.int32(len(payload) if source else 0)))
    if n == 0:
        return b""
    buf = np.frombuffer(payload, np.uint8) if source else np.zeros(n, np.uint8)
    return np.asarray(multihost_utils.broadcast_one_to_all(buf)).tobytes()


def _run_cell(run, static_cfg, dyn_axes, seeds, key_data, impl, mesh, chunk) -> dict[str, np.ndarray]:
    from jax.sharding import NamedSharding, PartitionSpec

    n_dev = mesh.devices.size
    dyn_names = list(dyn_axes)
    dyn_lens = [len(v) for v in dyn_axes.values()]
    fdtype = jnp.zeros((), float).dtype
    mesh_vals = np.meshgrid(*[np.asarray(v, dtype=fdtype) for v in dyn_axes.values()], indexing="ij")
    replicated = NamedSharding(mesh, PartitionSpec())
    dyn = {k: _global(v.reshape(-1), replicated) for k, v in zip(dyn_names, mesh_vals)}
    key = _global(key_data, replicated)

    s = len(seeds)
    size = min(chunk or s, s)
    size = -(-size // n_dev) * n_dev  # a multiple of the device count
    n_chunks = -(-s // size)
    padded = np.concatenate([seeds, np.full(n_chunks * size - s, seeds[-1])]).astype(np.int32)
    sharded = NamedSharding(mesh, PartitionSpec("seed"))
    fn = _cell_fn(run, static_cfg, dyn_names, impl)
    parts: list[dict[str, np.ndarray]] = []
    for c in range(n_chunks):
        seeds_dev = _global(padded[c * size:(c + 1) * size], sharded)
        out = fn(dyn, seeds_dev, key)
        parts.append({k: _gather(v) for k, v in out.items()})
    cell = {}
    for name in parts[0]:
        arr = np.concatenate([p[name] for p in parts], axis=1)[:, :s]
        cell[name] = arr.reshape((*dyn_lens, s, *arr.shape[2:]))
    return cell


# --------------------------------------------------------------------------------------


def _key_by_keyword(fn):
    """Refuse the key given positionally with a message that names it (the key convention)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if len(args) > 3:
            raise TypeError(f"{fn.__name__}: the key is keyword-only (villani's key convention: only "
                            f"samplers take it positionally); call {fn.__name__}(run, grid, seeds, "
                            f"key=jax.random.key(0), ...), got {len(args)} positional arguments")
        return fn(*args, **kwargs)

    return wrapper


@_key_by_keyword
def sweep(run: Callable[[dict[str, Any], Any], Any], grid: Mapping[str, Sequence[Any]],
          seeds: int | Sequence[int], *, key: Any, devices: Sequence[Any] | None = None,
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
            meets the same looped values again (as ``jax.jit`` reuses traces). Its code
            is part of the sweep's identity in ``out``: a fingerprint of its bytecode and
            constants, the values it closes over or names as globals, and recursively
            the functions of its own module among them (mutable values included: a list
            it appends to changes the fingerprint).
        grid: axis name -> sequence of distinct values, e.g.
            ``{"width": [16, 64], "lr": [0.1, 0.3]}``. May be empty (seeds only).
        seeds: a number of seeds $S$ (meaning ``range(S)``) or a sequence of distinct
            ints in $[0, 2^{31})$.
        key: a PRNG key (``jax.random.key(0)``), keyword-only.
        devices: devices to shard the seed axis over (default: ``jax.devices()``).
        out: a directory for resumable results: ``sweep.json`` (config with ``run``'s
            code fingerprint, its hash, versions of villani/jax/jaxlib, float64, device,
            git revision; written with the first finished cell) and one ``cells/*.npz``
            per looped cell, each written atomically when it finishes and stamped with
            the config hash; cells already there are loaded, not re-run. A different
            config, ``run`` code, float64 setting or jax/jaxlib version in the same
            ``out`` raises ``ValueError`` naming what differs; a cell file that is
            truncated, empty or stamped by another sweep is named in a
            ``RuntimeWarning`` and recomputed. ``out/.lock`` is locked while the sweep
            runs (a second sweep on the same ``out`` raises ``ValueError``); files get
            the permissions the umask allows. ``table.npz`` holds the assembled table.
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
              "run_code": _store.code_fingerprint(run),
              "grid": grid, "looped": looped, "vmapped": vmapped, "seeds": seeds_arr.tolist(),
              "key": key_data.tolist(), "meta": dict(meta or {})}
    impl = jax.random.key_impl(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else None
    # Multi-host: only process 0 reads and writes out/ (it may be per-host); it decides what
    # is done and sends every other process its verdict and the finished cells, so that all
    # processes enter the same collective computations in the same order.
    writer = jax.process_index() == 0
    multi = jax.process_count() > 1
    sweep_meta = {"config": _store.jsonable(config), "environment": env,
                  "config_hash": _store.config_hash(config)}
    cells = list(itertools.product(*[grid[a] for a in looped]))
    results: list[dict[str, np.ndarray] | None] = [None] * len(cells)
    paths: list[pathlib.Path | None] = [None] * len(cells)
    store: _store.OutDir | None = None
    try:
        if out is not None:
            error = None
            if writer:
                try:
                    store = _store.OutDir(out, config, env)
                    sweep_meta = store.meta
                    paths = [store.cell_path(i, dict(zip(looped, c))) for i, c in enumerate(cells)]
                    results = [store.load_cell(p) for p in paths]
                except (OSError, ValueError) as e:
                    error = e
            if multi:
                error, sweep_meta = _share_verdict(error, sweep_meta, writer)
            if error is not None:
                raise error
        done = np.array([r is not None for r in results], dtype=np.uint8)
        if multi:
            from jax.experimental import multihost_utils

            done = np.asarray(multihost_utils.broadcast_one_to_all(done))
        bar = progress_bar(progress, len(cells), int(done.sum()), seeds=len(seeds_arr))
        dyn_axes = {a: grid[a] for a in vmapped}
        try:
            for i, (cell, path) in enumerate(zip(cells, paths)):
                if done[i]:
                    if multi:  # process 0 sends the stored cell to every process
                        payload = _store.npz_bytes(results[i]) if writer else None
                        results[i] = _store.npz_from_bytes(_broadcast_bytes(payload))
                    continue
                res = _run_cell(run, dict(zip(looped, cell)), dyn_axes, seeds_arr, key_data, impl, mesh,
                                chunk)
                if store is not None:
                    store.save_cell(path, res)
                results[i] = res
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()

        table = _assemble(grid, looped, vmapped, seeds_arr, results, cells, sweep_meta)
        if store is not None:
            table.save(store.path / "table.npz")
    finally:
        if store is not None:
            store.close()
    return table


def _share_verdict(error: Exception | None, meta: dict[str, Any], writer: bool):
    """Process 0's out/ verdict (an error to raise, or the sweep's metadata) on every process."""
    verdict = json.loads(_broadcast_bytes(json.dumps(
        {"error": None if error is None else [type(error).__name__, str(error)],
         "meta": _store.jsonable(meta)}).encode() if writer else None))
    if verdict["error"] is not None and error is None:
        kind, message = verdict["error"]
        cls = getattr(_store, kind, None)
        if not (isinstance(cls, type) and issubclass(cls, _store.OutDirError)):
            cls = OSError if kind in ("OSError", "PermissionError", "FileNotFoundError") else ValueError
        error = cls(f"(process 0) {message}")
    return error, verdict["meta"]


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

