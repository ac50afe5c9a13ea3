"""Go's `GODEBUG=gctrace=1` lines: one GC cycle each, in every format since Go 1.5.

    gc 4 @0.071s 1%: 0.031+1.1+0.030 ms clock, 1.0+0.093/7.0/2.1+0.96 ms cpu,
       8->8->7 MB, 9 MB goal, 0 MB stacks, 0 MB globals, 32 P (forced)

The clock phases are sweep termination (stop-the-world), concurrent mark, mark termination
(stop-the-world); Go 1.5 and 1.6 printed five phases, the first and last of which stop the
world. Heaps are MiB truncated by the runtime (`>>20`): live at the start, at the end, and
marked live. Older runtimes also printed `scvgN:` scavenger summaries. Lines of any other
kind (the program's own output) are skipped, never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MIB = 1 << 20

_GC = re.compile(
    r"gc #?(?P<n>\d+) @(?P<at>[\d.]+)s (?P<pct>\d+)%: (?P<clock>[\d.+]+) ?ms clock, "
    r"(?P<cpu>[\d.+/]+) ?ms cpu, (?P<h0>\d+)->(?P<h1>\d+)->(?P<h2>\d+) MB, "
    r"(?P<goal>\d+) MB goal(?:, (?P<stacks>\d+) MB stacks)?(?:, (?P<globals>\d+) MB globals)?"
    r"(?:, (?P<procs>\d+) P)?(?P<forced> \(forced\))?")
_SCAVENGER = re.compile(r"scvg(?P<n>\d+): inuse: (?P<inuse>\d+), idle: (?P<idle>\d+), "
                        r"sys: (?P<sys>\d+), released: (?P<released>\d+), "
                        r"consumed: (?P<consumed>\d+) \(MB\)")


@dataclass(frozen=True)
class GcCycle:
    """One `gc N @…` line."""

    number: int
    at_s: float  # since the program started
    cpu_percent: int  # GC's share of CPU since the program started
    clock_ms: tuple[float, ...]  # wall time per phase
    cpu_ms: tuple[float, ...]  # CPU per phase, as printed (assist/background/idle split out)
    heap_start: int  # bytes (MiB resolution), when the cycle started
    heap_end: int  # when it ended
    heap_live: int  # marked live: the heap the next goal is computed from
    goal: int
    stacks: int | None
    globals: int | None
    procs: int | None
    forced: bool

    @property
    def pause_ms(self) -> float:
        """Stop-the-world time: the first and the last clock phases."""
        return self.clock_ms[0] + self.clock_ms[-1] if len(self.clock_ms) > 1 else 0.0


@dataclass(frozen=True)
class ScavengerLine:
    """`scvgN: inuse: …` (runtimes before Go 1.13), in bytes."""

    number: int
    inuse: int
    idle: int
    sys: int
    released: int
    consumed: int


@dataclass
class GcTrace:
    cycles: list[GcCycle] = field(default_factory=list)
    scavenger: list[ScavengerLine] = field(default_factory=list)
    other_lines: int = 0


def parse_line(line: str) -> GcCycle | ScavengerLine | None:
    """The GC cycle or scavenger summary a line holds, or None for any other line."""
    match = _GC.search(line)
    if match:
        numbers = match.groupdict()
        return GcCycle(
            number=int(numbers["n"]), at_s=float(numbers["at"]),
            cpu_percent=int(numbers["pct"]),
            clock_ms=tuple(float(v) for v in numbers["clock"].split("+")),
            cpu_ms=tuple(float(v) for v in re.split(r"[+/]", numbers["cpu"])),
            heap_start=int(numbers["h0"]) * MIB, heap_end=int(numbers["h1"]) * MIB,
            heap_live=int(numbers["h2"]) * MIB, goal=int(numbers["goal"]) * MIB,
            stacks=int(numbers["stacks"]) * MIB if numbers["stacks"] else None,
            globals=int(numbers["globals"]) * MIB if numbers["globals"] else None,
            procs=int(numbers["procs"]) if numbers["procs"] else None,
            forced=bool(numbers["forced"]))
    match = _SCAVENGER.search(line)
    if match:
        values = {k: int(v) for k, v in match.groupdict().items()}
        return ScavengerLine(values.pop("n"), **{k: v * MIB for k, v in values.items()})
    return None


def parse(text: str) -> GcTrace:
    """Every GC cycle and scavenger summary in a log, in order; other lines are counted."""
    trace = GcTrace()
    for line in text.splitlines():
        parsed = parse_line(line)
        if isinstance(parsed, GcCycle):
            trace.cycles.append(parsed)
        elif isinstance(parsed, ScavengerLine):
            trace.scavenger.append(parsed)
        elif line.strip():
            trace.other_lines += 1
    return trace
