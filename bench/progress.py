"""A small progress bar on standard error (redrawn in place on a terminal, a line per tenth
elsewhere, so CI logs stay short)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30
REDRAW_S = 0.2


class Progress:
    def __init__(
        self, label: str, total: int, enabled: bool = True, stream: TextIO | None = None
    ) -> None:
        self.label, self.total, self.enabled = label, max(total, 1), enabled
        self.stream = stream or sys.stderr
        self.done = 0
        self.started = time.monotonic()
        self.drawn_at = 0.0
        self.tenths = -1
        self.tty = self.stream.isatty()

    def update(self, count: int) -> None:
        self.done = min(self.done + count, self.total)
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty and (now - self.drawn_at >= REDRAW_S or self.done == self.total):
            self.drawn_at = now
            self.stream.write("\r" + self._line(now))
            self.stream.flush()
        elif not self.tty and self.done * 10 // self.total > self.tenths:
            self.tenths = self.done * 10 // self.total
            self.stream.write(self._line(now) + "\n")
            self.stream.flush()

    def _line(self, now: float) -> str:
        share = self.done / self.total
        filled = int(share * WIDTH)
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate else 0.0
        return (
            f"{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] {share:4.0%} "
            f"{self.done:,}/{self.total:,} {rate:,.0f}/s {elapsed:.0f} s, ~{left:.0f} s left"
        )

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
