"""Progress bars for sweeps (seeds × cells) and reproductions (papers and their stages).

A bar is shown when asked for (``progress=True``), or by default (``progress=None``) when
stderr is a terminal or the code runs in a Jupyter kernel. It is ``tqdm.auto``'s bar: a
widget in Jupyter when ``ipywidgets`` is installed, text otherwise (a kernel shows stderr
text too, so a missing ``ipywidgets`` costs the widget, never the bar). Without tqdm
(``pip install villani[progress]``) plain lines go to stderr.

A paper's ``run`` may name the stage it is in with :func:`stage`; during
``villani reproduce`` the stage appears beside the paper on the bar (elsewhere it is a
no-op), so a minutes-long paper does not look stuck.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator

__all__ = ["in_notebook", "progress_bar", "reproduce_bar", "stage"]


def in_notebook() -> bool:
    """True inside a Jupyter (IPython kernel) session."""
    mod = sys.modules.get("IPython")
    if mod is None:
        return False
    try:
        ip = mod.get_ipython()
    except Exception:  # noqa: BLE001 - an odd IPython: treat as no notebook
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def _wanted(progress: bool | None) -> bool:
    if progress is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)()) or in_notebook()
    return bool(progress)


def _tqdm_class():
    """``tqdm.auto.tqdm`` when it can draw here, else the text ``tqdm``; None without tqdm."""
    try:
        from tqdm.std import tqdm as text_tqdm
    except ImportError:
        return None
    if in_notebook():
        try:
            import ipywidgets  # noqa: F401 - the notebook bar needs it
        except ImportError:
            return text_tqdm
        from tqdm.auto import tqdm as auto_tqdm

        return auto_tqdm
    return text_tqdm


class _Plain:
    """Fallback progress lines on stderr when tqdm is missing."""

    def __init__(self, total: int, initial: int, desc: str, unit: str):
        self.total, self.n, self.start, self.done0 = total, initial, time.monotonic(), initial
        self.desc, self.unit, self.postfix = desc, unit, ""

    def update(self, k: int = 1) -> None:
        self.n += k
        rate = (time.monotonic() - self.start) / max(self.n - self.done0, 1)
        eta = rate * (self.total - self.n)
        extra = f" ({self.postfix})" if self.postfix else ""
        print(f"{self.desc}: {self.n}/{self.total} {self.unit}s{extra}, about {eta:.0f} s left",
              file=sys.stderr, flush=True)

    def set_postfix_str(self, s: str, refresh: bool = True) -> None:
        self.postfix = s
        if refresh:
            print(f"{self.desc}: {s}", file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


def _bar(total: int, initial: int, desc: str, unit: str):
    cls = _tqdm_class()
    if cls is None:
        return _Plain(total, initial, desc, unit)
    return cls(total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)


class _CellBar:
    """A bar over seeds × cells: ``update(k)`` advances ``k`` cells of ``per_cell`` runs."""

    def __init__(self, bar, per_cell: int, cells: int, done: int):
        self.bar, self.per_cell, self.cells, self.done = bar, per_cell, cells, done
        self.bar.set_postfix_str(f"cell {done}/{cells}", refresh=False)

    def update(self, k: int = 1) -> None:
        self.done += k
        self.bar.set_postfix_str(f"cell {self.done}/{self.cells}", refresh=False)
        self.bar.update(k * self.per_cell)

    def close(self) -> None:
        self.bar.close()


def progress_bar(progress: bool | None, total: int, initial: int, *, seeds: int = 1):
    """A sweep's bar over ``total`` cells of ``seeds`` runs each, ``initial`` cells done.

    Returns None when no bar is wanted (``progress=False``, or ``None`` outside a terminal
    and outside Jupyter); otherwise an object with ``update(cells)`` and ``close()``.
    """
    if not _wanted(progress):
        return None
    per = max(int(seeds), 1)
    return _CellBar(_bar(total * per, initial * per, "sweep", "run"), per, total, initial)


# -- reproduce: papers and stages ------------------------------------------------------

_ACTIVE: list = []  # the reproduce bars currently open (innermost last)


def stage(name: str) -> None:
    """Name the stage a paper's run is in; shown on ``villani reproduce``'s bar.

    A no-op outside a reproduction (or when no bar is shown), so a paper module can call
    it unconditionally, e.g. ``stage("b: SGD from 256 seeds")``.
    """
    if _ACTIVE:
        _ACTIVE[-1].stage(str(name))


class _ReproduceBar:
    def __init__(self, bar):
        self.bar, self.paper = bar, ""

    def stage(self, name: str) -> None:
        self.bar.set_postfix_str(f"{self.paper}: {name}" if self.paper else name)

    def start_paper(self, paper_id: str) -> None:
        self.paper = paper_id
        self.stage("running")

    def done_paper(self) -> None:
        self.bar.update(1)


@contextlib.contextmanager
def reproduce_bar(progress: bool | None, total: int) -> Iterator[_ReproduceBar | None]:
    """A bar over ``total`` papers for the duration of a ``with`` block (None: no bar)."""
    if not _wanted(progress):
        yield None
        return
    bar = _ReproduceBar(_bar(total, 0, "reproduce", "paper"))
    _ACTIVE.append(bar)
    try:
        yield bar
    finally:
        _ACTIVE.remove(bar)
        bar.bar.close()
