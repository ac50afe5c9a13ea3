"""Human sizes and durations: parsing what users type, formatting what they read."""

from __future__ import annotations

import re

from memgrowth.errors import UserError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?i?b?)?\s*$", re.IGNORECASE)
_FACTORS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "kib": 1024, "ki": 1024,
    "m": 1000**2, "mb": 1000**2, "mib": 1024**2, "mi": 1024**2,
    "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "gi": 1024**3,
    "t": 1000**4, "tb": 1000**4, "tib": 1024**4, "ti": 1024**4,
    "p": 1000**5, "pb": 1000**5, "pib": 1024**5, "pi": 1024**5,
}


def parse_size(text: str) -> int:
    """Parse `512MiB`, `1GB`, `1.5G` or plain bytes into a number of bytes."""
    match = _SIZE.match(str(text))
    if not match:
        raise UserError(f"not a size: {text!r} (use e.g. 512MiB, 1GB or a number of bytes)")
    number, unit = match.groups()
    factor = _FACTORS.get((unit or "").lower())
    if factor is None:
        raise UserError(f"unknown size unit in {text!r} (use B, KB, MB, GB, KiB, MiB, GiB…)")
    return int(float(number) * factor)


def format_bytes(value: float | None, signed: bool = False) -> str:
    """Binary units, three significant digits: `1.23 GiB`, `512 KiB`."""
    if value is None:
        return "—"
    sign = "-" if value < 0 else ("+" if signed and value > 0 else "")
    value = abs(float(value))
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            if unit == "B":
                return f"{sign}{value:.0f} B"
            return f"{sign}{value:.3g} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_duration(seconds: float | None) -> str:
    """`850 ms`, `12.3 s`, `4 min 05 s`, `3 h 12 min`, `2.5 days`."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    if seconds < 86400 * 2:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
    return f"{seconds / 86400:.1f} days"
