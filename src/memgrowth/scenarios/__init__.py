"""The leak zoo: small realistic programs with known ground truth.

Each program is a standalone script (standard library only) so that running it under
memgrowth does not load memgrowth itself into the target.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    truth: str  # "leak" or "no_leak"
    script: str
    seconds: float  # how long the demo records it
    args: tuple[str, ...] = ()

    def command(self, python: str = sys.executable) -> list[str]:
        return [python, os.path.join(PROGRAMS, self.script), *self.args]


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("session-cache", "UserSession cache dict that is never evicted (10 MB → 1 GB)",
                 "leak", "session_cache.py", 15.0),
    )
}
