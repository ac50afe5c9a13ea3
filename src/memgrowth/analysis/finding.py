"""The finding: one ranked cause in a diagnosis, with its numbers and what to change."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Finding:
    """One ranked cause, with its numbers and what to change (DESIGN.md's finding object)."""

    kind: str
    title: str
    where: str | None = None
    holder: str | None = None
    type: str | None = None
    rate_bytes_per_s: float | None = None
    share: float | None = None
    evidence: str = ""
    advice: str = ""
    pid: int | None = None
