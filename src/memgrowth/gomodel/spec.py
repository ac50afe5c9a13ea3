"""Workload specs: phases of allocations and what stays alive (pure).

`{"phases": [{"allocs": N, "size": BYTES, "retain": "none" | "all" | {"ring": N},
"pointers": false}]}` — each phase allocates `allocs` objects of `size` bytes; `"none"`: each
dies at once, `{"ring": N}`: the last N stay alive, `"all"`: every one stays alive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memgrowth.gomodel.allocator import object_layout
from memgrowth.gomodel.sizeclasses import allocation_bytes

MAX_OBJECT_SIZE = 1 << 40
MAX_ALLOCS = 10**13


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
    def layout(self) -> tuple[int, float, int]:
        """(size class, heap bytes per object, bytes per span slot)."""
        return object_layout(self.size, self.pointers)

    @property
    def holder_bytes(self) -> int:
        """What keeps a retaining phase's objects: an array of pointers, made up front."""
        if self.retain == "none":
            return 0
        return allocation_bytes(8 * max(self.ring if self.retain == "ring" else self.allocs,
                                        1), True)[1]

    def kept_after(self, kept: int, made: int) -> int:
        """Objects of this phase alive after `made` more, `kept` before."""
        if self.retain == "all":
            return kept + made
        if self.retain == "ring":
            return min(kept + made, self.ring)
        return 0


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


