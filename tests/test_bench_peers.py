"""The peers benchmark's plumbing (benchmarks/peers): no peer environment needed.

The peer sides run in their own environments and are not exercised here; what is
checked is what every comparison rests on — the JAX peers compute villani's function
with the same weights, inputs are reproducible, missing environments and failures are
reported as "not run", and the trace study reads its table correctly.
"""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks.peers import _jaxnets
from benchmarks.peers import run as peers
from villani import nets

TOL64 = 1e-12


def _inputs(tmp_path, spec):
    path = tmp_path / "in.npz"
    peers.make_inputs(spec, str(path))
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize("param", ["standard", "ntk"])
@pytest.mark.parametrize("act", ["tanh", "erf"])
def test_jax_peer_nets_compute_villanis_function(tmp_path, param, act):
    for spec in (peers._two(act, "squared", 7, 5, "float64", param=param) | {"d": 3},
                 peers._mlp("logistic", 7, (4, 6, 5), "float64", act=act, param=param)
                 | {"d": 3}):
        z = _inputs(tmp_path, spec)
        if spec["net"] == "two_layer":
            net = nets.two_layer(spec["m"], act, parametrization=param)
            vp = {"w": jnp.asarray(z["w"]), "a": jnp.asarray(z["a"])}
        else:
            net = nets.mlp(tuple(spec["widths"]), act, parametrization=param)
            vp = {"w": [jnp.asarray(z[f"w{i}"]) for i in range(4)]}
        want = net.apply(vp, jnp.asarray(z["x"]))
        got = _jaxnets.apply_fn(spec)(_jaxnets.params_from(spec, z, jnp.float64),
                                      jnp.asarray(z["x"]))[:, 0]
        np.testing.assert_allclose(got, want, rtol=TOL64, atol=TOL64)


def test_jax_peer_loss_is_villanis_objective(tmp_path):
    import villani

    for loss in ("squared", "logistic"):
        spec = peers._two("tanh", loss, 9, 4, "float64") | {"d": 3}
        z = _inputs(tmp_path, spec)
        net = nets.two_layer(4, "tanh", parametrization="standard")
        vp = {"w": jnp.asarray(z["w"]), "a": jnp.asarray(z["a"])}
        obj = villani.Objective(net, villani.Dataset(z["x"], z["y"]), loss=loss)
        pp = _jaxnets.params_from(spec, z, jnp.float64)  # the peers' (fan_in, fan_out) layout
        got = _jaxnets.loss_fn(spec)(pp, jnp.asarray(z["x"]), jnp.asarray(z["y"]))
        np.testing.assert_allclose(got, obj.value(vp), rtol=TOL64)
        g = _jaxnets.to_driver(spec, jax.grad(_jaxnets.loss_fn(spec))(pp, z["x"], z["y"]))
        np.testing.assert_allclose(g["w"], obj.grad(vp)["w"], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(g["a"], obj.grad(vp)["a"], rtol=1e-10, atol=1e-14)


def test_inputs_are_reproducible_and_typed(tmp_path):
    spec = peers._two("tanh", "logistic", 6, 3, "float32")
    a = _inputs(tmp_path, spec)
    b = _inputs(tmp_path, spec)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        assert a[k].dtype == np.float32
    assert set(np.unique(a["y"])) <= {-1.0, 1.0}
    c = _inputs(tmp_path, spec | {"seed": 1})
    assert not np.array_equal(a["x"], c["x"])


def test_missing_environment_is_not_run(tmp_path, monkeypatch):
    monkeypatch.setitem(peers.SIDES, "torch", (str(tmp_path / "nope" / "python"), "x.py"))
    tasks = [{"id": "c0:backpack_diag_hessian", "impl": "backpack_diag_hessian"}]
    res = peers._run_side("torch", tasks, str(tmp_path), timeout=10)
    rec = res["c0:backpack_diag_hessian"]
    assert rec["status"] == "not run" and "environment missing" in rec["reason"]
    assert "time_s" not in rec


def test_study_summary_finds_first_count_at_target():
    out = {"estimates": np.array([[1.2, 0.8, 1.1], [1.004, 0.996, 1.02], [1.0, 1.0, 1.0]]),
           "probes": np.array([10, 100, 1000]), "times": np.array([0.1, 1.0, 10.0])}
    s = peers._study_summary(out, 1.0, 0.01)
    assert s["probes_to_target"] == 100 and s["time_to_target_s"] == 1.0
    assert s["median_rel_errors"][10] == pytest.approx(0.2)
    s = peers._study_summary(out, 2.0, 0.01)
    assert s["probes_to_target"] is None and s["max_probes_run"] == 1000


def test_markdown_keeps_reasons_in_one_cell():
    rep = {"device": "cpu", "device_kind": "cpu", "cpu_count": 2, "date": "today",
           "grid": "quick", "notes": {"task_timeout_s": 10, "villani_source": "x"},
           "versions": {}, "beyond": [],
           "rows": [dict(bench="laplacian", problem="p", sizes="s", dtype="float64",
                         label="BackPACK", status="not run", reason="failed: a | b")]}
    md = peers.markdown(rep)
    row = [ln for ln in md.splitlines() if "BackPACK" in ln][0]
    assert "not run: failed: a / b" in row
    assert row.count("|") == 11


def test_beyond_ntk_row_brackets_the_dense_lambda_min(tmp_path):
    # the row the "Beyond the peers" table prints: p = m(d + 1) > n, so K is non-singular,
    # and the bracket must contain LAPACK's eigvalsh of the same float64 K
    from benchmarks.peers import side_villani
    from villani.diagnostics import ntk

    spec = peers._two("erf", "squared", 48, 4, "float64", param="ntk",
                      villani_kwargs={"num_iters": 16, "chunk": 16}) | {"d": 16}
    z = _inputs(tmp_path, spec)
    res, _ = side_villani.ntk_certified(spec, z)
    net, params, _, x = side_villani.build(spec, z)
    assert res["p"] == 4 * 17 > 48
    k = np.asarray(ntk(net, params, x))
    lmin = np.linalg.eigvalsh((k + k.T) / 2)[0]
    assert res["proven_positive"] == 1.0
    assert res["lmin_lower"] <= lmin <= res["lmin_upper"]


def test_threads_are_enforced_by_pinning_every_side_to_the_same_cores():
    # XLA's CPU pool ignores --xla_cpu_multi_thread_eigen=false: only the affinity, which
    # every side process inherits, makes "one core per side" true for the JAX sides
    import os
    import subprocess
    import sys

    code = ("import os, sys; sys.path.insert(0, '.'); from benchmarks.peers import run; "
            "print(run.pin_threads(1)); print(os.sched_getaffinity(0)); "
            "import subprocess; print(subprocess.run([sys.executable, '-c', "
            "'import os; print(len(os.sched_getaffinity(0)))'], capture_output=True, "
            "text=True).stdout.strip()); print(os.environ['OMP_NUM_THREADS'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(__file__))).stdout.split("\n")
    first = sorted(os.sched_getaffinity(0))[0]
    assert out[0] == f"[{first}]" and out[1] == f"{{{first}}}"
    assert out[2] == "1" and out[3] == "1"  # a side started afterwards has one core
    with pytest.raises(ValueError, match="threads"):
        peers.pin_threads(0)
    with pytest.raises(ValueError, match="threads"):
        peers.pin_threads(len(os.sched_getaffinity(0)) + 1)


def test_markdown_says_when_threads_were_not_enforced():
    assert "not enforced" in peers._threads_text({"threads": 1})
    assert peers._threads_text({"threads": 1, "cores_pinned": [0]}) == "cores per side: 1 (pinned)"
    assert "default" in peers._threads_text({"threads": None})


@pytest.mark.slow  # every villani side once on the quick grid: ~1 min of compiles
def test_every_villani_side_runs_on_the_quick_grid(tmp_path):
    # the sides call villani's public API: a change of signature there (a key made
    # keyword-only, say) must fail here, not turn a committed table's rows into "not run"
    from benchmarks.peers import side_villani

    comps, beyond, _ = peers.build_grid("quick")
    ran = set()

    def run(impl, spec, z):
        res, timing = side_villani.REGISTRY[impl](spec, z)
        assert all(np.all(np.isfinite(np.asarray(v))) for v in res.values()), impl
        ran.add(impl)
        return res, timing

    def mine(impls):
        return [i for i in impls if peers.side_of(i) == "villani"]

    for i, c in enumerate(comps):
        spec = c["spec"]
        (tmp_path / f"c{i}").mkdir()
        z = _inputs(tmp_path / f"c{i}", spec)
        if c["compare"] == "study":  # exact values first, then the estimators to the target
            first = [run(impl, spec, z)[0] for impl in mine(c["villani"] + c["references"])]
            spec = dict(spec, reference=float(first[0]["value"]))
            later = mine(c["peers"])
        elif c.get("references"):  # runs to a target error: the reference first
            res, _ = run(c["references"][0], spec, z)
            spec = dict(spec, reference=float(res["lmax"]))
            later = mine(c["villani"] + c["peers"])
        else:
            later = mine(c["villani"] + c["peers"])
        for impl in later:
            run(impl, spec, z)
    for j, b in enumerate(beyond):
        (tmp_path / f"b{j}").mkdir()
        z = _inputs(tmp_path / f"b{j}", b["spec"])
        for impl in mine(b["impls"]):
            run(impl, b["spec"], z)
    # every villani side the registry knows ran (the density side once failed unseen)
    assert ran == set(side_villani.REGISTRY), set(side_villani.REGISTRY) - ran


def test_merge_replaces_whole_benchmarks_and_dates_the_table_by_its_newest_run(tmp_path):
    def report(date, rows, source):
        return {"date": date, "rows": rows, "beyond": [], "versions": {"villani": source},
                "notes": {"villani_source": source, "threads": 1, "cores_pinned": [0],
                          "load_before": [1.0], "load_after": [1.0], "task_timeout_s": 150}}

    def row(bench, side, t):
        return {"bench": bench, "side": side, "time_s": t}

    base = report("2026-11-23", [row("ntk", "a", 1.0), row("ntk", "b", 2.0),
                                 row("density", "a", 3.0)], "old")
    new = report("2026-12-04", [row("ntk", "a", 0.5)], "new")
    (tmp_path / "base.json").write_text(json.dumps(base))
    (tmp_path / "new.json").write_text(json.dumps(new))
    rep = peers.merge(str(tmp_path / "base.json"), [str(tmp_path / "new.json")])
    # every row of a rerun benchmark is replaced (none of the old run's survives); others stay
    assert sorted((r["bench"], r["side"], r["time_s"]) for r in rep["rows"]) == [
        ("density", "a", 3.0), ("ntk", "a", 0.5)]
    runs = {tuple(r["benches"]): (r["villani_source"], r["date"]) for r in rep["notes"]["runs"]}
    assert runs == {("density",): ("old", "2026-11-23"), ("ntk",): ("new", "2026-12-04")}
    assert rep["date"] == "2026-12-04"
