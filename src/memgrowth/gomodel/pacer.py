"""Go's GC pacer: the heap goal for GOGC and GOMEMLIMIT, and the trigger (pure).

From the runtime (`mgcpacer.go`, Go 1.18+), as the notes in ../shared/notes record it:

    goal = marked + (marked + stacks + globals) * GOGC/100, at least 4 MiB * GOGC/100
    memory-limit goal = limit - (non-heap + overage), less a headroom of max(3%, 1 MiB),
                        never under what was marked
    the goal is the smaller of the two; GOGC=off leaves only the limit's.
    trigger = between 0.7 and 0.95 of the way from marked to goal
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1 << 20
HEAP_MINIMUM = 4 * MIB  # scaled by GOGC/100
LIMIT_HEADROOM_SHARE = 0.03
LIMIT_HEADROOM_MIN = 1 * MIB
TRIGGER_MIN = 45 / 64  # the trigger sits between these fractions of the runway
TRIGGER_MAX = 61 / 64
GOGC_OFF = None


@dataclass(frozen=True)
class Pacer:
    """GOGC (None for off) and GOMEMLIMIT (None for none), in bytes."""

    gogc: int | None = 100
    memory_limit: int | None = None

    def __post_init__(self) -> None:
        if self.gogc is not None and self.gogc < 0:
            raise ValueError(f"GOGC must be 0 or more, or off; got {self.gogc}")
        if self.memory_limit is not None and self.memory_limit <= 0:
            raise ValueError(f"GOMEMLIMIT must be positive; got {self.memory_limit}")

    def gogc_goal(self, marked: float, stacks: float = 0.0, globals_: float = 0.0) -> float:
        """The GOGC goal (infinite when GOGC=off)."""
        if self.gogc is None:
            return float("inf")
        goal = marked + (marked + stacks + globals_) * self.gogc / 100
        return max(goal, HEAP_MINIMUM * self.gogc / 100)

    def limit_goal(self, marked: float, non_heap: float = 0.0) -> float:
        """The memory limit's goal: the heap may use what the limit leaves after the rest of
        the runtime's memory, less a headroom; never under the marked heap (then the GC
        runs back to back: the thrash the runtime shows too)."""
        if self.memory_limit is None:
            return float("inf")
        room = self.memory_limit - non_heap
        headroom = max(room * LIMIT_HEADROOM_SHARE, LIMIT_HEADROOM_MIN)
        goal = headroom if room < 2 * headroom else room - headroom
        return max(goal, marked)

    def goal(self, marked: float, stacks: float = 0.0, globals_: float = 0.0,
             non_heap: float = 0.0) -> float:
        return min(self.gogc_goal(marked, stacks, globals_), self.limit_goal(marked, non_heap))

    def limit_binds(self, marked: float, stacks: float = 0.0, globals_: float = 0.0,
                    non_heap: float = 0.0) -> bool:
        """Whether the memory limit, not GOGC, sets the goal."""
        return self.limit_goal(marked, non_heap) < self.gogc_goal(marked, stacks, globals_)

    def trigger(self, marked: float, goal: float, runway: float | None = None) -> float:
        """Where the next cycle starts: the goal less the runway the concurrent mark needs,
        kept between 45/64 and 61/64 of the way from the marked heap to the goal."""
        if goal == float("inf"):
            return goal
        low = marked + (goal - marked) * TRIGGER_MIN
        high = marked + (goal - marked) * TRIGGER_MAX
        wanted = goal - runway if runway is not None else high
        return min(max(wanted, low), high)


def parse_gogc(text: str) -> int | None:
    """`100`, `off` → GOGC; a clear ValueError for anything else."""
    value = text.strip().lower()
    if value == "off":
        return GOGC_OFF
    if not value.isdigit():
        raise ValueError(f"GOGC must be a whole number of percent or `off`, got {text!r}")
    return int(value)
