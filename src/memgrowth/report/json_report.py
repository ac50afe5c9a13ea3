"""The diagnosis as JSON: schema `memgrowth.diagnosis/1` (docs/diagnosis.md).

Stable field names for other programs; unknown values are null, never invented.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from memgrowth.analysis.diagnose import SCHEMA, Diagnosis
from memgrowth.errors import UserError


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, tuples become lists, numpy becomes Python."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_dict(diagnosis: Diagnosis) -> dict[str, Any]:
    """The documented JSON object of a diagnosis."""
    s = diagnosis.summary
    gc = diagnosis.gc
    forecast = diagnosis.forecast
    return _clean({
        "schema": SCHEMA,
        "target": {"pid": s.root_pid, "runtime": diagnosis.runtime, "command": s.command,
                   "processes": s.processes},
        "duration_s": round(s.duration_s, 3),
        "exit": {"code": s.exit_code, "signal": s.exit_signal, "oom_killed": s.oom_killed},
        "baseline": {"rss_bytes": s.baseline_rss, "heap_bytes": None,
                     "heap_blocks": diagnosis.baseline_heap_blocks,
                     "objects": diagnosis.baseline_objects,
                     "gc_count": diagnosis.baseline_gc_count},
        "peak": {"rss_bytes": s.peak_rss, "heap_bytes": None,
                 "heap_blocks": diagnosis.peak_heap_blocks},
        "verdict": diagnosis.verdict,
        "confidence": diagnosis.confidence,
        "reason": diagnosis.reason,
        "record_more_s": diagnosis.record_more_s,
        "growth": {"pattern": diagnosis.pattern, "metric": diagnosis.metric,
                   "rate_bytes_per_s": diagnosis.rate_bytes_per_s,
                   "rate_ci95": diagnosis.rate_ci95},
        "gc": None if gc is None else {
            "collections": gc.collections, "per_minute": gc.per_minute,
            "pause_p50_ms": gc.pause_p50_ms, "pause_p95_ms": gc.pause_p95_ms,
            "pause_p99_ms": gc.pause_p99_ms, "pause_max_ms": gc.pause_max_ms,
            "time_fraction": gc.time_fraction, "by_generation": gc.by_generation,
            "timeline": [{"t": t, "per_minute": rate, "heap_blocks": heap}
                         for t, rate, heap in gc.timeline],
        },
        "forecast": {"limit_bytes": forecast.limit_bytes, "limit_source": forecast.limit_source,
                     "seconds_to_limit": forecast.seconds_to_limit,
                     "seconds_to_limit_ci95": forecast.seconds_to_limit_ci95},
        "findings": [
            {k: v for k, v in dataclasses.asdict(f).items()} for f in diagnosis.findings
        ],
        "go": _go(diagnosis),
    })


def _go(diagnosis: Diagnosis) -> dict[str, Any] | None:
    """Where a Go root's RSS is, and its GC from MemStats (null for other runtimes)."""
    memory, gc = diagnosis.go_memory, diagnosis.go_gc
    if memory is None and gc is None:
        return None
    return {
        "memory": None if memory is None else {
            "rss_bytes": memory.rss, "heap_alloc_bytes": memory.heap_alloc,
            "heap_unused_bytes": memory.heap_unused,
            "heap_idle_kept_bytes": memory.heap_idle_kept,
            "heap_released_bytes": memory.heap_released, "stacks_bytes": memory.stacks,
            "runtime_metadata_bytes": memory.runtime_metadata, "other_bytes": memory.other,
            "sys_bytes": memory.sys, "goroutines": memory.goroutines},
        "gc": None if gc is None else dataclasses.asdict(gc),
    }


def write_json(diagnosis: Diagnosis, path: str) -> None:
    """Write the diagnosis JSON to PATH ('-' for standard output)."""
    write_json_object(to_dict(diagnosis), path)


def write_json_object(data: dict[str, Any], path: str) -> None:
    """Write a JSON object to PATH ('-' for standard output), NaN-free."""
    text = json.dumps(_clean(data), indent=2, ensure_ascii=False) + "\n"
    if path == "-":
        print(text, end="")
        return
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None
