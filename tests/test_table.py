"""SweepTable's analysis views: a real xarray Dataset and a pandas DataFrame."""

import numpy as np
import pytest

from villani import sweep
from villani.experiments import SweepTable

xr = pytest.importorskip("xarray", reason="the analysis extra (pandas, xarray) is not installed")
pd = pytest.importorskip("pandas", reason="the analysis extra (pandas, xarray) is not installed")


def _run(config, key):
    import jax
    import jax.numpy as jnp

    x0 = jax.random.normal(key, (config.get("n", 2),))
    xs = jnp.stack([x0 * (1 - config["lr"]) ** k for k in range(4)])
    return {"step": 10 * jnp.arange(4), "loss": jnp.sum(xs**2, axis=1), "x": xs[:, :2]}


def test_to_xarray_has_grid_seed_and_step_coordinates(key):
    t = sweep(_run, {"lr": [0.1, 0.5], "n": [2, 3]}, seeds=3, key=key, progress=False)
    ds = t.to_xarray()
    assert isinstance(ds, xr.Dataset)
    assert dict(ds.sizes) == {"lr": 2, "n": 2, "seed": 3, "step": 4, "x_dim0": 2}
    assert set(ds.coords) == {"lr", "n", "seed", "step"} and "step" not in ds.data_vars
    np.testing.assert_array_equal(ds["step"], [0, 10, 20, 30])
    np.testing.assert_array_equal(ds["n"], [2, 3])
    np.testing.assert_array_equal(ds["loss"].values, t.data["loss"])  # same dense array
    # label-based selection agrees with positional indexing of the dense data
    np.testing.assert_array_equal(ds["loss"].sel(lr=0.5, n=3, step=20).values, t.data["loss"][1, 1, :, 2])
    # the loss decays by (1 - lr)^2 per record: an independent check of what sits where
    ratio = (ds["loss"].sel(step=10) / ds["loss"].sel(step=0)).values
    np.testing.assert_allclose(ratio[0], 0.81, rtol=1e-12)
    np.testing.assert_allclose(ratio[1], 0.25, rtol=1e-12)
    assert "environment" in ds.attrs["meta"]


def test_uneven_steps_stay_on_a_record_axis():
    step = np.array([[[0, 1, 2], [0, 2, 4]]])  # (lr=1, seed=2, record=3): seeds recorded differently
    t = SweepTable({"lr": [0.1]}, [0, 1], {"step": step, "loss": np.ones((1, 2, 3))}, has_records=True)
    ds = t.to_xarray()
    assert dict(ds.sizes) == {"lr": 1, "seed": 2, "record": 3}
    assert ds["step"].dims == ("lr", "seed", "record") and "step" in ds.coords


def test_to_pandas_is_the_tidy_table(key):
    t = sweep(_run, {"lr": [0.1, 0.5]}, seeds=2, key=key, progress=False)
    df = t.to_pandas()
    assert sorted(df.columns) == ["loss", "lr", "seed", "step"]  # 2-D metric "x" left out
    assert len(df) == len(t) == 2 * 2 * 4
    row = df[(df.lr == 0.5) & (df.seed == 1) & (df.step == 30)]
    assert row["loss"].item() == t.data["loss"][1, 1, 3]
