"""Go's allocator, counted in spans and pages rather than object by object (pure).

The runtime hands out small objects from spans of one size class: each P keeps one span per
class in its mcache, refills it from the class's mcentral, which takes fresh spans of 8 KiB
pages from the mheap. Large objects (> 32 KiB) get spans of their own. Sweeping after a
collection frees dead slots; a span left empty goes back to the mheap, whose free pages stay
mapped (idle) until the scavenger returns them to the OS (released).

The workload specs kill objects in the order they were made (dead at once, a ring, or never),
so live objects sit packed in consecutive spans: a class's spans are its objects divided by
objects per span, plus the partly filled span each P caches while it allocates. Counting at
that level keeps 100 million allocations to milliseconds and gives the numbers a person
tuning GOGC looks at: heap in use, idle and released, and what each class wastes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from memgrowth.gomodel.sizeclasses import PAGE_SIZE, TINY_SIZE, allocation_bytes, size_class

TINY_CLASS = 2  # the tiny allocator's 16-byte blocks come from this class
SCAVENGER_RETAIN = 1.1  # the scavenger keeps up to 10% over the heap goal mapped…
LIMIT_RETAIN = 0.95  # …and, under a memory limit, at most 95% of it
SCAVENGE_BYTES_PER_S = 64 << 20  # background release pace (1% of a CPU; measured ~60 MB/s)


def object_layout(size: int, pointers: bool) -> tuple[int, float, int]:
    """(span kind, heap bytes per object, bytes per span slot) for one allocation. The span
    kind is the size class, or minus the pages of a large object's own span. Tiny
    pointer-free objects share 16-byte blocks, aligned to 8, 4 or 2 by their size."""
    if not pointers and size < TINY_SIZE:
        align = 8 if size % 8 == 0 else 4 if size % 4 == 0 else 2 if size % 2 == 0 else 1
        per_block = max(TINY_SIZE // max(size, align), 1)
        return TINY_CLASS, TINY_SIZE / per_block, TINY_SIZE
    number, heap_bytes = allocation_bytes(size, pointers)
    return number or -(heap_bytes // PAGE_SIZE), float(heap_bytes), heap_bytes


@dataclass
class ClassUse:
    """One span kind's objects and spans."""

    number: int  # the size class, or minus the pages of a large object's span
    slot_bytes: int  # a slot: the class size, or a large object's whole span
    objects_allocated: int = 0
    live_objects: float = 0.0  # in slots (tiny objects packed into blocks)
    peak_spans: int = 0
    spans_freed: int = 0

    @property
    def span_bytes(self) -> int:
        return size_class(self.number).span_bytes if self.number > 0 else self.slot_bytes

    @property
    def slots_per_span(self) -> int:
        return size_class(self.number).objects if self.number > 0 else 1

    def spans_for(self, slots: float, gomaxprocs: int) -> int:
        if slots <= 0:
            return 0
        cached = min(gomaxprocs, max(self.objects_allocated, 1)) - 1 if self.number > 0 else 0
        return math.ceil(slots / self.slots_per_span) + cached


@dataclass
class Heap:
    """The mheap's pages: in use by spans, idle (free but mapped), released to the OS."""

    gomaxprocs: int = 2
    classes: dict[int, ClassUse] = field(default_factory=dict)
    mapped_bytes: float = 0.0  # pages the heap has taken from the OS (its high-water)
    released_bytes: float = 0.0

    def use(self, number: int, slot_bytes: int) -> ClassUse:
        return self.classes.setdefault(number, ClassUse(number, slot_bytes))

    def in_use_bytes(self, slots: dict[int, float]) -> float:
        """Bytes of spans holding the given slots per class (live and not yet swept)."""
        return sum(self.classes[n].spans_for(s, self.gomaxprocs) * self.classes[n].span_bytes
                   for n, s in slots.items())

    def span_count(self, slots: dict[int, float]) -> int:
        return sum(self.classes[n].spans_for(s, self.gomaxprocs) for n, s in slots.items())

    def grow_to(self, in_use: float) -> None:
        """The heap needs in_use bytes of spans: released pages come back first, then new
        pages are mapped."""
        free = self.mapped_bytes - self.released_bytes - in_use
        if free < 0:
            reused = min(-free, self.released_bytes)
            self.released_bytes -= reused
            self.mapped_bytes += -free - reused
        self.mapped_bytes = max(self.mapped_bytes, in_use)

    def sweep(self, before: dict[int, float], after: dict[int, float]) -> None:
        """A cycle's sweep: each class keeps the spans its surviving slots need; the rest
        return to the mheap."""
        for number, slots in before.items():
            use = self.classes[number]
            spans_before = use.spans_for(slots, self.gomaxprocs)
            use.peak_spans = max(use.peak_spans, spans_before)
            use.spans_freed += max(spans_before - use.spans_for(after.get(number, 0.0),
                                                                 self.gomaxprocs), 0)

    def scavenge(self, in_use: float, heap_goal: float, memory_limit: float | None,
                 seconds: float) -> None:
        """The background scavenger returns idle pages beyond what it retains, at its pace."""
        retain = SCAVENGER_RETAIN * heap_goal
        if memory_limit is not None:
            retain = min(retain, LIMIT_RETAIN * memory_limit)
        idle = self.mapped_bytes - self.released_bytes - in_use
        excess = max(min(idle, self.mapped_bytes - self.released_bytes - retain), 0.0)
        self.released_bytes += min(excess, SCAVENGE_BYTES_PER_S * seconds)

    def idle_bytes(self, in_use: float) -> float:
        return max(self.mapped_bytes - self.released_bytes - in_use, 0.0)

    def class_table(self, live_slots: dict[int, float]) -> list[dict]:
        """Per class: objects, spans in use and at peak, spans freed, and the bytes the live
        objects' spans hold beyond the objects (rounding to the class, span tails)."""
        rows = []
        for number, use in sorted(self.classes.items()):
            slots = live_slots.get(number, 0.0)
            spans = use.spans_for(slots, self.gomaxprocs)
            rows.append({"size_class": max(number, 0), "object_bytes": use.slot_bytes,
                         "objects_allocated": use.objects_allocated,
                         "live_objects": round(use.live_objects),
                         "spans": spans, "peak_spans": max(use.peak_spans, spans),
                         "spans_freed": use.spans_freed,
                         "waste_bytes": max(spans * use.span_bytes - slots * use.slot_bytes,
                                            0.0)})
        return rows

