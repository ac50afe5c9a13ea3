"""A workload's allocations and collections under Go's pacer, simulated (pure, no I/O).

Objects are placed as the runtime places them (allocator.py). A cycle starts at the pacer's
trigger; its mark lasts what costs.py says marking the live heap takes, and what the program
allocates meanwhile is allocated black: it survives the cycle, raises the marked heap and so
the next goal (the reason a real heap's marked size sits above its reachable size). Past
the goal, assists hold the heap near goal x 1.1; when a memory limit sits under the live
heap, the GC CPU limiter lets the program go on (about half of each mark), cycles back to back,
as the runtime's do. The simulation steps from one event to the next (trigger, end of mark),
in batches of allocations: its cost grows with cycles, not objects.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from memgrowth.gomodel.allocator import Heap
from memgrowth.gomodel.costs import MAX_OVERSHOOT, RUNWAY_FACTOR, Costs
from memgrowth.gomodel.pacer import MIB, Pacer
from memgrowth.gomodel.spec import Phase

NON_HEAP_BASE = 4 * MIB  # the runtime's own memory besides the heap: stacks, code, buffers…
METADATA_SHARE = 0.03  # …and span, bitmap and profiling metadata growing with the heap
LIMITER_MUTATOR_SHARE = 0.45  # the CPU limiter leaves the program about half of a mark


@dataclass(frozen=True)
class Cycle:
    """One collection: when it ended (seconds of the program), the heap at its trigger and
    at its end, what it marked live, the next goal, and how long its mark took."""

    end_s: float
    trigger_bytes: float
    end_bytes: float
    marked_bytes: float
    goal_bytes: float
    mark_s: float


@dataclass
class Result:
    num_gc: int
    peak_heap_alloc_bytes: float  # HeapAlloc at its highest: live, floating and unswept
    peak_live_heap_bytes: float  # the largest heap a cycle marked live
    total_alloc_bytes: float
    final_heap_alloc_bytes: float
    heap_objects: int  # objects alive at the end
    heap_inuse_bytes: float
    heap_idle_bytes: float
    heap_released_bytes: float
    mutator_s: float  # the program's own time
    gc_cpu_s: float
    thrashing: bool  # a memory limit under the live heap: collections back to back
    size_classes: list[dict] = field(default_factory=list)
    cycles: list[Cycle] = field(default_factory=list)

    def to_dict(self, with_cycles: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_cycles:
            del data["cycles"]
        return data


class _Run:
    """The state of one simulation; `simulate` drives it phase by phase."""

    def __init__(self, pacer: Pacer, costs: Costs, gomaxprocs: int,
                 stacks: float, globals_: float) -> None:
        self.pacer, self.costs = pacer, costs
        self.stacks, self.globals = stacks, globals_
        self.heap_pages = Heap(gomaxprocs)
        self.now = self.gc_cpu = self.total = 0.0
        self.heap = self.marked = self.peak = self.peak_live = 0.0
        self.live_bytes = self.live_objects = self.pointer_bytes = 0.0
        self.scan_seconds = self.noscan_objects = 0.0
        self.present: dict[int, float] = {}  # span slots in use per class, garbage included
        self.live_slots: dict[int, float] = {}
        self.kept: dict[int, int] = {}
        self.cycles: list[Cycle] = []
        self.thrashing = False
        self.marking = False
        self.last_cycle_s = 0.0
        self.last_scan = 0.0  # pointer bytes the last mark found: what assists pace for
        self.base = (0, 0.0, 0.0, 0.0)  # cycles, time, GC CPU and bytes before measuring
        self.next_stall_s = costs.stall_every_s
        self._plan(runway=None)

    # --- the pacer's decisions ---------------------------------------------------------

    def _non_heap(self) -> float:
        return NON_HEAP_BASE + METADATA_SHARE * self.heap_pages.mapped_bytes

    def _plan(self, runway: float | None) -> None:
        args = (self.marked, self.stacks, self.globals, self._non_heap())
        self.goal = self.pacer.goal(*args)
        self.limited = self.pacer.limit_binds(*args)
        self.trigger = self.pacer.trigger(self.marked, self.goal, runway)

    def _start_mark(self, bytes_per_s: float) -> None:
        self.marking = True
        self.mark_s, scanning, self.mark_stall = self.costs.mark_seconds(
            self.scan_seconds, self.noscan_objects, self.heap_pages.span_count(self.present),
            stalled=self.now >= self.next_stall_s)
        if self.now >= self.next_stall_s:
            self.next_stall_s = self.now + self.costs.stall_every_s
        self.mark_trigger = self.heap
        self.mark_live = self.live_bytes
        self.mark_slots = dict(self.live_slots)
        self.mark_alloc = 0.0
        self.mark_new: dict[int, float] = {}  # slots allocated black, per class
        # Assists make the program scan in proportion to what it allocates, paced so the
        # scan work the last cycle saw ends at the goal: more work than that lets the heap
        # past it. The rest of the mark is not theirs to share. Under a memory limit the
        # heap already sits on, the CPU limiter turns assists off.
        over = self.limited and self.heap >= self.goal
        self.thrashing |= over
        overshoot = 1.0 if self.limited else min(
            max(self.pointer_bytes / self.last_scan, 1.0) if self.last_scan else MAX_OVERSHOOT,
            MAX_OVERSHOOT)
        self.last_scan = self.pointer_bytes
        free_run = self.heap + (self.mark_s - scanning) * bytes_per_s
        self.cap = None if over else max(self.goal * overshoot, free_run)
        share = LIMITER_MUTATOR_SHARE if over else 1.0
        self.mark_budget = self.mark_s * share  # the program's allocating time in the mark
        self.mark_wait = self.mark_s * (1.0 - share)

    def _finish_mark(self) -> None:
        # The program waited for what was left of the mark: assisting past the goal, or
        # the half of the time the CPU limiter gives the GC.
        self.now += self.mark_budget + self.mark_wait
        self.marking = False
        self.gc_cpu += self.mark_s - self.mark_stall
        marked = min(self.mark_live + self.mark_alloc, self.heap)
        in_use = self.heap_pages.in_use_bytes(self.present)
        self.heap_pages.grow_to(in_use)
        survivors = {n: self.mark_slots.get(n, 0.0) + self.mark_new.get(n, 0.0)
                     for n in self.present}
        self.heap_pages.sweep(self.present, survivors)
        self.present = survivors
        self.cycles.append(Cycle(self.now, self.mark_trigger, self.heap, marked, self.goal,
                                 self.mark_s))
        self.marked = self.heap = marked
        self.peak_live = max(self.peak_live, marked)
        self._plan(runway=math.inf if self.costs.bursty else RUNWAY_FACTOR * self.mark_alloc)
        self.heap_pages.scavenge(self.heap_pages.in_use_bytes(self.present), self.goal,
                                 self.pacer.memory_limit, self.now - self.last_cycle_s)
        self.last_cycle_s = self.now

    # --- the program's side ------------------------------------------------------------

    def _allocate(self, index: int, phase: Phase, count: int) -> None:
        number, per, slot = phase.layout
        slots = count * per / slot
        self.heap += count * per
        self.total += count * per
        self.peak = max(self.peak, self.heap)
        self.present[number] = self.present.get(number, 0.0) + slots
        self.heap_pages.use(number, slot).objects_allocated += count
        before = self.kept.get(index, 0)
        after = phase.kept_after(before, count)
        self.kept[index] = after
        self._count_live(number, phase, per, slot, after - before)
        if self.marking:
            self.mark_alloc += count * per
            self.mark_new[number] = self.mark_new.get(number, 0.0) + slots

    def _count_live(self, number: int, phase: Phase, per: float, slot: int,
                    objects: float) -> None:
        self.live_bytes += objects * per
        self.live_objects += objects
        self.live_slots[number] = self.live_slots.get(number, 0.0) + objects * per / slot
        self.heap_pages.classes[number].live_objects += objects
        if phase.pointers:
            self.pointer_bytes += objects * per
            self.scan_seconds += objects * self.costs.scan_seconds(per)
        else:
            self.noscan_objects += objects

    def _hold(self, phase: Phase) -> None:
        """The array holding a retaining phase's objects: one live pointerful object."""
        size = phase.holder_bytes
        if not size:
            return
        holder = Phase(1, size, "all", pointers=True)
        number, per, slot = holder.layout
        self.heap += per
        self.total += per
        self.present[number] = self.present.get(number, 0.0) + per / slot
        self.heap_pages.use(number, slot).objects_allocated += 1
        self._count_live(number, holder, per, slot, 1)

    def run_phase(self, index: int, phase: Phase) -> None:
        self._hold(phase)
        number, per, slot = phase.layout
        self.heap_pages.use(number, slot)
        seconds = self.costs.allocation_seconds(per)
        marking_seconds = seconds * self.costs.mark_slowdown
        remaining = phase.allocs
        while remaining > 0:
            if not self.marking:
                room = self.trigger - self.heap
                if room <= 0:
                    self._start_mark(per / marking_seconds)
                    continue
                count = remaining if math.isinf(room) else min(remaining,
                                                               max(1, math.ceil(room / per)))
            else:
                # With the CPU limiter on there are no assists to slow the program down.
                pace = seconds if self.cap is None else marking_seconds
                count = min(remaining, max(1, math.ceil(self.mark_budget / pace)))
                if self.cap is not None:
                    fits = math.floor((self.cap - self.heap) / per)
                    if fits < 1:
                        self._finish_mark()
                        continue
                    count = min(count, fits)
            self._allocate(index, phase, count)
            remaining -= count
            if self.marking:
                self.now += count * pace
                self.mark_budget -= count * pace
                if self.mark_budget <= 0:
                    self.mark_budget = 0.0
                    self._finish_mark()
            else:
                self.now += count * seconds
                if self.heap >= self.trigger:
                    self._start_mark(per / marking_seconds)

    def start_measuring(self) -> None:
        """What happened so far was the set-up (a heap to start from): leave it out."""
        self.base = (len(self.cycles), self.now, self.gc_cpu, self.total)
        self.peak, self.peak_live = self.heap, self.marked

    def result(self) -> Result:
        in_use = self.heap_pages.in_use_bytes(self.present)
        self.heap_pages.grow_to(in_use)
        cycles, now, gc_cpu, total = self.base
        return Result(
            num_gc=len(self.cycles) - cycles, peak_heap_alloc_bytes=self.peak,
            peak_live_heap_bytes=self.peak_live, total_alloc_bytes=self.total - total,
            final_heap_alloc_bytes=self.heap, heap_objects=round(self.live_objects),
            heap_inuse_bytes=in_use, heap_idle_bytes=self.heap_pages.idle_bytes(in_use),
            heap_released_bytes=self.heap_pages.released_bytes, mutator_s=self.now - now,
            gc_cpu_s=self.gc_cpu - gc_cpu, thrashing=self.thrashing,
            size_classes=self.heap_pages.class_table(self.live_slots),
            cycles=self.cycles[cycles:])


def simulate(phases: list[Phase], pacer: Pacer, costs: Costs | None = None,
             gomaxprocs: int = 2, stacks: float = 0.0, globals_: float = 0.0,
             measure_from: int = 0) -> Result:
    """Run the phases under the pacer. `costs` sets how fast the program allocates and the
    GC marks (the defaults are a tight loop measured on a 2-core machine); `stacks` and
    `globals_` are the roots GOGC's goal counts. Phases before `measure_from` only build
    the heap the measured ones start from."""
    run = _Run(pacer, costs or Costs(), gomaxprocs, stacks, globals_)
    for index, phase in enumerate(phases):
        if index == measure_from:
            run.start_measuring()
        run.run_phase(index, phase)
    return run.result()
