"""Attribution: which container, which line, which type, which threads or tasks hold the growth.

Pure: a process's series in, findings out. The agent reports what it saw (container sizes by
reference path, allocations that survived a tracemalloc window, thread and task groups, the
types in generation 0 while gc is off); here those reports become ranked findings with
their rates, shares and evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memgrowth.analysis.finding import Finding
from memgrowth.analysis.series import AttributionRow, ProcessSeries
from memgrowth.analysis.trend import theil_sen
from memgrowth.units import format_bytes

GROWTH_MIN_ENTRIES = 20  # a container gaining fewer entries over the window is not growing
GROWTH_MIN_SHARE = 0.02
RISING_Z = 1.64  # Mann–Kendall: rising at 95% (one-sided)
GROUP_MIN_GROWTH = 3  # threads or tasks of one group: at least this many more
MIN_REPORTS = 4  # reports a trend is judged on (four rising ones pass Mann–Kendall at 95%)
SITE_MIN_SHARE = 0.05  # sites keeping under 5% of what windows retained are not shown…
SITE_MIN_SHARE_BESIDE_HOLDER = 0.2  # …or under 20% when a growing container is named already
# A window whose survivors far outnumber what the heap gained meanwhile caught churn (new
# objects replacing old ones), not growth: its sites say nothing about the leak.
NET_GROWTH_SHARE = 0.3
HOLDER_MIN_BYTES = 1 << 20  # a plateau's holder worth naming


@dataclass(frozen=True)
class Growing:
    """A series of counts (entries, threads, tasks) that rises over the window."""

    key: str
    first: float
    last: float
    per_s: float
    rows: list[AttributionRow]


def growing_series(rows: list[AttributionRow], since: float,
                   min_growth: float = GROWTH_MIN_ENTRIES) -> list[Growing]:
    """Keys whose counts rise over [since, end]: Theil–Sen slope > 0 with Mann–Kendall
    agreement, and a rise that matters; fastest first."""
    by_key: dict[str, list[AttributionRow]] = {}
    for row in rows:
        if row.count is not None:
            by_key.setdefault(row.key, []).append(row)
    found = []
    for key, series in by_key.items():
        recent = [r for r in series if r.t >= since]
        if len(recent) < MIN_REPORTS:  # a short window: judge on the last few reports
            recent = series[-MIN_REPORTS:]
        if len(recent) < MIN_REPORTS:
            continue
        t = np.array([r.t for r in recent], dtype=float)
        y = np.array([r.count for r in recent], dtype=float)
        trend = theil_sen(t, y)
        if trend is None or trend.slope <= 0 or trend.kendall_z < RISING_Z:
            continue
        rise = float(y[-1] - y[0])
        if rise < max(min_growth, GROWTH_MIN_SHARE * float(y[0])):
            continue
        found.append(Growing(key, float(y[0]), float(y[-1]), trend.slope, series))
    return sorted(found, key=lambda g: -g.per_s)


def format_site(site: list | None) -> str | None:
    """`path/to/file.py:42 (function)` from [file, line, function]."""
    if not site or len(site) < 2:
        return None
    function = site[2] if len(site) > 2 and site[2] else None
    return f"{site[0]}:{site[1]}" + (f" ({function})" if function else "")


def _detail_site(detail: dict) -> str | None:
    return format_site([detail.get("file"), detail.get("line"), detail.get("function")])


def _stack_text(stack: list | None, frames: int = 6) -> str:
    shown: list[str] = []
    for frame in stack or []:
        site = format_site(frame)
        if site and (not shown or shown[-1] != site):  # a comprehension repeats its line
            shown.append(site)
    return " ← ".join(shown[:frames])


def container_findings(process: ProcessSeries, since: float,
                       growth_rate: float | None) -> list[Finding]:
    """Growing containers, named by their shortest reference path, joined to the line that
    allocated their newest entries."""
    rows = process.attribution.get("container", [])
    joins = {row.key: row for row in process.attribution.get("join", [])}
    found = []
    for growing in growing_series(rows, since):
        last = growing.rows[-1]
        detail = last.detail
        kind = detail.get("container") or "container"
        maxsize = detail.get("maxsize")
        if kind.startswith("lru_cache") and maxsize and growing.last >= maxsize:
            continue  # a bounded cache that filled up: evicting now
        entry_bytes = _median([r.bytes for r in growing.rows[-5:] if r.bytes])
        rate = growing.per_s * entry_bytes if entry_bytes else None
        share = min(1.0, rate / growth_rate) if rate and growth_rate and growth_rate > 0 else None
        join = joins.get(growing.key)
        where = _detail_site(join.detail) if join else None
        item_type = detail.get("item_type")
        holder = growing.key + (" (lru_cache)" if kind.startswith("lru_cache") else "")
        what = f"{item_type} entries" if item_type else "entries"
        evidence = (f"{kind} {growing.key}: {growing.first:,.0f} → {growing.last:,.0f} entries "
                    f"over the recent window, +{growing.per_s:,.1f}/s")
        if entry_bytes:
            evidence += f"; about {format_bytes(entry_bytes)} per entry (the newest, measured)"
        if join:
            stack = _stack_text(join.detail.get("stack"))
            evidence += f"; its newest entries were allocated at {stack}"
        found.append(Finding(
            kind="container",
            title=f"{holder} keeps growing in {process.label}: +{growing.per_s:,.1f} {what}/s"
                  + (f" ({format_bytes(rate)}/s)" if rate else ""),
            where=where, holder=holder, type=item_type, rate_bytes_per_s=rate, share=share,
            evidence=evidence, advice=_container_advice(kind, holder, item_type),
            pid=process.pid))
    return sorted(found, key=lambda f: -(f.rate_bytes_per_s or 0.0))


CALLBACK_TYPES = ("function", "method", "builtin_function_or_method", "functools.partial")
LISTENER_WORDS = ("subscriber", "listener", "handler", "callback", "observer", "hook")


def _container_advice(kind: str, holder: str, item_type: str | None) -> str:
    if kind.startswith("lru_cache"):
        advice = (f"{holder} is an unbounded functools.lru_cache: give it a maxsize "
                  "(functools.lru_cache(maxsize=N)) or a TTL (cachetools.TTLCache).")
        if kind == "lru_cache_method":
            advice += (" On a method it also keeps every `self` it was called with alive: "
                       "move the cache off the method (a module-level function of the "
                       "arguments that matter), or cache per instance.")
        return advice
    name = holder.rsplit(".", 1)[-1].lower()
    if item_type in CALLBACK_TYPES or any(word in name for word in LISTENER_WORDS):
        return (f"Listeners added to {holder} are never removed: unsubscribe when the "
                "subscriber is done, or hold subscribers with weakref.WeakSet / "
                "weakref.WeakMethod.")
    if kind == "list" or kind == "deque":
        return (f"Nothing ever removes items from {holder}. Bound it "
                "(collections.deque(maxlen=N)), drain it when the work is done, or stream "
                "the records out (a log, a file, a queue) instead of keeping them.")
    return (f"Entries added to {holder} are never removed. Bound it (cachetools.LRUCache / "
            "TTLCache, functools.lru_cache(maxsize=N)), delete entries when their work is "
            "done, or key it weakly (weakref.WeakValueDictionary).")


def site_findings(process: ProcessSeries, growth_rate: float | None,
                  holders: list[Finding]) -> list[Finding]:
    """The lines whose allocations stay alive, ranked by their share of what survived the
    tracemalloc windows; the first frame in the user's code is `where`.

    Allocations made below a growing container's allocation line (the fields of the entries
    it keeps) belong to that container's finding and are not repeated here."""
    held = {h.where for h in holders if h.where}
    minimum = SITE_MIN_SHARE_BESIDE_HOLDER if holders else SITE_MIN_SHARE
    rows = process.attribution.get("site", [])
    if not rows:
        return []
    windows: dict[float, dict] = {}
    by_site: dict[str, list[AttributionRow]] = {}
    for row in rows:
        if not _net_growth(row.detail):
            continue
        windows[row.t] = row.detail
        by_site.setdefault(row.key, []).append(row)
    retained = sum(float(d.get("window_bytes") or 0) for d in windows.values())
    seconds = sum(float(d.get("window_s") or 0) for d in windows.values())
    if retained <= 0:
        return []
    found = []
    for site_rows in by_site.values():
        kept = sum(float(r.bytes or 0) for r in site_rows)
        share = kept / retained
        where = _detail_site(site_rows[-1].detail)
        stack = {format_site(frame) for frame in site_rows[-1].detail.get("stack") or []}
        if share < minimum or where is None or held & (stack | {where}):
            continue
        rate = share * growth_rate if growth_rate and growth_rate > 0 else None
        blocks = sum(float(r.count or 0) for r in site_rows)
        found.append(Finding(
            kind="site",
            title=f"{where} allocates {share:.0%} of what stays alive in {process.label}"
                  + (f" (about {format_bytes(rate)}/s)" if rate else ""),
            where=where, holder=process.label, rate_bytes_per_s=rate, share=share,
            evidence=f"{format_bytes(kept)} in {blocks:,.0f} blocks allocated there were still "
                     f"alive at the end of {len(windows)} tracemalloc window"
                     f"{'s' if len(windows) != 1 else ''} ({seconds:.2f} s in all), out of "
                     f"{format_bytes(retained)} retained; stack: "
                     f"{_stack_text(site_rows[-1].detail.get('stack'), 10)}",
            advice="This line allocates what the process keeps. Follow the objects it makes: "
                   "where are they stored, and who removes them?",
            pid=process.pid))
    return sorted(found, key=lambda f: -(f.share or 0.0))


def _net_growth(window: dict) -> bool:
    """Whether the heap grew during the window by a fair share of what survived it."""
    delta, survivors = window.get("heap_delta_blocks"), window.get("window_blocks")
    if delta is None or not survivors:
        return True  # not measured (older recordings): take the window as it is
    return delta >= NET_GROWTH_SHARE * survivors


def thread_evidence(process: ProcessSeries, since: float) -> dict | None:
    """The thread group that grows: its name pattern, start site and blocking line."""
    return _top_group(process.attribution.get("threads", []), since)


def task_evidence(process: ProcessSeries, since: float) -> dict | None:
    """The asyncio task group that grows: coroutine, await line, creation site."""
    return _top_group(process.attribution.get("tasks", []), since)


def _top_group(rows: list[AttributionRow], since: float) -> dict | None:
    growing = growing_series(rows, since, min_growth=GROUP_MIN_GROWTH)
    if not growing:
        return None
    top = growing[0]
    return {**top.rows[-1].detail, "count": top.last, "first": top.first, "per_s": top.per_s}


def cycle_types(process: ProcessSeries) -> list[tuple[str, float, float]]:
    """From the latest report while gc was off: (type, objects in generation 0, share of
    the sampled ones found in a reference cycle), most numerous first."""
    rows = process.attribution.get("cycles", [])
    if not rows:
        return []
    latest = rows[-1].t
    return [(r.key, float(r.count or 0), float(r.detail.get("in_cycles") or 0))
            for r in rows if r.t == latest]


def top_site(process: ProcessSeries) -> str | None:
    """The line that retained most across the windows (for findings that have no holder)."""
    sites = site_findings(process, None, [])
    return sites[0].where if sites else None


def largest_holders(process: ProcessSeries, limit: int = 1) -> list[Finding]:
    """The biggest containers at the end of a run that does not leak (a plateau's holders)."""
    rows = process.attribution.get("container", [])
    if not rows:
        return []
    latest: dict[str, AttributionRow] = {}
    for row in rows:
        latest[row.key] = row
    sized = [(float(r.count or 0) * float(r.bytes or 0), r) for r in latest.values()]
    sized = sorted((s for s in sized if s[0] >= HOLDER_MIN_BYTES), key=lambda s: -s[0])
    found = []
    for total, row in sized[:limit]:
        kind = row.detail.get("container") or "container"
        maxsize = row.detail.get("maxsize")
        holder = row.key + (" (lru_cache)" if kind.startswith("lru_cache") else "")
        bounded = (f", at its maxsize of {maxsize:,}" if maxsize and row.count
                   and row.count >= maxsize else "")
        found.append(Finding(
            kind="container",
            title=f"Largest holder in {process.label}: {holder}, {row.count:,.0f} entries, "
                  f"about {format_bytes(total)}{bounded} (not growing)",
            holder=holder, type=row.detail.get("item_type"), pid=process.pid,
            evidence=f"{kind} of {row.count:,.0f} entries, about "
                     f"{format_bytes(row.bytes or 0)} each (measured on the newest)",
            advice="Not a leak: this is where the memory sits. Shrink the entries or the bound "
                   "if the plateau is too high."))
    return found


def type_finding(process: ProcessSeries, since: float, reason: str) -> Finding | None:
    """The types most often found about to be promoted over the recent window."""
    per_histogram: dict[str, float] = {}
    bytes_per_histogram: dict[str, float] = {}
    for name, reports in process.types.items():
        recent = [r for r in reports if r[0] >= since]
        if recent:
            histograms = sum(r[2] for r in recent)
            per_histogram[name] = sum(r[1] for r in recent) / histograms
            sizes = [r[3] for r in recent if np.isfinite(r[3])]
            if sizes:
                bytes_per_histogram[name] = sum(sizes) / histograms
    if not per_histogram:
        return None
    ranked = sorted(per_histogram.items(), key=lambda item: -item[1])
    # A person recognises their own class before the lists and dicts inside it: a user type
    # leads unless builtins outnumber it more than two to one.
    name, count = max(ranked, key=lambda item: item[1] * (2 if "." in item[0] else 1))
    total = sum(per_histogram.values())
    listing = ", ".join(
        f"{n} {c:,.0f}" + (f" ({format_bytes(bytes_per_histogram[n])})"
                          if n in bytes_per_histogram else "")
        for n, c in ranked[:6])
    census = _census_line(process, name)
    return Finding(
        kind="type", type=name, holder=process.label, pid=process.pid,
        title=f"{name} objects pile up in {process.label}: about {count:,.0f} survive into the "
              "old generation at every generation-1 collection",
        evidence=f"objects (shallow bytes) about to be promoted, per generation-1 collection: "
                 f"{listing}; Python heap: {reason}{census}",
        advice=f"Something keeps every {name}: look for a module-level dict, list or cache "
               "that gains them and never drops them. Bound it (functools.lru_cache(maxsize=N), "
               "cachetools.LRUCache/TTLCache, collections.deque(maxlen=N)) or remove entries "
               "when their work is done.",
        share=count / total if total else None,
    )


def _census_line(process: ProcessSeries, name: str) -> str:
    """'; census: 120,000 → 480,000 UserSession (…)' from the full type census, if taken."""
    rows = [r for r in process.attribution.get("census", []) if r.key == name]
    if len(rows) < 2:
        return ""
    first, last = rows[0], rows[-1]
    return (f"; heap census: {first.count:,.0f} → {last.count:,.0f} {name} "
            f"({format_bytes(first.bytes or 0)} → {format_bytes(last.bytes or 0)} shallow) "
            f"from {first.t:.0f} s to {last.t:.0f} s")


def _median(values: list) -> float | None:
    return float(np.median(values)) if values else None
