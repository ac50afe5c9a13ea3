"""The GOGC / GOMEMLIMIT what-if table: one workload simulated under each setting (pure).

For each setting: the peak heap and the memory the process would need at that peak (heap
plus the runtime's other memory), collections and their rate per minute, the GC's share of
the CPU (as Go's GCCPUFraction counts it: GC CPU over wall time x GOMAXPROCS), and a note
when the setting thrashes, overruns a budget or collects with a quarter of the CPU.
`recommend` picks what a person tuning the service would: under a memory budget, the least
GC CPU; without one, the least memory whose GC CPU stays under 5% (or near the cheapest
bounded setting's). GOGC=off without a limit is never recommended: nothing bounds it.
"""

from __future__ import annotations

from dataclasses import dataclass

from memgrowth.gomodel.costs import Costs
from memgrowth.gomodel.pacer import Pacer
from memgrowth.gomodel.simulate import METADATA_SHARE, NON_HEAP_BASE, Result, simulate
from memgrowth.gomodel.spec import Phase
from memgrowth.units import format_bytes

GC_BOUND_SHARE = 0.25  # a GC taking a quarter of the CPU is the bottleneck
CPU_TARGET = 0.05  # without a budget, GC CPU worth paying to save memory…
CPU_SLACK = 0.02  # …or this much over the cheapest bounded setting
LIMIT_SAFETY = 0.9  # a setting must peak under 90% of the budget: the model is ±15%


@dataclass(frozen=True)
class Setting:
    gogc: int | None  # None: off
    memory_limit: int | None = None

    @property
    def label(self) -> str:
        text = f"GOGC={'off' if self.gogc is None else self.gogc}"
        return text + (f" GOMEMLIMIT={format_bytes(self.memory_limit)}"
                       if self.memory_limit else "")


@dataclass(frozen=True)
class WhatIf:
    setting: Setting
    result: Result
    peak_memory_bytes: float  # the heap's peak plus the runtime's other memory
    per_minute: float
    gc_cpu_fraction: float
    note: str


def what_if(phases: list[Phase], settings: list[Setting], costs: Costs | None = None,
            budget: int | None = None, gomaxprocs: int = 2, stacks: float = 0.0,
            globals_: float = 0.0, measure_from: int = 0,
            wall_s: float | None = None) -> list[WhatIf]:
    """Simulate the workload under every setting; `budget` is the memory the process may use
    (a container's limit), against which each setting's peak is checked; `wall_s` is the
    workload's real duration (a recording's), else the simulated program's time."""
    rows = []
    for setting in settings:
        result = simulate(phases, Pacer(setting.gogc, setting.memory_limit), costs,
                          gomaxprocs, stacks, globals_, measure_from)
        peak = result.peak_heap_alloc_bytes
        memory = peak + NON_HEAP_BASE + METADATA_SHARE * peak + stacks
        seconds = wall_s or result.mutator_s
        per_minute = result.num_gc / seconds * 60 if seconds > 0 else 0.0
        fraction = result.gc_cpu_s / (seconds * gomaxprocs) if seconds > 0 else 0.0
        if result.thrashing:
            note = "thrashes: the limit is under the live heap"
        elif budget and memory > budget:
            note = "over the budget"
        elif fraction > GC_BOUND_SHARE:
            note = "GC-bound"
        else:
            note = ""
        rows.append(WhatIf(setting, result, memory, per_minute, fraction, note))
    return rows


def recommend(rows: list[WhatIf], current: Setting | None = None,
              budget: int | None = None) -> str:
    """One line: which setting to run and what it buys against the current one."""
    fitting = [r for r in rows if not r.result.thrashing
               and (not budget or r.peak_memory_bytes <= LIMIT_SAFETY * budget)
               and (r.setting.gogc is not None or r.setting.memory_limit)]
    if not fitting:
        if budget:
            return (f"no setting peaks under 90% of the {format_bytes(budget)} budget: the "
                    "live heap itself must shrink (or the budget grow)")
        return "every setting thrashes: the memory limit is under the live heap"
    if budget:
        best = min(fitting, key=lambda r: (r.gc_cpu_fraction, r.peak_memory_bytes))
    else:
        cheapest = min(r.gc_cpu_fraction for r in fitting)
        affordable = [r for r in fitting
                      if r.gc_cpu_fraction <= max(CPU_TARGET, cheapest + CPU_SLACK)]
        best = min(affordable, key=lambda r: r.peak_memory_bytes)
    line = (f"{best.setting.label}: peak {format_bytes(best.peak_memory_bytes)}, "
            f"{best.per_minute:,.0f} collections a minute, GC CPU "
            f"{best.gc_cpu_fraction:.1%}")
    now = next((r for r in rows if current and r.setting == current), None)
    if now is None or now is best:
        return line + (" (the current setting)" if now is best else "")
    return line + (f", against {format_bytes(now.peak_memory_bytes)} and "
                   f"{now.gc_cpu_fraction:.1%} now ({now.setting.label})")
