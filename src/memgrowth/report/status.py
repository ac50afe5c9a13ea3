"""The live status line shown while recording (on the terminal only, never in pipes)."""

from __future__ import annotations

import sys
from collections import deque
from dataclasses import dataclass

from rich.console import Console
from rich.live import Live
from rich.text import Text

from memgrowth.units import format_bytes, format_duration

RATE_WINDOW_S = 30.0


@dataclass
class LiveFigures:
    """What the recorder knows right now, for one status line."""

    elapsed: float
    rss: int | None
    processes: int
    python_blocks: int | None
    gc_collections: int | None
    verdict: str | None = None


def rate_per_second(points: deque[tuple[float, float]]) -> float | None:
    """Least-squares slope of recent (t, value) points; None with too few points."""
    if len(points) < 3:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread <= 0:
        return None
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread


class StatusLine:
    """A one-line rich Live display on stderr; does nothing when disabled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stdout.isatty() and sys.stderr.isatty()
        self._recent: deque[tuple[float, float]] = deque()
        self._live: Live | None = None

    def __enter__(self) -> StatusLine:
        if self.enabled:
            self._live = Live(Text(""), console=Console(stderr=True), transient=True,
                              auto_refresh=False)
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def update(self, figures: LiveFigures) -> None:
        if figures.rss is not None:
            self._recent.append((figures.elapsed, float(figures.rss)))
            while self._recent and self._recent[0][0] < figures.elapsed - RATE_WINDOW_S:
                self._recent.popleft()
        if self._live is None:
            return
        line = Text()
        line.append("● rec ", style="bold red")
        line.append(f"{format_duration(figures.elapsed):>9}  ")
        if figures.verdict:
            line.append(f"{figures.verdict}  ", style="bold magenta")
        line.append(f"RSS {format_bytes(figures.rss)}", style="bold")
        if figures.processes > 1:
            line.append(f" in {figures.processes} processes")
        rate = rate_per_second(self._recent)
        if rate is not None:
            line.append(f"  {format_bytes(rate, signed=True)}/s",
                        style="yellow" if rate > 0 else "green")
        if figures.python_blocks is not None:
            line.append(f"  py blocks {figures.python_blocks:,}")
        if figures.gc_collections is not None:
            line.append(f"  GCs {figures.gc_collections:,}")
        self._live.update(line, refresh=True)
