"""A sweep on 2 processes x 2 CPU devices (jax.distributed on 127.0.0.1) equals the same
sweep on 1 process x 4 devices, and a resume where only process 0 holds the finished cells
(a per-host out/ directory) neither deadlocks nor changes a number."""

import os
import socket
import subprocess
import sys
import textwrap

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The run and grid live in the script so every process builds the same code.
COMMON = textwrap.dedent("""
    import os, sys
    import jax, jax.numpy as jnp, numpy as np

    def run(config, key):
        ka, kt = jax.random.split(key)
        n = config["n"]
        m = jax.random.normal(ka, (n, n))
        a = m @ m.T / n + 0.1 * jnp.eye(n)
        theta = jax.random.normal(kt, (n,))
        def body(theta, _):
            return theta - config["lr"] * (a @ theta), 0.5 * theta @ a @ theta
        theta, losses = jax.lax.scan(body, theta, None, length=4)
        return {"step": jnp.arange(4), "loss": losses}

    GRID = {"n": [2, 3, 5], "lr": [0.1, 0.4]}
    SEEDS = 6   # padded to 8 over 4 devices, sharded 2 + 2 per process
""")

MULTI = COMMON + textwrap.dedent("""
    from jax.experimental import multihost_utils
    pid, port, outbase, res = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2,
                               process_id=pid, initialization_timeout=120)
    from villani.experiments.sweep import sweep
    assert jax.process_count() == 2 and len(jax.devices()) == 4, jax.devices()
    assert len(jax.local_devices()) == 2
    key = jax.random.key(11)
    out = os.path.join(outbase, f"host{pid}")       # a per-host out/: not shared
    first = sweep(run, GRID, SEEDS, key=key, out=out, chunk=4, progress=False)
    # only process 0 writes; make process 0 lose one cell, then resume on both
    cells = sorted(os.listdir(os.path.join(out, "cells"))) if pid == 0 else []
    assert (len(cells) == 3) if pid == 0 else not os.path.exists(os.path.join(out, "cells"))
    if pid == 0:
        os.remove(os.path.join(out, "cells", cells[1]))
    multihost_utils.sync_global_devices("removed")
    resumed = sweep(run, GRID, SEEDS, key=key, out=out, chunk=4, progress=False)
    np.savez(res + f".{pid}.npz", first=first.data["loss"], resumed=resumed.data["loss"])
    print(f"MULTI-OK {pid}")
""")

SINGLE = COMMON + textwrap.dedent("""
    from villani.experiments.sweep import sweep
    assert jax.process_count() == 1 and len(jax.devices()) == 4, jax.devices()
    t = sweep(run, GRID, SEEDS, key=jax.random.key(11), chunk=4, progress=False)
    np.save(sys.argv[1], t.data["loss"])
    print("SINGLE-OK")
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(n_devices):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n_devices}",
               JAX_PLATFORMS="cpu", JAX_ENABLE_X64="1")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _finish(procs, timeout):
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=timeout))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    return outs


def test_two_processes_equal_one_process_and_resume_does_not_deadlock(tmp_path):
    port = _free_port()
    res = str(tmp_path / "res")
    multi = [subprocess.Popen([sys.executable, "-c", MULTI, str(i), str(port), str(tmp_path), res],
                              cwd=ROOT, env=_env(2), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in range(2)]
    single = subprocess.Popen([sys.executable, "-c", SINGLE, str(tmp_path / "single.npy")], cwd=ROOT,
                              env=_env(4), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outs = _finish(multi + [single], timeout=420)
    for p, (o, e) in zip(multi + [single], outs):
        assert p.returncode == 0, e[-3000:]
    assert "MULTI-OK 0" in outs[0][0] and "MULTI-OK 1" in outs[1][0] and "SINGLE-OK" in outs[2][0]
    ref = np.load(tmp_path / "single.npy")
    assert ref.shape == (3, 2, 6, 4)
    for pid in range(2):
        got = np.load(f"{res}.{pid}.npz")
        # the same compiled program on the same seeds: agreement to float64 rounding
        np.testing.assert_allclose(got["first"], ref, rtol=1e-12, atol=1e-12, err_msg=f"process {pid}")
        np.testing.assert_array_equal(got["resumed"], got["first"], err_msg=f"process {pid}")
