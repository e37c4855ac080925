"""A progress bar over grid cells: tqdm when installed, plain stderr lines otherwise."""

from __future__ import annotations

import sys
import time

__all__ = ["progress_bar"]


class _Plain:
    """Fallback progress lines on stderr when tqdm is missing."""

    def __init__(self, total: int, initial: int):
        self.total, self.n, self.start, self.done0 = total, initial, time.monotonic(), initial

    def update(self, k: int = 1) -> None:
        self.n += k
        rate = (time.monotonic() - self.start) / max(self.n - self.done0, 1)
        eta = rate * (self.total - self.n)
        print(f"sweep: {self.n}/{self.total} cells, about {eta:.0f} s left", file=sys.stderr)

    def close(self) -> None:
        pass


def progress_bar(progress: bool | None, total: int, initial: int):
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return _Plain(total, initial)
    return tqdm(total=total, initial=initial, desc="sweep", unit="cell", file=sys.stderr)


