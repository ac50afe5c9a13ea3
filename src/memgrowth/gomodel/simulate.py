"""The allocation and GC of a workload spec, simulated cycle by cycle (pure, no I/O).

A spec is phases of `allocs` objects of `size` bytes, each kept according to `retain`
(`"none"`: dead at once; `{"ring": N}`: the last N stay alive; `"all"`). Objects are placed
as the runtime places them (size classes, tiny blocks for pointer-free objects under 16 B,
whole pages beyond 32 KiB, malloc headers), and a collection runs each time the heap reaches
the pacer's goal. The simulation jumps from one collection to the next: its cost grows with
the number of cycles, not of allocations, so 100 million allocations take milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from memgrowth.gomodel.pacer import MIB, Pacer
from memgrowth.gomodel.sizeclasses import TINY_SIZE, allocation_bytes, size_class

MAX_OBJECT_SIZE = 1 << 40
MAX_ALLOCS = 10**13
THRASH_RUNWAY = 64 << 10  # the runtime always lets this much be allocated between cycles
SCAN_BYTES_PER_CPU_S = 1024 * MIB  # the GC guide's illustrative mark rate…
FIXED_CPU_S_PER_CYCLE = 40e-6  # …and a fixed cost per cycle (stop-the-world phases, setup)


class SpecError(ValueError):
    """The workload spec is malformed; the message says where."""


@dataclass(frozen=True)
class Phase:
    allocs: int
    size: int
    retain: str  # none | ring | all
    ring: int = 0
    pointers: bool = False

    @property
    def bytes_per_object(self) -> float:
        """Heap bytes one object takes: its size class, or its share of a 16-byte tiny block."""
        if not self.pointers and self.size < TINY_SIZE:
            aligned = 8 if self.size % 8 == 0 else 4 if self.size % 4 == 0 else \
                2 if self.size % 2 == 0 else 1
            step = max(self.size, aligned)
            return TINY_SIZE / max(TINY_SIZE // step, 1)
        return float(allocation_bytes(self.size, self.pointers)[1])

    @property
    def size_class(self) -> int:
        if not self.pointers and self.size < TINY_SIZE:
            return 2  # the tiny allocator's blocks come from the 16-byte class
        return allocation_bytes(self.size, self.pointers)[0]


def parse_spec(spec: Any) -> list[Phase]:
    """Validate a spec (already JSON-decoded) into phases; SpecError names what is wrong."""
    if not isinstance(spec, dict) or not isinstance(spec.get("phases"), list) \
            or not spec["phases"]:
        raise SpecError('a workload is {"phases": [{"allocs": N, "size": BYTES, '
                        '"retain": "none" | "all" | {"ring": N}}, …]}')
    phases = []
    for number, raw in enumerate(spec["phases"], 1):
        where = f"phase {number}"
        if not isinstance(raw, dict):
            raise SpecError(f"{where} is not an object")
        allocs, size = raw.get("allocs"), raw.get("size")
        if not isinstance(allocs, int) or isinstance(allocs, bool) or not 0 <= allocs <= MAX_ALLOCS:
            raise SpecError(f"{where}: allocs must be a whole number from 0 to {MAX_ALLOCS:.0e}")
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_OBJECT_SIZE:
            raise SpecError(f"{where}: size must be a whole number of bytes from 1 to 1 TiB")
        pointers = raw.get("pointers", False)
        if not isinstance(pointers, bool):
            raise SpecError(f"{where}: pointers must be true or false")
        retain = raw.get("retain", "none")
        if retain in ("none", "all"):
            phases.append(Phase(allocs, size, retain, pointers=pointers))
        elif isinstance(retain, dict) and set(retain) == {"ring"} and isinstance(
                retain["ring"], int) and not isinstance(retain["ring"], bool) \
                and retain["ring"] >= 0:
            phases.append(Phase(allocs, size, "ring", retain["ring"], pointers))
        else:
            raise SpecError(f'{where}: retain must be "none", "all" or {{"ring": N}}')
    return phases


@dataclass
class ClassUse:
    objects_allocated: int = 0
    live_objects: int = 0
    bytes_per_object: float = 0.0


@dataclass
class Result:
    num_gc: int
    peak_heap_alloc_bytes: float
    total_alloc_bytes: float
    final_heap_alloc_bytes: float
    heap_objects: int  # live objects at the end (before any final collection)
    gc_cpu_s: float
    thrashing: bool  # the memory limit sat under the live heap: collections back to back
    classes: dict[int, ClassUse] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        table = []
        for number, use in sorted(self.classes.items()):
            info = size_class(number) if number else None
            per_span = info.objects if info else 1
            spans = math.ceil(use.live_objects / per_span) if per_span else 0
            span_bytes = info.span_bytes if info else use.bytes_per_object
            table.append({"size_class": number, "object_bytes": info.size if info else None,
                          "objects_allocated": use.objects_allocated,
                          "live_objects": use.live_objects, "spans": spans,
                          "waste_bytes": max(spans * span_bytes
                                             - use.live_objects * use.bytes_per_object, 0)})
        return {"num_gc": self.num_gc, "peak_heap_alloc_bytes": self.peak_heap_alloc_bytes,
                "total_alloc_bytes": self.total_alloc_bytes,
                "final_heap_alloc_bytes": self.final_heap_alloc_bytes,
                "heap_objects": self.heap_objects, "gc_cpu_s": self.gc_cpu_s,
                "thrashing": self.thrashing, "size_classes": table}


def simulate(phases: list[Phase], pacer: Pacer, non_heap: float = 0.0) -> Result:
    """Run the phases under the pacer; `non_heap` is the runtime's other memory (stacks,
    metadata) the memory limit also covers."""
    live = 0.0  # bytes reachable now
    heap = 0.0  # HeapAlloc: reachable plus garbage not yet collected
    marked = 0.0
    goal = pacer.goal(marked, non_heap=non_heap)
    trigger = pacer.trigger(marked, goal)
    num_gc, peak, total, cpu = 0, 0.0, 0.0, 0.0
    thrashing = False
    classes: dict[int, ClassUse] = {}
    live_objects: dict[int, int] = {}  # per phase, its objects still alive
    for index, phase in enumerate(phases):
        per = phase.bytes_per_object
        use = classes.setdefault(phase.size_class, ClassUse(bytes_per_object=per))
        if phase.retain != "none":
            # What holds the kept objects: an array of pointers, allocated up front.
            holder = allocation_bytes(8 * (phase.ring if phase.retain == "ring"
                                           else phase.allocs) or 8, True)[1]
            heap += holder
            live += holder
            total += holder
        remaining = phase.allocs
        while remaining > 0:
            # A cycle starts at the trigger; the heap goes on growing while it marks, and
            # what it finds alive then sets the next goal.
            room = max(trigger - heap, 0.0)
            if room < THRASH_RUNWAY and goal <= marked + THRASH_RUNWAY:
                thrashing = True
                room = THRASH_RUNWAY  # the runtime still lets a little through
            batch = remaining if math.isinf(room) else min(remaining, max(1, int(room // per)))
            remaining -= batch
            heap += batch * per
            total += batch * per
            use.objects_allocated += batch
            kept = _kept_after(phase, live_objects.get(index, 0), batch)
            live += (kept - live_objects.get(index, 0)) * per
            live_objects[index] = kept
            peak = max(peak, heap)
            if heap >= trigger or (thrashing and heap >= marked + THRASH_RUNWAY):
                num_gc += 1
                cpu += FIXED_CPU_S_PER_CYCLE + live / SCAN_BYTES_PER_CPU_S
                marked = heap = live
                goal = pacer.goal(marked, non_heap=non_heap)
                trigger = pacer.trigger(marked, goal)
    for index, phase in enumerate(phases):
        classes[phase.size_class].live_objects += live_objects.get(index, 0)
    return Result(num_gc, peak, total, heap, sum(live_objects.values()), cpu, thrashing,
                  classes)


def _kept_after(phase: Phase, kept: int, batch: int) -> int:
    if phase.retain == "all":
        return kept + batch
    if phase.retain == "ring":
        return min(kept + batch, phase.ring)
    return 0
