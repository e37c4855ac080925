"""The ``villani`` command, end to end and in-process through ``villani.cli.main``."""

import os
import re
import textwrap

import jax
import numpy as np
import pytest

from villani import cli
from villani.experiments import Paper, Result, Verdict, papers
from villani.experiments.sweep import SweepTable

TINY = """
seeds = 3
key = 1
[network]
width = 4
[data]
n = 6
d = 3
[dynamics]
lr = 0.5
steps = 4
every = 2
[grid]
"network.width" = [2]
lr = [0.1, 0.5]
"""


def write(tmp_path, text, name="c.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


@pytest.mark.parametrize("command", ["info", "demo", "run", "reproduce", "bench"])
def test_every_command_has_help_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([command, "--help"])
    assert e.value.code == 0
    assert "example" in capsys.readouterr().out


def test_info(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert jax.__version__ in out and "float64" in out and "devices" in out


def test_run_end_to_end_and_resume(tmp_path, capsys):
    cfg = write(tmp_path, TINY)
    out = tmp_path / "out"
    assert cli.main(["run", cfg, "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "network.width" in text and "median" in text
    table = SweepTable.load(out / "table.npz")
    assert list(table.axes) == ["network.width", "lr"]
    assert table.data["loss"].shape == (1, 2, 3, 3)  # records at steps 0, 2, 4
    np.testing.assert_array_equal(table.data["step"][0, 0, 0], [0, 2, 4])
    assert (out / "loss.png").exists()
    # the loss printed for width 2, lr 0.1 is the median over seeds of the last record
    med = np.median(table.data["loss"][0, 0, :, -1])
    assert f"{med:12.4e}" in text
    # the same run through the library: GD from villani.train on the same problem
    from villani import Objective, data, nets, optim, train

    ds = data.teacher_student(jax.random.key(0), nets.two_layer(4, "tanh"), 6, 3)
    obj = Objective(nets.two_layer(2, "tanh"), ds)
    k_init, k_train = jax.random.split(jax.random.fold_in(jax.random.key(1), 2))
    traj = train(obj, optim.gd(0.1), obj.net.init(k_init, 3), 4, key=k_train, every=2)
    np.testing.assert_allclose(table.data["loss"][0, 0, 2], traj.loss, rtol=1e-10)
    # re-running resumes: every cell is on disk, nothing is recomputed, same table
    assert cli.main(["run", cfg, "--out", str(out), "--no-progress"]) == 0
    assert text.splitlines()[:6] == capsys.readouterr().out.splitlines()[:6]
    # a changed config in the same out/ is refused, naming what differs
    changed = write(tmp_path, TINY.replace("lr = 0.5", "lr = 0.25"), "d.toml")
    assert cli.main(["run", changed, "--out", str(out), "--no-progress"]) == 2
    assert "meta.dynamics.lr: stored 0.5, given 0.25" in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [
    ("seeds = 2\n[network]\nwidth = 'x'\n[dynamics]\nlr = 0.1",
     "network.width: expected a positive int, got 'x'"),
    ("seeds = 2\n[network]\nwidht = 3\n[dynamics]\nlr = 0.1", "network.widht: unknown key"),
    ("seeds = 2\n[netwrk]\nwidth = 3\n[dynamics]\nlr = 0.1", "netwrk: unknown section"),
    ("seeds = 2\n[dynamics]\nlr = -1", "dynamics.lr: expected a positive number, got -1"),
    ("seeds = 2\n[dynamics]\nsteps = 3", "dynamics.lr: required"),
    ("[dynamics]\nlr = 0.1", "seeds: required"),
    ("seeds = 0\n[dynamics]\nlr = 0.1", "seeds: expected a positive int, got 0"),
    ("seeds = 2\n[dynamics]\nlr = 0.1\n[grid]\nlr = [0.1, 'a']",
     "grid.lr[1]: expected a positive number, got 'a'"),
    ("seeds = 2\n[dynamics]\nlr = 0.1\n[grid]\nwidthh = [1]", "grid.widthh: unknown parameter"),
    ("seeds = 2\n[dynamics]\nlr = 0.1\n[grid]\nkind = ['mlp']", "grid.kind: ambiguous"),
    ("seeds = 2\n[dynamics]\nlr = 0.1\nmomentum = 0.5", "dynamics.momentum: not used when"),
    ("seeds = 2\n[dynamics]\noptimizer = 'sgd'\nlr = 0.1", "dynamics.batch_size: required for"),
    ("seeds = 2\n[network]\nkind = 'mlp'\n[dynamics]\nlr = 0.1", "network.widths: required"),
    ("seeds = 2\n[network]\nactivation = 'swish'\n[dynamics]\nlr = 0.1",
     "network.activation: expected one of"),
    ("seeds = 2\n[dynamics\nlr = 0.1", "invalid TOML"),
])
def test_run_validation_names_the_key(text, message, tmp_path, capsys):
    assert cli.main(["run", write(tmp_path, text)]) == 2
    err = capsys.readouterr().err
    assert message in err, err


def _paper(pid, holds):
    def run(config, key):
        return Result(pid, {"x": np.arange(3)}, {}, [Verdict("claim", "m", "p", holds=holds)])
    return Paper(pid, f"Paper {pid}", "0000.00000", {}, {}, run)


def test_reproduce_exit_status(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(papers, "PAPERS", {})
    assert cli.main(["reproduce", "--out", str(tmp_path)]) == 2
    assert "no paper reproductions are registered" in capsys.readouterr().err
    monkeypatch.setattr(papers, "PAPERS", {"good": _paper("good", True), "bad": _paper("bad", False)})
    assert cli.main(["reproduce", "good", "--quick", "--out", str(tmp_path)]) == 0
    assert re.search(r"^  good +1/1 as expected", capsys.readouterr().out, re.M)
    assert cli.main(["reproduce", "good", "bad", "--full", "--out", str(tmp_path), "--seed", "2"]) == 1
    assert cli.main(["reproduce", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown paper id(s) 'nope'; known: bad, good" in capsys.readouterr().err
    reports = sorted(p for p in tmp_path.iterdir())
    assert len(reports) == 2 and all((p / "index.md").exists() for p in reports)


def test_bench(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["bench"]) == 2
    assert "not part of the installed package" in capsys.readouterr().err
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "bench_toy.py").write_text(textwrap.dedent("""
        import pathlib
        print("timing toy ...")
        pathlib.Path("benchmarks/results/toy.md").write_text("| case | ms |\\n|---|---|\\n| a | 1.0 |\\n")
    """))
    (tmp_path / "benchmarks" / "bench_fails.py").write_text("raise SystemExit(3)\n")
    sub = tmp_path / "benchmarks" / "results"
    monkeypatch.chdir(sub)  # found from a subdirectory too
    assert cli.main(["bench", "--list"]) == 0
    assert capsys.readouterr().out.split() == ["fails", "toy"]
    assert cli.main(["bench", "toy", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "timing toy ..." in out and "| a | 1.0 |" in out
    # results go under --out; the checkout's results/ is left alone
    assert (tmp_path / "out" / "benchmarks" / "results" / "toy.md").exists()
    assert not list(sub.iterdir())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert cli.main(["bench", "toy"]) == 0  # default: outside the checkout
    assert len(list((tmp_path / "cache" / "villani" / "bench").glob("*/benchmarks/results/toy.md"))) == 1
    assert cli.main(["bench", "fails"]) == 1
    assert cli.main(["bench", "nope"]) == 2
    assert "unknown benchmark(s) nope; available" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path.parent)
    assert cli.main(["bench", "--list", "--benchmarks", str(tmp_path / "benchmarks")]) == 0


def test_demo(capsys):
    assert cli.main(["demo"]) == 0
    assert "PL ratio" in capsys.readouterr().out


SGD = TINY.replace("[dynamics]\n", "[dynamics]\noptimizer = 'sgd'\nbatch_size = 4\n")


def test_run_user_errors_exit_2_without_a_traceback(tmp_path, capsys):
    out = tmp_path / "out"
    # batch_size > n: only the library knows n; the failed run leaves nothing that pins out/
    bad = write(tmp_path, SGD.replace("batch_size = 4", "batch_size = 7"), "bad.toml")
    assert cli.main(["run", bad, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "villani run: error: batch_size: expected an integer in [1, 6]" in err and "Traceback" not in err
    assert not (out / "sweep.json").exists()
    assert cli.main(["run", write(tmp_path, SGD, "good.toml"), "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    # duplicate grid values
    dup = write(tmp_path, TINY.replace("lr = [0.1, 0.5]", "lr = [0.1, 0.1]"), "dup.toml")
    assert cli.main(["run", dup, "--no-progress"]) == 2
    assert "villani run: error: grid.lr: values must be distinct" in capsys.readouterr().err
    # an --out that cannot be a directory (below a regular file: unwritable even for root)
    (tmp_path / "file").write_text("x")
    below_file = str(tmp_path / "file" / "o")
    assert cli.main(["run", write(tmp_path, TINY), "--out", below_file, "--no-progress"]) == 2
    assert "villani run: error: out: cannot create or write the directory" in capsys.readouterr().err
    if os.geteuid() != 0:  # permissions bind only non-root users
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
        assert cli.main(["run", write(tmp_path, TINY), "--out", str(ro), "--no-progress"]) == 2
        assert "Permission denied" in capsys.readouterr().err


def test_run_with_a_corrupt_cell_or_sweep_json(tmp_path, capsys):
    cfg, out = write(tmp_path, TINY), tmp_path / "out"
    assert cli.main(["run", cfg, "--out", str(out), "--no-progress"]) == 0
    first = capsys.readouterr().out
    cell = next((out / "cells").glob("*.npz"))
    cell.write_bytes(cell.read_bytes()[:100])
    assert cli.main(["run", cfg, "--out", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert f"villani run: warning: sweep: cell file {str(cell)!r} ignored" in captured.err
    assert "Traceback" not in captured.err and captured.out.splitlines()[:4] == first.splitlines()[:4]
    (out / "sweep.json").write_text("{ not json")
    assert cli.main(["run", cfg, "--out", str(out), "--no-progress"]) == 2
    assert "sweep.json' is unreadable" in capsys.readouterr().err


def test_reproduce_checks_out_before_computing(tmp_path, monkeypatch, capsys):
    ran = []

    def run(config, key):
        ran.append(1)
        return Result("p", {}, {}, [Verdict("claim", "m", "p", holds=True)])

    monkeypatch.setattr(papers, "PAPERS", {"p": Paper("p", "Paper p", "0000.00000", {}, {}, run)})
    (tmp_path / "file").write_text("x")
    assert cli.main(["reproduce", "--out", str(tmp_path / "file" / "reports")]) == 2
    assert "--out" in capsys.readouterr().err and ran == []
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
        assert cli.main(["reproduce", "--out", str(ro)]) == 2 and ran == []
    assert cli.main(["reproduce", "--out", str(tmp_path / "reports")]) == 0 and ran == [1]


def test_exit_status_2_for_usage_errors(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["run"])  # the config is missing
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        cli.main(["reproduce", "--quick", "--full"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0 and "exit status: 0" in capsys.readouterr().out


def test_run_says_why_runs_stopped(tmp_path, capsys):
    cfg = write(tmp_path, TINY.replace("every = 2", "every = 2\nmax_loss = 1e-9"))
    assert cli.main(["run", cfg, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "6 run(s) stopped: loss above max_loss" in out  # 2 lrs x 3 seeds, all above 1e-9
