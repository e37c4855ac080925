"""The tidy result of a sweep: dense arrays over (grid axes, seed, record) and their tidy view."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["SweepTable"]


class SweepTable:
    r"""Sweep results, dense and tidy.

    Dense: ``data[name]`` has shape ``(*grid_shape, n_seeds[, n_records], *trailing)``
    with the grid axes in the order the grid gave them. Tidy: :attr:`columns` has one
    row per grid cell $\times$ seed ($\times$ record when the run recorded a trajectory),
    a column per grid axis, ``seed`` (and ``step``), and one per metric.

    Attributes:
        axes: grid axis name -> 1-D NumPy array of its values.
        seeds: ``(S,)`` int array.
        data: metric name -> dense array (see above).
        has_records: whether the runs recorded a record axis (a ``step`` output).
        meta: the sweep's metadata (grid, seeds, versions, device, ...).

    Example:
        >>> t = sweep(run, {"lr": [0.1, 0.2]}, seeds=4, key=jax.random.key(0))  # doctest: +SKIP
        >>> t.columns["lr"].shape, t["loss"].shape                               # doctest: +SKIP
        ((8,), (8,))
    """

    def __init__(self, axes: Mapping[str, Any], seeds: Any, data: Mapping[str, np.ndarray],
                 has_records: bool, meta: Mapping[str, Any] | None = None):
        self.axes = {k: np.asarray(v) for k, v in axes.items()}
        self.seeds = np.asarray(seeds)
        self.data = {k: np.asarray(v) for k, v in data.items()}
        self.has_records = bool(has_records)
        self.meta = dict(meta or {})

    # -- shapes ---------------------------------------------------------------------
    @property
    def dims(self) -> tuple[str, ...]:
        """Names of the dense leading dimensions: grid axes, ``seed`` [, ``record``]."""
        return (*self.axes, "seed", *(("record",) if self.has_records else ()))

    @property
    def shape(self) -> tuple[int, ...]:
        """Sizes of :attr:`dims`."""
        lead = tuple(len(v) for v in self.axes.values()) + (len(self.seeds),)
        if self.has_records:
            lead += (self.data["step"].shape[len(lead)],)
        return lead

    def __len__(self) -> int:
        return int(np.prod(self.shape))

    # -- tidy view --------------------------------------------------------------------
    @property
    def columns(self) -> dict[str, np.ndarray]:
        """Tidy columns: name -> array with ``len(self)`` rows (metrics with trailing
        dimensions keep them: ``(rows, *trailing)``)."""
        shape = self.shape
        nd = len(shape)
        cols: dict[str, np.ndarray] = {}
        coords = [*self.axes.values(), self.seeds]
        if self.has_records:
            coords.append(np.arange(shape[-1]))
        grids = np.meshgrid(*coords, indexing="ij")
        for name, g in zip(self.dims, grids):
            if name != "record":
                cols[name] = g.reshape(-1)
        for name, arr in self.data.items():
            cols[name] = arr.reshape((-1, *arr.shape[nd:]))
        return cols

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def keys(self) -> list[str]:
        """Column names."""
        return list(self.columns)

    def to_pandas(self):
        """The tidy table as a pandas DataFrame: one row per grid cell × seed (× record),
        a column per grid axis, ``seed`` (and ``step``), and one per scalar metric (metrics
        with trailing dimensions are left out: use :meth:`to_xarray`).

        Needs pandas (``pip install villani[analysis]``).

        Example:
            >>> t = SweepTable({"lr": [0.1, 0.2]}, [0, 1], {"loss": np.array([[1., 2.], [3., 4.]])},
            ...                has_records=False)
            >>> t.to_pandas()  # doctest: +NORMALIZE_WHITESPACE
                lr  seed  loss
            0  0.1     0   1.0
            1  0.1     1   2.0
            2  0.2     0   3.0
            3  0.2     1   4.0

        Raises:
            ImportError: pandas is not installed.
        """
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("SweepTable.to_pandas needs pandas (pip install 'villani[analysis]'); "
                              "SweepTable.columns holds the same data as NumPy arrays") from e
        return pd.DataFrame({k: v for k, v in self.columns.items() if v.ndim == 1})

    def _step_coord(self):
        """The ``step`` values as a 1-D array when every cell and seed recorded the same
        steps (the usual case), else None."""
        if not self.has_records:
            return None
        step = self.data["step"]
        nd = len(self.dims)
        flat = step.reshape((-1, step.shape[nd - 1]) + step.shape[nd:])
        return flat[0] if flat.ndim == 2 and (flat == flat[:1]).all() else None

    def to_xarray_dict(self) -> dict[str, Any]:
        """The dense form in ``xarray.Dataset.from_dict`` layout (coords, dims, data_vars).

        Grid axes and ``seed`` are dimension coordinates; with a record axis, ``step`` is
        a coordinate along ``record`` (1-D when every run recorded the same steps, else
        with the full dense shape), not a data variable. A metric's trailing dimensions
        are named ``<metric>_dim0``, ``<metric>_dim1``, ...
        """
        dims = self.dims
        coords: dict[str, Any] = {k: {"dims": (k,), "data": v} for k, v in self.axes.items()}
        coords["seed"] = {"dims": ("seed",), "data": self.seeds}
        if self.has_records:
            step = self._step_coord()
            coords["step"] = ({"dims": ("record",), "data": step} if step is not None
                              else {"dims": dims, "data": self.data["step"]})
        data_vars = {}
        for name, arr in self.data.items():
            if name == "step" and self.has_records:
                continue
            lead = dims[:min(arr.ndim, len(dims))]
            extra = tuple(f"{name}_dim{i}" for i in range(arr.ndim - len(lead)))
            data_vars[name] = {"dims": lead + extra, "data": arr}
        return {"coords": coords, "dims": dict(zip(dims, self.shape)), "data_vars": data_vars,
                "attrs": {}}

    def to_xarray(self):
        """The dense table as an ``xarray.Dataset``.

        Dimensions: the grid axes (in grid order), ``seed``, and ``step`` when every run
        recorded the same steps (else ``record``, with ``step`` a coordinate over the full
        shape); each grid axis, ``seed`` and ``step`` is a coordinate, each metric a data
        variable. ``attrs`` holds the sweep's metadata as JSON (``attrs["meta"]``).
        Needs xarray (``pip install villani[analysis]``).

        Example:
            >>> t = SweepTable({"lr": [0.1, 0.2]}, [0, 1, 2], {
            ...     "step": np.broadcast_to([0, 10], (2, 3, 2)), "loss": np.ones((2, 3, 2))},
            ...     has_records=True)
            >>> ds = t.to_xarray()
            >>> dict(ds.sizes), list(ds.coords), list(ds.data_vars)
            ({'lr': 2, 'seed': 3, 'step': 2}, ['lr', 'seed', 'step'], ['loss'])
            >>> float(ds["loss"].sel(lr=0.2, step=10).mean())
            1.0

        Raises:
            ImportError: xarray is not installed.
        """
        try:
            import xarray as xr
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("SweepTable.to_xarray needs xarray (pip install 'villani[analysis]'); "
                              "SweepTable.data holds the same dense arrays as NumPy") from e
        from . import _store

        ds = xr.Dataset.from_dict(self.to_xarray_dict())
        if self.has_records and self._step_coord() is not None:
            ds = ds.swap_dims(record="step")
        ds.attrs["meta"] = json.dumps(_store.jsonable(self.meta))
        return ds

    def select(self, **where: Any) -> SweepTable:
        """The sub-table at given grid values, e.g. ``table.select(lr=0.1)``."""
        axes = dict(self.axes)
        index: list[Any] = [slice(None)] * len(axes)
        for i, name in enumerate(self.axes):
            if name in where:
                value = where.pop(name)
                hit = np.flatnonzero(self.axes[name] == np.asarray(value))
                if hit.size == 0:
                    raise ValueError(f"{name}: {value!r} is not one of the grid values "
                                     f"{self.axes[name].tolist()}")
                index[i] = hit[:1]
                axes[name] = self.axes[name][hit[:1]]
        if where:
            raise ValueError(f"unknown grid axes {sorted(where)}; known: {list(self.axes)}")
        data = {k: v[tuple(index)] for k, v in self.data.items()}
        return SweepTable(axes, self.seeds, data, self.has_records, self.meta)

    def save(self, path: str | os.PathLike) -> None:
        """Atomically save the table (dense data, axes, seeds, meta) as one NPZ file."""
        from . import _store

        arrays = {f"data/{k}": v for k, v in self.data.items()}
        arrays.update({f"axis/{k}": v for k, v in self.axes.items()})
        arrays["seeds"] = self.seeds
        arrays["has_records"] = np.asarray(self.has_records)
        arrays["meta"] = np.asarray(json.dumps(_store.jsonable(self.meta)))
        arrays["axis_order"] = np.asarray(json.dumps(list(self.axes)))
        _store.save_npz(path, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> SweepTable:
        """Load a table written by :meth:`save` (``out/table.npz`` of a sweep)."""
        from . import _store

        z = _store.load_npz(path)
        order = json.loads(str(z["axis_order"]))
        return cls({k: z[f"axis/{k}"] for k in order}, z["seeds"],
                   {k[5:]: v for k, v in z.items() if k.startswith("data/")},
                   bool(z["has_records"]), json.loads(str(z["meta"])))

    def __repr__(self) -> str:
        return (f"SweepTable({len(self)} rows; axes={ {k: len(v) for k, v in self.axes.items()} }, "
                f"seeds={len(self.seeds)}, columns={self.keys()})")
