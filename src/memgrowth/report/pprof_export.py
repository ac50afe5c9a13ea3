"""The Python allocation sites of a recording as a pprof heap profile (gzipped profile.proto),
for `go tool pprof`, Pyroscope or Parca.

Each sample is one stack of the allocations that were still alive at the end of the agent's
tracemalloc windows (see docs/attribution.md), summed over the windows, with a `pid` label:
`inuse_objects` counts blocks, `inuse_space` their bytes. Stacks are leaf first, as pprof
wants; frames are file, line and function, as the recorder named them.
"""

from __future__ import annotations

import os

from memgrowth.analysis.series import from_recording
from memgrowth.formats.pprof import Function, Line, Location, Profile, Sample, ValueType
from memgrowth.recording import Recording


def sites_profile(recording: Recording) -> Profile:
    """A heap profile of every Python process's retained allocation sites."""
    run = from_recording(recording)
    profile = Profile(
        sample_types=[ValueType("inuse_objects", "count"), ValueType("inuse_space", "bytes")],
        period_type=ValueType("space", "bytes"), period=1,
        comments=["memgrowth: allocations alive at the end of tracemalloc windows"])
    functions: dict[tuple[str, str], Function] = {}
    locations: dict[tuple[str, int, str], Location] = {}
    totals: dict[tuple[int, tuple[int, ...]], list[int]] = {}
    for process in run.processes.values():
        for row in process.attribution.get("site", []):
            stack = row.detail.get("stack") or [[row.detail.get("file"), row.detail.get("line"),
                                                 row.detail.get("function")]]
            ids = []
            for frame in stack:
                if not isinstance(frame, list) or len(frame) < 2 or not isinstance(frame[0], str):
                    continue
                line = int(frame[1]) if isinstance(frame[1], (int, float)) else 0
                name = frame[2] if len(frame) > 2 and isinstance(frame[2], str) and frame[2] \
                    else f"{os.path.basename(frame[0])}:{line}"
                function = functions.get((name, frame[0]))
                if function is None:
                    # No system name: pprof would take `<module>` for a C++ template and
                    # strip it (it simplifies names equal to their system name).
                    function = functions[(name, frame[0])] = Function(
                        len(functions) + 1, name, "", frame[0])
                location = locations.get((frame[0], line, name))
                if location is None:
                    location = locations[(frame[0], line, name)] = Location(
                        len(locations) + 1, None, 0, [Line(function, line)])
                if not ids or ids[-1] != location.id:  # a comprehension repeats its frame
                    ids.append(location.id)
            if ids:
                total = totals.setdefault((process.pid, tuple(ids)), [0, 0])
                total[0] += int(row.count or 0)
                total[1] += int(row.bytes or 0)
    by_id = {location.id: location for location in locations.values()}
    for (pid, ids), (blocks, size) in totals.items():
        sample = Sample([by_id[i] for i in ids], [blocks, size])
        sample.num_labels["pid"] = [pid]
        profile.samples.append(sample)
    profile.functions = list(functions.values())
    profile.locations = list(locations.values())
    return profile
