"""Progress bars: a sweep counts seeds × cells; the default shows only in a terminal or Jupyter."""

import jax
import jax.numpy as jnp
import pytest

from villani import sweep
from villani.experiments import _progress


def _run(config, key):
    return {"x": config["lr"] * jnp.sum(jax.random.normal(key, (3,)))}


def test_sweep_bar_counts_seeds_times_cells(key, capsys):
    sweep(_run, {"lr": [0.1, 0.2, 0.3], "n": [1, 2]}, seeds=4, key=key, progress=True)
    err = capsys.readouterr().err
    # n is looped (2 cells; lr is vmapped inside a cell): 2 cells x 4 seeds = 8 runs
    assert "sweep" in err and "8/8" in err and "cell 2/2" in err
    sweep(_run, {"lr": [0.1]}, seeds=2, key=key, progress=False)
    assert capsys.readouterr().err == ""


def test_default_is_off_outside_a_terminal_and_jupyter(capsys):
    # pytest captures stderr (not a terminal) and this is no Jupyter kernel
    assert not _progress.in_notebook()
    assert _progress.progress_bar(None, 3, 0, seeds=2) is None
    bar = _progress.progress_bar(True, 3, 1, seeds=2)
    bar.update(1)
    assert (bar.bar.n, bar.bar.total) == (4, 6)  # resumed cells count as done runs
    bar.close()


def test_plain_lines_without_tqdm(monkeypatch, capsys):
    monkeypatch.setattr(_progress, "_tqdm_class", lambda: None)
    bar = _progress.progress_bar(True, 2, 0, seeds=5)
    bar.update(1)
    assert "sweep: 5/10 runs (cell 1/2)" in capsys.readouterr().err


@pytest.mark.parametrize("shell, expected",
                         [("ZMQInteractiveShell", True), ("TerminalInteractiveShell", False)])
def test_in_notebook_reads_the_ipython_shell(monkeypatch, shell, expected):
    import types

    fake = types.SimpleNamespace(get_ipython=lambda: type(shell, (), {})())
    monkeypatch.setitem(__import__("sys").modules, "IPython", fake)
    assert _progress.in_notebook() is expected
