"""The leak zoo: small realistic programs with known ground truth.

Each program is a standalone script (standard library only) so that running it under
memgrowth does not load memgrowth itself into the target.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")
GO_SOURCES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "go")


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
                 "leak", "session_cache.py", 20.0),
        Scenario("lru-cache", "functools.lru_cache(maxsize=20000): fills, then evicts",
                 "no_leak", "lru_cache.py", 30.0),
        Scenario("global-list", "audit records appended to a module-level list forever",
                 "leak", "global_list.py", 30.0),
        Scenario("stuck-threads", "a thread per request, each blocked forever on its reply",
                 "leak", "stuck_threads.py", 30.0),
        Scenario("asyncio-tasks", "asyncio tasks awaiting an acknowledgement that never comes",
                 "leak", "asyncio_tasks.py", 30.0),
        Scenario("native-leak", "C malloc through ctypes, never freed: RSS grows, heap flat",
                 "leak", "native_leak.py", 30.0),
        Scenario("warm-up", "loads 80 MB of reference data, then serves from it",
                 "no_leak", "warm_up.py", 30.0),
        Scenario("gc-sawtooth", "reference cycles with lazy GC thresholds: sawtooth, flat floor",
                 "no_leak", "gc_sawtooth.py", 30.0),
        Scenario("gc-disabled", "gc.disable() and a back-reference in every request",
                 "leak", "gc_disabled.py", 30.0),
        Scenario("mp-worker", "a multiprocessing worker memoises every result; parent flat",
                 "leak", "mp_worker.py", 30.0),
        Scenario("slow-leak-churn", "200 KB/s of listeners leaked beside 150 MB of churning state",
                 "leak", "slow_leak_churn.py", 30.0),
    )
}

# The Go zoo: standalone programs (standard library only), built with `go build` by the tests
# and by `memgrowth demo`; each serves /debug/pprof and /debug/vars with `-listen ADDR`.
GO_SCENARIOS = {
    s.name: s
    for s in (
        Scenario("map-cache", "Go: every response cached in a map, never evicted", "leak",
                 "map_cache.go", 25.0),
        Scenario("goroutine-leak", "Go: a goroutine per request, blocked forever", "leak",
                 "goroutine_leak.go", 25.0),
        Scenario("bounded-cache", "Go: a 5,000-entry ring with GOGC=400 (heap swings 5x)",
                 "no_leak", "bounded_cache.go", 25.0),
    )
}
GO_PROGRAMS = {name: os.path.join(GO_SOURCES, s.script) for name, s in GO_SCENARIOS.items()}
