"""`memgrowth pprof top`: the flat/cum table of `go tool pprof -top`, computed the same way.

Nodes are functions (a location without one is named by its binary, else `<unknown>`);
inlined calls count as their own functions. A sample adds its value to the flat of its leaf
and to the cum of every distinct function on its stack. As pprof does by default, functions
whose cum is under 0.5% of the total are dropped (their flat is lost, and the header says
so), rows are sorted by flat, then name, and every value is printed in the unit that shows
the smallest one best. A diff base is subtracted: percentages are then of the base's total.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from memgrowth.formats.pprof import Location, Profile, ProfileError, Sample

NODE_FRACTION = 0.005

# pprof's units (internal/measurement): memory in powers of 1024, time in SI steps.
_UNITS = [
    ([("B", 1.0), ("kB", 2.0 ** 10), ("MB", 2.0 ** 20), ("GB", 2.0 ** 30), ("TB", 2.0 ** 40),
      ("PB", 2.0 ** 50)],
     {"b": 1.0, "byte": 1.0, "kb": 2.0 ** 10, "kbyte": 2.0 ** 10, "kilobyte": 2.0 ** 10,
      "mb": 2.0 ** 20, "mbyte": 2.0 ** 20, "megabyte": 2.0 ** 20, "gb": 2.0 ** 30,
      "gbyte": 2.0 ** 30, "gigabyte": 2.0 ** 30, "tb": 2.0 ** 40, "pb": 2.0 ** 50}, "B"),
    ([("ns", 1.0), ("us", 1e3), ("ms", 1e6), ("s", 1e9), ("hrs", 3600e9)],
     {"ns": 1.0, "nanosecond": 1.0, "μs": 1e3, "us": 1e3, "microsecond": 1e3, "ms": 1e6,
      "millisecond": 1e6, "s": 1e9, "sec": 1e9, "second": 1e9, "hour": 3600e9,
      "hr": 3600e9}, "s"),
]


def _unit_factor(unit: str) -> tuple[list, float, str] | None:
    name = unit.lower()
    if len(name) > 2:
        name = name.removesuffix("s")
    for units, aliases, default in _UNITS:
        if name in aliases:
            return units, aliases[name], default
    return None


def scale(value: float, from_unit: str, to_unit: str) -> tuple[float, str]:
    """pprof's measurement.Scale: (value in to_unit, its name); 'minimum' picks the largest
    unit the value is at least 1 of."""
    if value < 0:
        scaled, name = scale(-value, from_unit, to_unit)
        return -scaled, name
    found = _unit_factor(from_unit)
    if found is None:
        if to_unit in ("count", "sample", "unit", "minimum", "auto"):
            return float(value), ""
        return float(value), to_unit
    units, factor, default = found
    base = value * factor
    if to_unit in ("minimum", "auto"):
        best = None
        for name, size in units:
            if base / size >= 1.0 and (best is None or size >= best[1]):
                best = (name, size)
        if best is None:
            size = dict(units)[default]
            return base / size, default
        return base / best[1], best[0]
    target = _unit_factor(to_unit)
    if target is None or target[0] is not units:
        size = dict(units)[default]
        return base / size, default
    return base / target[1], next(n for n, s in units if s == target[1])


def scaled_label(value: int, from_unit: str, to_unit: str) -> str:
    scaled, name = scale(value, from_unit, to_unit)
    text = _go_fixed(scaled)
    if text in ("0", "-0"):
        return "0"
    return text + name


def _go_fixed(value: float) -> str:
    """Go's %.2f with a trailing '.00' dropped."""
    text = f"{value:.2f}"
    return text[:-3] if text.endswith(".00") else text


def percentage(value: int, total: int) -> str:
    """pprof's measurement.Percentage: at least two significant digits, width 5."""
    ratio = abs(value / total) * 100 if total else 0.0
    if 99.95 <= ratio <= 100.05:
        return "  100%"
    if ratio >= 1.0:
        return f"{ratio:5.2f}%"
    return f"{_go_general(ratio):>5}%"


def _go_general(value: float) -> str:
    """Go's %.2g: like C's, but Go writes exponents with at least two digits too."""
    return f"{value:.2g}"


@dataclass
class Node:
    name: str
    flat: int = 0
    cum: int = 0
    inline_in: bool = False  # some calls into it were inlined
    called_in: bool = False  # some calls into it were not


@dataclass
class TopReport:
    """The rows and header lines of `pprof -top`."""

    labels: list[str]
    rows: list[tuple[str, str, str, str, str, str]] = field(default_factory=list)

    def text(self) -> str:
        lines = list(self.labels)
        lines.append(f"{'flat':>10} {'flat':>5}% {'sum':>5}% {'cum':>10} {'cum':>5}%")
        lines.extend(f"{flat:>10} {flat_pct} {sum_pct} {cum:>10} {cum_pct}  {name}"
                     for flat, flat_pct, sum_pct, cum, cum_pct, name in self.rows)
        return "\n".join(lines) + "\n"


def display_name(name: str, system_name: str) -> str | None:
    """The name pprof shows: a name equal to its system name that looks like demangled C++
    (brackets, `::`) loses its parameter lists and template arguments, as pprof's
    symbolizer does (`<module>` becomes nothing, hence `<unknown>`)."""
    if name and system_name != name:
        return name
    name = system_name
    if ".<" not in name and "])." not in name and (
            any(c in name for c in "<>[]") or "::" in name):
        name = _remove_matching(_remove_matching(name, "(", ")"), "<", ">")
    return name or None


def _remove_matching(name: str, start: str, end: str) -> str:
    """pprof's removeMatching: drop nested start…end groups; unbalanced names stay."""
    nesting = first = 0
    current = 0
    while True:
        positions = [p for p in (name.find(start, current), name.find(end, current)) if p >= 0]
        if not positions:
            return name
        current = min(positions)
        if name[current] == start:
            nesting += 1
            if nesting == 1:
                first = current
        else:
            nesting -= 1
            if nesting < 0:
                return name
            if nesting == 0:
                name = name[:first] + name[current + 1:]
                current = first - 1
        current += 1


def _node_names(location: Location) -> list[tuple[str, bool]]:
    """(name, inlined) per frame of a location, innermost first."""
    if not location.lines:
        objfile = location.mapping.file if location.mapping else ""
        return [(f"[{os.path.basename(objfile)}]" if objfile else "<unknown>", False)]
    names = []
    for i, line in enumerate(location.lines):
        function = line.function
        name = display_name(function.name, function.system_name) if function else None
        if name is None:
            objfile = location.mapping.file if location.mapping else ""
            name = f"[{os.path.basename(objfile)}]" if objfile else "<unknown>"
        names.append((name, i != len(location.lines) - 1))
    return names


def _build(samples: list[tuple[Sample, int]], keep: set[str] | None,
           names: dict[int, list[tuple[str, bool]]]) -> dict[str, Node]:
    """pprof's graph: cum once per distinct node on a stack, flat to the leaf if kept.
    `names` caches each location's frames, root-most first."""
    nodes: dict[str, Node] = {}
    for sample, value in samples:
        if value == 0:
            continue  # pprof builds its graph from samples that weigh something
        seen: set[str] = set()
        seen_edges: set[tuple[str, str]] = set()
        parent: str | None = None
        residual = False
        for location in reversed(sample.locations):  # from the root to the leaf
            frames = names.get(id(location))
            if frames is None:
                frames = names[id(location)] = list(reversed(_node_names(location)))
            for name, inlined in frames:
                if keep is not None and name not in keep:
                    residual = True
                    continue
                node = nodes.get(name)
                if node is None:
                    node = nodes[name] = Node(name)
                if name not in seen:
                    seen.add(name)
                    node.cum += value
                if parent is not None and parent != name and (parent, name) not in seen_edges:
                    seen_edges.add((parent, name))
                    if inlined:
                        node.inline_in = True
                    else:
                        node.called_in = True
                parent = name
                residual = False
        if parent is not None and not residual:
            nodes[parent].flat += value
    return nodes


def top(profile: Profile, sample_index: str | None = None, base: Profile | None = None,
        node_count: int = 0, node_fraction: float = NODE_FRACTION) -> TopReport:
    """The `go tool pprof -top` report of a profile (minus `base`, if given)."""
    index = profile.sample_index(sample_index)
    kind = profile.sample_types[index]
    samples = [(s, s.values[index]) for s in profile.samples]
    diff_total = 0
    if base is not None:
        base_index = base.sample_index(kind.type)
        for sample in base.samples:
            value = -sample.values[base_index]
            samples.append((sample, value))
            diff_total += abs(value)
    total = diff_total or sum(abs(v) for _, v in samples)
    names: dict[int, list[tuple[str, bool]]] = {}
    nodes = _build(samples, None, names)
    flat_sum = sum(n.flat for n in nodes.values())
    cutoff = abs(int(flat_sum * node_fraction))
    dropped = 0
    if cutoff > 0:
        keep = {name for name, n in nodes.items() if abs(n.cum) >= cutoff}
        if len(keep) != len(nodes):
            dropped = len(nodes) - len(keep)
            nodes = _build(samples, keep, names)
    ordered = sorted(nodes.values(), key=lambda n: (-abs(n.flat), n.name, -abs(n.cum)))
    original_count = len(ordered)
    if 0 < node_count < len(ordered):
        # pprof keeps the first nodes in this order, then rebuilds the graph over them.
        nodes = _build(samples, {n.name for n in ordered[:node_count]}, names)
        ordered = sorted(nodes.values(), key=lambda n: (-abs(n.flat), n.name, -abs(n.cum)))
    unit = _output_unit(ordered, total, kind.unit)
    value = lambda v: scaled_label(v, kind.unit, unit)  # noqa: E731 - one format, many uses
    shown = sum(n.flat for n in ordered)
    labels = _profile_labels(_merged_header(profile, base), kind.type, total, value)
    labels.append(f"Showing nodes accounting for {value(shown)}, "
                  f"{percentage(shown, total).strip()} of {value(total)} total")
    if total:
        if dropped:
            labels.append(f"Dropped {dropped} node{'s' if dropped > 1 else ''} "
                          f"(cum <= {value(abs(int(total * node_fraction)))})")
        if 0 < node_count < original_count:
            labels.append(f"Showing top {node_count} nodes out of {original_count}")
    report = TopReport(labels)
    running = 0
    for node in ordered:
        running += node.flat
        inline = ""
        if node.inline_in:
            inline = " (partial-inline)" if node.called_in else " (inline)"
        report.rows.append((value(node.flat), percentage(node.flat, total),
                            percentage(running, total), value(node.cum),
                            percentage(node.cum, total), node.name + inline))
    return report


def _merged_header(profile: Profile, base: Profile | None) -> Profile:
    """The header pprof gives a profile merged with its (negated) diff base: the earliest
    time as its merge loop finds it, durations summed, the largest period, comments of both."""
    if base is None:
        return profile
    time_nanos = 0
    for source in (profile, base):
        if time_nanos == 0 or source.time_nanos < time_nanos:
            time_nanos = source.time_nanos
    comments = list(dict.fromkeys([*profile.comments, *base.comments]))
    return replace(profile, time_nanos=time_nanos,
                   duration_nanos=profile.duration_nanos + base.duration_nanos,
                   period=max(profile.period, base.period), comments=comments,
                   doc_url=profile.doc_url or base.doc_url)


def _output_unit(nodes: list[Node], total: int, sample_unit: str) -> str:
    """pprof's selectOutputUnit: the unit of the smallest value, unless it is 100 times
    smaller than the total and a larger unit still shows it as 0.01 or more."""
    if not nodes:
        return "minimum"
    smallest = 0
    for node in nodes:
        value = abs(node.flat) or abs(node.cum)
        if value > 0 and (smallest == 0 or value < smallest):
            smallest = value
    largest = total
    if smallest == 0:
        smallest = largest
    _, small_unit = scale(smallest, sample_unit, "minimum")
    _, large_unit = scale(largest, sample_unit, "minimum")
    unit = small_unit
    if small_unit != large_unit and smallest * 100 < largest:
        _, unit = scale(100 * smallest, sample_unit, "minimum")
    return unit or sample_unit


def _profile_labels(profile: Profile, sample_type: str, total: int, value) -> list[str]:
    labels = []
    if profile.mappings:
        main = profile.mappings[0]
        if main.file:
            labels.append("File: " + os.path.basename(main.file))
        if main.build_id:
            labels.append("Build ID: " + main.build_id)
    labels.extend(c for c in profile.comments if not c.startswith("#"))
    labels.append("Type: " + sample_type)
    if profile.doc_url:
        labels.append("Doc: " + profile.doc_url)
    if profile.time_nanos:
        when = datetime.fromtimestamp(profile.time_nanos / 1e9, tz=timezone.utc).astimezone()
        labels.append("Time: " + when.strftime("%Y-%m-%d %H:%M:%S ") + (when.tzname() or ""))
    if profile.duration_nanos:
        duration = scaled_label(profile.duration_nanos, "nanoseconds", "auto")
        nanos, unit = scale(total, _sample_unit(profile, sample_type), "nanoseconds")
        ratio = f"({percentage(int(nanos), profile.duration_nanos)})" \
            if unit == "ns" and nanos else ""
        labels.append(f"Duration: {duration}, Total samples = {value(total)} {ratio}")
    return labels


def _sample_unit(profile: Profile, sample_type: str) -> str:
    return next(t.unit for t in profile.sample_types if t.type == sample_type)


def check_comparable(profile: Profile, base: Profile) -> None:
    """A diff base must measure the same things."""
    if [t.type for t in profile.sample_types] != [t.type for t in base.sample_types]:
        raise ProfileError("the diff base has other sample types than the profile")

