"""What allocating and marking cost in time: the model's only calibrated constants (pure).

The pacer reasons in bytes, but two things it cannot see decide how a real heap moves:
how long a mark phase lasts, and how much the program allocates meanwhile. Every byte
allocated during the mark is allocated black: it survives that cycle, whatever happens to
it, so a slow mark raises the marked heap, the next goal, and the peak. Marking costs a
fixed start-up, a little per object found alive, and a scan of every pointerful byte.

The defaults were measured on this project's 2-core machine with
gomodel/validate/runspec.go (a tight allocation loop; Go 1.26): 16-byte allocations took
~52 ns, 600 B ~180 ns, 2 KiB ~490 ns, 100 KB ~20 µs (≈ 50 ns + 0.2 ns per byte); marks of
384,000 pointer-free objects took ~13 ms (≈ 25 ns each, plus ~100 ns per span of the heap);
85 MB of 600-byte pointerful objects ~115 ms (≈ 1.3 ns per byte), 9.6 MB of 48-byte ones
7-11 ms. The fixed part, the small objects' scan rate, the stalls and the slowdown were then
fitted to the medians of benchmarks/gomodel_accuracy.py (the stall: what sets the runtime's
peaks). For a recorded
service, `for_service` replaces the program's side with its measured rate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from memgrowth.gomodel.sizeclasses import MAX_SMALL_SIZE
from memgrowth.gomodel.sizeclasses import MIN_SIZE_FOR_MALLOC_HEADER as MALLOC_HEADER_FROM

RUNWAY_FACTOR = 3.0  # (1 - 0.25) / 0.25: the runtime plans the runway for 25% mark utilization
MAX_OVERSHOOT = 1.1  # the runtime extends a passed goal by 10% (mgcpacer.go maxOvershoot)


@dataclass(frozen=True)
class Costs:
    alloc_s: float = 50e-9  # per allocation: the program's loop plus malloc's fast path
    alloc_s_per_byte: float = 0.2e-9  # zeroing and first touch
    mark_fixed_s: float = 0.8e-3  # waking the workers, roots, stacks, the STW phases
    mark_s_per_object: float = 25e-9  # finding and setting a live object's mark bit
    mark_s_per_span: float = 100e-9  # each span of the heap, garbage or not, is visited
    scan_s_per_byte: float = 0.3e-9  # reading a pointerful object's words (heap bits)…
    scan_s_per_byte_headed: float = 1.3e-9  # …or, from 512 B to 32 KiB, its header's type
    mark_slowdown: float = 1.6  # the program allocates slower while a mark runs
    stall_every_s: float = 0.1  # a mark stalls once in so long (the scheduler, the machine)…
    stall_s: float = 8.5e-3  # …for this long: such cycles set a real heap's peak
    bytes_per_s: float | None = None  # a measured allocation rate, overriding alloc_s*
    scan_scale: float = 1.0  # the share of a recorded service's heap that needs scanning
    bursty: bool = False  # allocation in bursts: the runtime's runway estimate, taken during
    # marks that meet a burst, keeps the trigger at the pacer's floor (seen in services' traces)

    def allocation_seconds(self, object_bytes: float) -> float:
        """The mutator's time for one allocation of object_bytes (its size class)."""
        if self.bytes_per_s:
            return object_bytes / self.bytes_per_s
        return self.alloc_s + self.alloc_s_per_byte * object_bytes

    def scan_seconds(self, object_bytes: float) -> float:
        """Time to mark and scan one pointerful object of object_bytes."""
        headed = MALLOC_HEADER_FROM < object_bytes <= MAX_SMALL_SIZE
        per_byte = self.scan_s_per_byte_headed if headed else self.scan_s_per_byte
        return self.mark_s_per_object + per_byte * object_bytes * self.scan_scale

    def mark_seconds(self, scan_seconds: float, noscan_objects: float, spans: float,
                     stalled: bool = False) -> tuple[float, float, float]:
        """Wall time of a mark: scanning the live pointerful objects takes scan_seconds;
        noscan_objects are only marked; the heap has that many spans. Returns (all of it,
        the part assists share: scanning, the part spent stalled: no CPU)."""
        stall = self.stall_s if stalled else 0.0
        assisted = min(stall, scan_seconds)  # assists carry a stalled mark while they can
        rest = self.mark_fixed_s + self.mark_s_per_object * noscan_objects \
            + self.mark_s_per_span * spans
        return scan_seconds + rest + stall, scan_seconds + assisted, stall

    def for_service(self, bytes_per_s: float, scan_scale: float = 1.0) -> Costs:
        """The same marking costs for a service measured allocating bytes_per_s on average,
        in bursts, with scan_scale of its heap needing a scan."""
        return replace(self, bytes_per_s=bytes_per_s, scan_scale=scan_scale, bursty=True)
