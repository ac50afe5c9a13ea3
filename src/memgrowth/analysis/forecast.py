"""When does it hit the limit? The growth rate's interval carried to the memory limit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Forecast:
    limit_bytes: int | None
    limit_source: str | None  # flag | cgroup | system
    seconds_to_limit: float | None
    seconds_to_limit_ci95: tuple[float, float | None] | None = None
    level_bytes: float | None = None


def choose_limit(flag: int | None, cgroup: int | None,
                 system: int | None) -> tuple[int | None, str | None]:
    """--limit first, then the cgroup's effective limit, then physical memory."""
    for value, source in ((flag, "flag"), (cgroup, "cgroup"), (system, "system")):
        if value:
            return int(value), source
    return None, None


def forecast(level: float | None, rate: float | None, rate_ci95: tuple[float, float] | None,
             limit: int | None, source: str | None, growing: bool) -> Forecast:
    """Seconds from `level` to `limit` at `rate` (with the interval); none when not growing."""
    result = Forecast(limit, source, None, None, level)
    if not growing or not limit or level is None or not rate or rate <= 0:
        return result
    headroom = max(limit - level, 0.0)
    result.seconds_to_limit = round(headroom / rate, 1)
    if rate_ci95 is not None:
        low, high = rate_ci95
        soonest = headroom / high if high > 0 else None
        latest = headroom / low if low > 0 else None
        if soonest is not None:
            result.seconds_to_limit_ci95 = (round(soonest, 1),
                                            None if latest is None else round(latest, 1))
    return result
