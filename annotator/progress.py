"""A dependency-free progress bar for long CLI work, drawn on stderr only on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """`update(done, total)`; redraws at most 10 times a second; `close()` ends the line."""

    def __init__(self, label: str, total: int | None = None, unit: str = "",
                 stream: TextIO | None = None, enabled: bool | None = None):
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.start = time.monotonic()
        self._last = 0.0
        self._done = 0

    def update(self, done: int, total: int | None = None) -> None:
        self._done = done
        if total is not None:
            self.total = total
        now = time.monotonic()
        if self.enabled and now - self._last >= 0.1:
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = now - self.start
        if self.total:
            frac = min(1.0, self._done / self.total)
            width = 30
            bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
            text = f"{self.label} [{bar}] {frac:6.1%} {self._fmt(self._done)}/" \
                   f"{self._fmt(self.total)}{self.unit} {elapsed:5.1f}s"
        else:
            text = f"{self.label} {self._fmt(self._done)}{self.unit} {elapsed:5.1f}s"
        self.stream.write("\r" + text + "\x1b[K")
        self.stream.flush()

    @staticmethod
    def _fmt(n: int) -> str:
        return f"{n:,}"

    def close(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
