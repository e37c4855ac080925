"""sweep(): grid expansion, vmapped axes, chunks, sharding, resumable out/ directories.

The reference everywhere is the plainest possible computation: a Python loop calling
``run(config, jax.random.fold_in(key, seed))`` one cell and seed at a time, eagerly.
"""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from villani.experiments.sweep import SweepTable, classify_axes, sweep
from villani.trajectory import Trajectory

TOL = 1e-12  # float64: vmapped vs unbatched matmuls differ only in rounding


def gd_run(config, key):
    """A few GD steps on a random quadratic 0.5 θᵀAθ with A of size n (n changes shapes)."""
    n, steps = config["n"], 6
    ka, kt = jax.random.split(key)
    m = jax.random.normal(ka, (n, n))
    a = m @ m.T / n + 0.1 * jnp.eye(n)
    theta0 = jax.random.normal(kt, (n,))

    def body(theta, _):
        loss = 0.5 * theta @ a @ theta
        return theta - config["lr"] * (a @ theta), loss

    theta, losses = jax.lax.scan(body, theta0, None, length=steps)
    return {"step": jnp.arange(steps), "loss": losses, "final": 0.5 * theta @ a @ theta,
            "info": {"norm": jnp.linalg.norm(theta)}}


def cheap_run(config, key):
    """A run that compiles in milliseconds, for the bookkeeping tests."""
    u = jax.random.uniform(key, (config["n"],))
    return {"step": jnp.arange(2), "x": jnp.stack([u.sum(), config["lr"] * u.sum()])}


def loop_reference(run, grid, seeds, key):
    """Dense arrays (*grid_shape, S, ...) from a Python loop of unbatched calls."""
    names = list(grid)
    shape = tuple(len(grid[a]) for a in names)
    out = {}
    for idx in np.ndindex(*shape):
        cfg = {a: grid[a][i] for a, i in zip(names, idx)}
        one = jax.jit(lambda k, lr, n=cfg["n"]: run({"n": n, "lr": lr}, k))  # no vmap anywhere
        for j, s in enumerate(seeds):
            res = one(jax.random.fold_in(key, s), cfg["lr"])
            flat = {"step": res["step"], "loss": res["loss"], "final": res["final"],
                    "info.norm": res["info"]["norm"]}
            for k, v in flat.items():
                v = np.asarray(v)
                if k in ("final", "info.norm"):
                    v = np.broadcast_to(v, (6,))
                arr = out.setdefault(k, np.zeros(shape + (len(seeds),) + v.shape, v.dtype))
                arr[idx + (j,)] = v
    return out


GRID = {"lr": [0.05, 0.3], "n": [2, 3]}  # lr vmapped, n looped, grid order kept


def test_grid_equals_python_loop(key):
    seeds = [0, 1, 2]
    table = sweep(gd_run, GRID, seeds, key=key, progress=False)
    ref = loop_reference(gd_run, GRID, seeds, key)
    assert table.shape == (2, 2, 3, 6)
    assert set(table.data) == set(ref)
    for k in ref:
        np.testing.assert_allclose(table.data[k], ref[k], rtol=TOL, atol=TOL, err_msg=k)
    # tidy columns agree with the dense arrays
    cols = table.columns
    assert len(cols["loss"]) == len(table) == 2 * 2 * 3 * 6
    i = (0 * 2 + 1) * 3 * 6 + 2 * 6 + 2  # lr index 0, n index 1 (n=3), seed index 2, record 2
    assert (cols["lr"][i], cols["n"][i], cols["seed"][i], cols["step"][i]) == (0.05, 3, 2, 2)
    assert cols["loss"][i] == table.data["loss"][0, 1, 2, 2]


def test_classify_axes():
    grid = {"width": [16, 64], "lr": [0.1, 1], "act": ["tanh", "erf"], "flag": [True, False]}
    assert classify_axes(grid) == (["width", "act", "flag"], ["lr"])
    assert classify_axes(grid, static_axes=["lr"]) == (["width", "lr", "act", "flag"], [])
    with pytest.raises(ValueError, match="static_axes"):
        classify_axes(grid, static_axes=["depth"])


def test_compiles_once_per_looped_cell(key):
    traces = []

    def run(config, key):
        traces.append(config["n"])
        return cheap_run(config, key)

    sweep(run, GRID, seeds=5, key=key, chunk=2, progress=False)  # 3 chunks per cell
    assert traces == [2, 3]


def test_chunked_and_subsets_are_the_same_rows(key):
    full = sweep(gd_run, GRID, seeds=5, key=key, progress=False)
    chunked = sweep(gd_run, GRID, seeds=5, key=key, chunk=2, progress=False)  # same fn as above
    for k in full.data:
        np.testing.assert_array_equal(chunked.data[k], full.data[k])
    sub = sweep(gd_run, GRID, seeds=[4, 1], key=key, chunk=2, progress=False)
    np.testing.assert_array_equal(sub.data["loss"], full.data["loss"][:, :, [4, 1]])
    # a grid subset gives the same numbers as the corresponding slice of the full grid
    one = sweep(gd_run, {"lr": [0.3], "n": [3]}, seeds=5, key=key, progress=False)
    np.testing.assert_allclose(one.data["loss"][0, 0], full.data["loss"][1, 1], rtol=TOL, atol=TOL)


def test_trajectory_output_and_scalar_runs(key):
    def run(config, key):
        loss = jnp.exp(-config["lr"] * jnp.arange(4.0)) * jax.random.uniform(key)
        return Trajectory(steps=jnp.arange(4) * 10, loss=loss, grad_norm2=loss**2,
                          metrics={"pl": loss / 2}, params={"w": jnp.ones(100)}, opt_state=None,
                          valid=jnp.ones(4, bool), diverged=jnp.array(False),
                          diverged_at=jnp.array(-1))

    t = sweep(run, {"lr": [0.5, 1.0]}, seeds=2, key=key, progress=False)
    assert set(t.data) == {"step", "loss", "grad_norm2", "valid", "diverged", "diverged_at", "pl"}
    assert t.data["loss"].shape == (2, 2, 4) and t.data["diverged"].shape == (2, 2, 4)
    u = jax.random.uniform(jax.random.fold_in(key, 1))
    np.testing.assert_allclose(t.data["loss"][1, 1], np.exp(-np.arange(4.0)) * u, rtol=TOL)
    np.testing.assert_array_equal(t["step"][:4], [0, 10, 20, 30])

    scalar = sweep(lambda c, k: {"u": jax.random.uniform(k) * c["lr"]}, {"lr": [1.0, 2.0]},
                   seeds=3, key=key, progress=False)
    assert not scalar.has_records and scalar.data["u"].shape == (2, 3) and len(scalar) == 6
    ref = [[float(jax.random.uniform(jax.random.fold_in(key, s))) * lr for s in range(3)]
           for lr in (1.0, 2.0)]
    np.testing.assert_allclose(scalar.data["u"], ref, rtol=TOL)
    empty = sweep(lambda c, k: {"u": jax.random.uniform(k)}, {}, seeds=4, key=key, progress=False)
    assert empty.data["u"].shape == (4,) and list(empty.columns) == ["seed", "u"]


def test_table_views_and_roundtrip(key, tmp_path):
    t = sweep(gd_run, GRID, seeds=3, key=key, progress=False)
    x = t.to_xarray_dict()
    assert x["dims"] == {"lr": 2, "n": 2, "seed": 3, "record": 6}
    assert x["data_vars"]["loss"]["dims"] == ("lr", "n", "seed", "record")
    np.testing.assert_array_equal(x["coords"]["n"]["data"], [2, 3])
    s = t.select(n=3)
    np.testing.assert_array_equal(s.data["loss"][:, 0], t.data["loss"][:, 1])
    with pytest.raises(ValueError, match="n: 5 is not one of"):
        t.select(n=5)
    t.save(tmp_path / "t.npz")
    u = SweepTable.load(tmp_path / "t.npz")
    assert list(u.axes) == ["lr", "n"] and u.has_records
    for k in t.data:
        np.testing.assert_array_equal(u.data[k], t.data[k])
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pandas"):
            t.to_pandas()
    else:
        assert len(t.to_pandas()) == len(t)


def test_interrupted_sweep_resumes_only_missing_cells(key, tmp_path, monkeypatch):
    grid = {"n": [2, 3, 4, 5], "lr": [0.1, 0.2]}
    calls = []
    # The crash is switched by an environment variable, not a value run closes over: a
    # changed closure value is a changed run (its code fingerprint), which out/ refuses.
    monkeypatch.setenv("SWEEP_TEST_KILL_AT", "4")

    def run(config, key):
        calls.append(config["n"])
        if str(config["n"]) == os.environ.get("SWEEP_TEST_KILL_AT"):
            raise RuntimeError("killed")
        return cheap_run(config, key)

    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="killed"):
        sweep(run, grid, seeds=3, key=key, out=out, progress=False)
    assert calls == [2, 3, 4]
    assert len(list((out / "cells").glob("*.npz"))) == 2
    assert not list((out / "cells").glob("*.tmp"))
    monkeypatch.delenv("SWEEP_TEST_KILL_AT")
    calls.clear()
    resumed = sweep(run, grid, seeds=3, key=key, out=out, progress=False)
    assert calls == [4, 5]  # only the missing cells ran
    whole = sweep(run, grid, seeds=3, key=key, out=tmp_path / "other", progress=False)
    for k in whole.data:
        np.testing.assert_array_equal(resumed.data[k], whole.data[k])
    calls.clear()
    again = sweep(run, grid, seeds=3, key=key, out=out, progress=False)
    assert calls == []
    np.testing.assert_array_equal(again.data["x"], whole.data["x"])
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["config"]["grid"] == {"n": [2, 3, 4, 5], "lr": [0.1, 0.2]}
    assert meta["environment"]["versions"]["jax"] == jax.__version__
    assert len(meta["config_hash"]) == 16
    assert SweepTable.load(out / "table.npz").data["x"].shape == (4, 2, 3, 2)


def test_changed_config_is_refused(key, tmp_path):
    sweep(cheap_run, GRID, seeds=2, key=key, out=tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"grid\.lr: stored \[0\.05, 0\.3\], given \[0\.05, 0\.4\]"):
        sweep(cheap_run, {"lr": [0.05, 0.4], "n": [2, 3]}, seeds=2, key=key, out=tmp_path, progress=False)
    with pytest.raises(ValueError, match="seeds: stored"):
        sweep(cheap_run, GRID, seeds=3, key=key, out=tmp_path, progress=False)
    with pytest.raises(ValueError, match="key: stored"):
        sweep(cheap_run, GRID, seeds=2, key=jax.random.key(123), out=tmp_path, progress=False)


def test_bad_arguments_are_named(key):
    with pytest.raises(ValueError, match="grid: axis name 'seed' is reserved"):
        sweep(gd_run, {"seed": [1]}, 2, key=key)
    with pytest.raises(ValueError, match="grid.lr: expected at least one value"):
        sweep(gd_run, {"lr": []}, 2, key=key)
    with pytest.raises(TypeError, match="grid.lr: expected a sequence"):
        sweep(gd_run, {"lr": 0.1}, 2, key=key)
    with pytest.raises(ValueError, match="seeds: expected a positive number"):
        sweep(gd_run, GRID, 0, key=key)
    with pytest.raises(ValueError, match="seeds: expected distinct"):
        sweep(gd_run, GRID, [1, 1], key=key)
    with pytest.raises(ValueError, match="chunk: expected a positive int"):
        sweep(gd_run, GRID, 2, key=key, chunk=0)
    with pytest.raises(TypeError, match="key: expected a JAX PRNG key"):
        sweep(gd_run, GRID, 2, key=0)
    with pytest.raises(TypeError, match="run: expected a Trajectory or a dict"):
        sweep(lambda c, k: 1.0, {}, 2, key=key)
    with pytest.raises(ValueError, match="output 'x' has shape"):
        sweep(lambda c, k: {"step": jnp.arange(3), "x": jnp.ones(2)}, {}, 2, key=key)
    with pytest.raises(ValueError, match="output 'x' changes shape across the grid"):
        sweep(lambda c, k: {"x": jnp.ones(c["n"])}, {"n": [1, 2]}, 2, key=key, progress=False)


def test_key_is_keyword_only(key):
    """The old positional call is refused with a message that names the key and the fix."""
    with pytest.raises(TypeError, match=r"key is keyword-only.*key=jax\.random\.key"):
        sweep(gd_run, GRID, 2, key)
    with pytest.raises(TypeError, match="keyword-only argument: 'key'"):
        sweep(gd_run, GRID, 2)
    import inspect
    assert inspect.signature(sweep).parameters["key"].kind is inspect.Parameter.KEYWORD_ONLY


def test_progress_bar_and_fallback(key, capsys, monkeypatch):
    sweep(cheap_run, GRID, seeds=2, key=key, progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err and "sweep" in err
    for mod in ("tqdm", "tqdm.auto", "tqdm.std"):  # as if tqdm were not installed
        monkeypatch.setitem(sys.modules, mod, None)
    sweep(cheap_run, GRID, seeds=2, key=key, progress=True)
    err = capsys.readouterr().err
    assert "sweep: " in err and " s left" in err
    sweep(cheap_run, GRID, seeds=2, key=key, progress=False)
    assert capsys.readouterr().err == ""


SHARDED = textwrap.dedent("""
    import jax, numpy as np
    from tests.test_sweep import GRID, gd_run
    from villani.experiments.sweep import sweep
    assert len(jax.devices()) == 8, jax.devices()
    key = jax.random.key(7)
    grid = {"lr": GRID["lr"], "n": [3]}
    one = sweep(gd_run, grid, seeds=5, key=key, devices=jax.devices()[:1], progress=False)
    eight = sweep(gd_run, grid, seeds=5, key=key, progress=False)   # padded 5 -> 8
    chunked = sweep(gd_run, grid, seeds=13, key=key, chunk=3, progress=False)  # 2 chunks of 8
    for k in one.data:
        np.testing.assert_allclose(eight.data[k], one.data[k], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(chunked.data[k][:, :, :5], one.data[k], rtol=1e-12, atol=1e-12)
    assert eight.meta["environment"]["device_count"] == 8
    print("SHARDED-OK")
""")


def test_sharded_equals_unsharded_on_8_forced_host_devices():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8",
               JAX_ENABLE_X64="1", JAX_PLATFORMS="cpu")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-c", SHARDED], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SHARDED-OK" in proc.stdout


# --------------------------------------------------------------------------------------
# out/ never serves stale or foreign results


def _scaled(c):
    def run(config, key):
        return {"x": jax.random.uniform(key, (config["n"],)).sum() * c * config["lr"]}
    return run


def test_changed_run_code_is_refused(key, tmp_path):
    grid = {"n": [2, 3], "lr": [0.5, 1.0]}

    def run(config, key):
        return {"x": jax.random.uniform(key, (config["n"],)).sum() * config["lr"]}

    first = sweep(run, grid, seeds=2, key=key, out=tmp_path, progress=False)
    u = [[float(jax.random.uniform(jax.random.fold_in(key, s), (n,)).sum()) for s in range(2)]
         for n in (2, 3)]
    np.testing.assert_allclose(first.data["x"][:, 1], u, rtol=TOL)  # lr = 1.0

    def run(config, key):  # noqa: F811 - the same qualified name, another body
        return {"x": 2.0 * jax.random.uniform(key, (config["n"],)).sum() * config["lr"]}

    with pytest.raises(ValueError, match=r"run_code: stored .* code of run \(or a value it closes over\) "
                                         "changed"):
        sweep(run, grid, seeds=2, key=key, out=tmp_path, progress=False)
    # a changed closure value is a changed run; an equal one (a new function object) is not
    sweep(_scaled(1.0), grid, seeds=2, key=key, out=tmp_path / "c", progress=False)
    with pytest.raises(ValueError, match="run_code"):
        sweep(_scaled(3.0), grid, seeds=2, key=key, out=tmp_path / "c", progress=False)
    again = sweep(_scaled(1.0), grid, seeds=2, key=key, out=tmp_path / "c", progress=False)
    np.testing.assert_allclose(again.data["x"], first.data["x"], rtol=TOL)


def test_out_is_locked_while_a_sweep_writes(key, tmp_path):
    import fcntl

    sweep(cheap_run, GRID, seeds=2, key=key, out=tmp_path, progress=False)  # releases the lock
    with open(tmp_path / ".lock", "a") as other:  # another writer holds it
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ValueError, match="is in use by another sweep"):
            sweep(cheap_run, GRID, seeds=2, key=key, out=tmp_path, progress=False)
    sweep(cheap_run, GRID, seeds=2, key=key, out=tmp_path, progress=False)


@pytest.mark.parametrize("damage", ["truncated", "empty", "foreign", "unstamped"])
def test_damaged_or_foreign_cell_is_named_and_recomputed(damage, key, tmp_path):
    from villani.experiments import _store

    ref = sweep(cheap_run, GRID, seeds=2, key=key, progress=False)
    out = tmp_path / "out"
    sweep(cheap_run, GRID, seeds=2, key=key, out=out, progress=False)
    cell = sorted((out / "cells").glob("*.npz"))[1]
    if damage == "truncated":
        cell.write_bytes(cell.read_bytes()[:200])
    elif damage == "empty":
        cell.write_bytes(b"")
    elif damage == "foreign":  # the same cell name in a sweep with another key
        other = tmp_path / "other"
        sweep(cheap_run, GRID, seeds=2, key=jax.random.key(5), out=other, progress=False)
        cell.write_bytes((other / "cells" / cell.name).read_bytes())
    else:  # a cell file without the config hash (another program, an older villani)
        arrays = _store.load_npz(cell)
        del arrays[_store.CELL_HASH]
        _store.save_npz(cell, arrays)
    reason = {"truncated": "unreadable", "empty": "unreadable", "foreign": "belongs to another sweep",
              "unstamped": "no config hash"}[damage]
    with pytest.warns(RuntimeWarning, match=f"{cell.name}' ignored: .*{reason}.*recomputing"):
        t = sweep(cheap_run, GRID, seeds=2, key=key, out=out, progress=False)
    np.testing.assert_array_equal(t.data["x"], ref.data["x"])
    assert str(_store.load_npz(cell)[_store.CELL_HASH]) == t.meta["config_hash"]  # rewritten


def test_float64_and_versions_are_checked_on_resume(key, tmp_path):
    sweep(cheap_run, GRID, seeds=2, key=key, out=tmp_path, progress=False)  # float64 on (conftest)
    with jax.enable_x64(False):
        with pytest.raises(ValueError, match="float64: stored True, now False"):
            sweep(cheap_run, GRID, seeds=2, key=key, out=tmp_path, progress=False)
    meta = json.loads((tmp_path / "sweep.json").read_text())
    meta["environment"]["versions"]["jaxlib"] = "0.0.1"
    (tmp_path / "sweep.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=f"jaxlib: stored '0.0.1', now '{jax.__version__}'"):
        sweep(cheap_run, GRID, seeds=2, key=key, out=tmp_path, progress=False)


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_files_honour_the_umask(umask, key, tmp_path):
    old = os.umask(umask)
    try:
        sweep(cheap_run, GRID, seeds=2, key=key, out=tmp_path / "out", progress=False)
    finally:
        os.umask(old)
    files = [tmp_path / "out" / "sweep.json", tmp_path / "out" / "table.npz",
             *(tmp_path / "out" / "cells").glob("*.npz")]
    assert len(files) == 4
    for f in files:
        assert f.stat().st_mode & 0o777 == 0o666 & ~umask, f


def test_a_sweep_that_failed_before_any_cell_does_not_pin_out(key, tmp_path):
    def broken(config, key):
        raise RuntimeError("a bug in run")

    with pytest.raises(RuntimeError, match="a bug in run"):
        sweep(broken, GRID, seeds=2, key=key, out=tmp_path, progress=False)
    assert not (tmp_path / "sweep.json").exists()
    # the corrected run (another function, another grid) uses the same out/
    t = sweep(cheap_run, {"n": [2], "lr": [0.5]}, seeds=2, key=key, out=tmp_path, progress=False)
    assert json.loads((tmp_path / "sweep.json").read_text())["config_hash"] == t.meta["config_hash"]
