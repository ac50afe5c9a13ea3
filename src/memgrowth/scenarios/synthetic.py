"""Synthetic recordings for the tests and benchmarks that need a long one without waiting a
day for it: a Python service recorded at one sample a second (OS, host and agent samples,
a young collection every 2 s and a full one every minute, a slow leak under a GC sawtooth)."""

from __future__ import annotations

import numpy as np

from memgrowth.recording import ProcessInfo, RecordingWriter

TRUE_RATE = 50.0  # bytes per second


def write_day(path: str, hours: float = 24.0) -> int:
    """Write the recording; the number of seconds it covers."""
    seconds = int(hours * 3600)
    writer = RecordingWriter(path, {"root_pid": 7, "command": ["python", "service.py"],
                                    "duration_s": seconds})
    writer.upsert_process(ProcessInfo(7, 1, 1.0, ["python", "service.py"], None,
                                      runtime="python", first_t=0, last_t=seconds))
    rng = np.random.default_rng(1)
    chunk = 3600
    for start in range(0, seconds, chunk):
        t = np.arange(start, min(start + chunk, seconds), dtype=float)
        rss = 300e6 + TRUE_RATE * t + 20e6 * ((t % 120) / 120) + rng.normal(0, 1e6, len(t))
        blocks = 2e6 + 0.4 * t + 1e5 * ((t % 120) / 120)
        writer.write({
            "os_samples": [{"t": float(a), "pid": 7, "rss": int(b), "uss": int(b * 0.9),
                            "rss_anon": int(b * 0.8), "rss_file": int(b * 0.2),
                            "rss_shmem": 0, "threads": 12}
                           for a, b in zip(t, rss, strict=True)],
            "host_samples": [{"t": float(a), "mem_total": 8 << 30} for a in t],
            "agent_samples": [{"t": float(a), "pid": 7, "allocated_blocks": int(b),
                               "malloc_in_use": int(b * 100), "malloc_free": 1 << 20,
                               "gc_enabled": 1, "threads": 12, "gc_collections0": int(a / 2),
                               "gc_collections1": 0, "gc_collections2": int(a / 60)}
                              for a, b in zip(t, blocks, strict=True)],
            "gc_events": [{"t": float(a), "pid": 7, "generation": 2 if a % 60 == 0 else 0,
                           "duration_s": 0.02 if a % 60 == 0 else 0.0004,
                           "collected": 100, "uncollectable": 0} for a in t[::2]],
        })
    writer.close()
    return seconds
