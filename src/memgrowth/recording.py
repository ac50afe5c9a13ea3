"""The recording: one SQLite file, append-only, the single source of truth.

Every sample is committed the moment it is written (WAL mode, synchronous=NORMAL), so a
SIGKILL of the target or of memgrowth loses at most the sample in flight. A finished
recording is checkpointed back into a single file. The schema is documented in
docs/recording.md; bump SCHEMA_VERSION on any change and keep old versions readable.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from memgrowth.errors import UserError

SCHEMA_VERSION = 2
APPLICATION_ID = 0x4D475257  # "MGRW": lets `file`-like tools and we tell our files apart

# Column lists are the contract between probes, recorder and readers: one place only.
TABLES: dict[str, tuple[str, ...]] = {
    "os_samples": (
        "t", "pid", "rss", "uss", "pss", "swap", "vms", "rss_anon", "rss_file", "rss_shmem",
        "threads", "fds", "cpu_s",
    ),
    "host_samples": (
        "t", "mem_total", "mem_available", "cgroup_version", "cgroup_path", "cgroup_usage",
        "cgroup_limit", "cgroup_working_set", "cgroup_oom_kills",
    ),
    "agent_samples": (
        "t", "pid", "allocated_blocks", "gc_enabled", "gc_threshold0", "gc_threshold1",
        "gc_threshold2", "gc_count0", "gc_count1", "gc_count2", "gc_collections0",
        "gc_collections1", "gc_collections2", "gc_collected", "gc_uncollectable", "gc_objects",
        "threads", "asyncio_tasks", "malloc_in_use", "malloc_free", "malloc_mmap", "agent_cpu_s",
        "agent_max_pause_s",
    ),
    "gc_events": ("t", "pid", "generation", "duration_s", "collected", "uncollectable",
                  "heap_after"),
    "type_samples": ("t", "pid", "type_name", "promoted", "histograms", "promoted_bytes"),
    # The agent's attribution reports, one row per item (see docs/recording.md for the kinds).
    "attribution": ("t", "pid", "kind", "key", "count", "bytes", "detail"),
    # The Go probe: runtime.MemStats from expvar and the goroutine count, per poll…
    "go_samples": (
        "t", "pid", "alloc", "total_alloc", "sys", "mallocs", "frees", "heap_alloc", "heap_sys",
        "heap_idle", "heap_inuse", "heap_released", "heap_objects", "stack_inuse", "stack_sys",
        "mspan_inuse", "mspan_sys", "mcache_inuse", "mcache_sys", "buck_hash_sys", "gc_sys",
        "other_sys", "next_gc", "last_gc_ns", "num_gc", "num_forced_gc", "pause_total_ns",
        "last_pause_ns", "gc_cpu_fraction", "goroutines", "polled_ns",
    ),
    # …and its profiles as served (heap: gzipped profile.proto; goroutine: debug=1 text).
    "go_profiles": ("t", "pid", "kind", "data"),
    # `run --gctrace`: one row per GODEBUG=gctrace=1 line of the root (sizes in bytes).
    "gctrace": ("t", "pid", "gc", "at_s", "heap_start", "heap_end", "heap_live", "goal",
                "stacks", "globals", "procs", "pause_ms", "cpu_percent", "forced"),
    "events": ("t", "pid", "kind", "detail"),
}

_TEXT_COLUMNS = {"cgroup_path", "kind", "detail", "type_name", "key"}
_REAL_COLUMNS = {"t", "cpu_s", "duration_s", "agent_cpu_s", "agent_max_pause_s", "bytes",
                 "gc_cpu_fraction", "at_s", "pause_ms"}
_BLOB_COLUMNS = {"data"}
# Profiles are big: a reader keeps the first and the last of each kind per process.
_FIRST_AND_LAST = {"go_profiles": ("pid", "kind")}


def _column_sql(name: str) -> str:
    kind = "TEXT" if name in _TEXT_COLUMNS else "REAL" if name in _REAL_COLUMNS else \
        "BLOB" if name in _BLOB_COLUMNS else "INTEGER"
    return f"{name} {kind}"


_SCHEMA = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE processes (
        pid INTEGER NOT NULL, ppid INTEGER, create_time REAL NOT NULL, cmdline TEXT,
        exe TEXT, runtime TEXT, first_t REAL NOT NULL, last_t REAL NOT NULL,
        exit_code INTEGER, exit_signal INTEGER, PRIMARY KEY (pid, create_time))""",
    *(
        f"CREATE TABLE {table} ({', '.join(_column_sql(c) for c in columns)})"
        for table, columns in TABLES.items()
    ),
    "CREATE INDEX os_samples_pid_t ON os_samples (pid, t)",
    "CREATE INDEX agent_samples_pid_t ON agent_samples (pid, t)",
    "CREATE INDEX attribution_pid_kind ON attribution (pid, kind)",
]


@dataclass
class ProcessInfo:
    """One process of the recorded tree, as first seen and last seen."""

    pid: int
    ppid: int | None
    create_time: float
    cmdline: list[str]
    exe: str | None = None
    runtime: str | None = None
    first_t: float = 0.0
    last_t: float = 0.0
    exit_code: int | None = None
    exit_signal: int | None = None


class RecordingWriter:
    """Appends samples to a new recording, committing each write.

    The file is created exclusively and held under an advisory lock, so a second memgrowth
    cannot write the same recording.
    """

    def __init__(self, path: str, meta: dict[str, Any], overwrite: bool = False) -> None:
        self.path = path
        self._lock_fd = _create_locked(path, overwrite)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            with self._transaction():
                for statement in _SCHEMA:
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                self._db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                meta = {"schema_version": SCHEMA_VERSION, **meta}
                self._db.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [(k, json.dumps(v)) for k, v in meta.items()],
                )
        except sqlite3.Error as exc:
            os.close(self._lock_fd)
            raise UserError(f"cannot write recording {path}: {exc}") from None
        self._inserts = {
            table: f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            for table, cols in TABLES.items()
        }
        self.closed = False

    @contextlib.contextmanager
    def _transaction(self):
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def write(self, rows: dict[str, Sequence[dict[str, Any]]]) -> None:
        """Append rows to several tables in one committed transaction."""
        with self._transaction():
            for table, table_rows in rows.items():
                if not table_rows:
                    continue
                columns = TABLES[table]
                self._db.executemany(
                    self._inserts[table], [tuple(r.get(c) for c in columns) for r in table_rows]
                )

    def event(self, t: float, kind: str, pid: int | None = None, **detail: Any) -> None:
        """Record a lifecycle event (start, exec, exit, oom_kill, agent, stop…)."""
        self.write({"events": [{"t": t, "pid": pid, "kind": kind,
                                "detail": json.dumps(detail, default=str)}]})

    def upsert_process(self, info: ProcessInfo) -> None:
        """Insert a newly seen process, or update when it was last seen and how it ended."""
        with self._transaction():
            self._db.execute(
                """INSERT INTO processes VALUES (?,?,?,?,?,?,?,?,?,?)
                   ON CONFLICT (pid, create_time) DO UPDATE SET last_t=excluded.last_t,
                   cmdline=excluded.cmdline, exe=coalesce(excluded.exe, exe),
                   runtime=coalesce(excluded.runtime, runtime),
                   exit_code=coalesce(excluded.exit_code, exit_code),
                   exit_signal=coalesce(excluded.exit_signal, exit_signal)""",
                (info.pid, info.ppid, info.create_time, json.dumps(info.cmdline), info.exe,
                 info.runtime, info.first_t, info.last_t, info.exit_code, info.exit_signal),
            )

    def set_meta(self, **values: Any) -> None:
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [(k, json.dumps(v, default=str)) for k, v in values.items()],
            )

    def close(self) -> None:
        """Fold the write-ahead log back so the recording is one self-contained file."""
        if self.closed:
            return
        self.closed = True
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.Error:
            pass  # the data is committed in the WAL; readers recover it
        finally:
            self._db.close()
            os.close(self._lock_fd)


def _create_locked(path: str, overwrite: bool) -> int:
    """Create (or, with overwrite, reuse) the file and take an exclusive advisory lock."""
    flags = os.O_RDWR | os.O_CREAT | (0 if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o644)
    except FileExistsError:
        raise UserError(f"{path} already exists: choose another --out or remove it") from None
    except OSError as exc:
        raise UserError(f"cannot write recording {path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise UserError(f"{path} is being written by another memgrowth") from None
    if overwrite:
        os.ftruncate(fd, 0)
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path + suffix)
    return fd


@dataclass
class Recording:
    """A recording read back into memory: meta, processes and every table's rows."""

    path: str
    meta: dict[str, Any]
    processes: list[ProcessInfo]
    # Column-oriented: table -> column -> values in time order. Analysis reads columns; a
    # day at one sample a second is a few hundred thousand rows, too many for dicts.
    tables: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    damaged: list[str] = field(default_factory=list)  # tables cut short by damage

    @property
    def schema_version(self) -> int:
        return int(self.meta.get("schema_version", 0))

    def rows(self, table: str, pid: int | None = None) -> list[dict[str, Any]]:
        """Rows of one table in time order as dicts, optionally of one process."""
        columns = self.tables.get(table, {})
        names = list(columns)
        rows = [dict(zip(names, values, strict=True))
                for values in zip(*columns.values(), strict=True)]
        return rows if pid is None else [r for r in rows if r.get("pid") == pid]

    def column(self, table: str, name: str, pid: int | None = None) -> list[Any]:
        """One column of a table in time order, optionally of one process."""
        columns = self.tables.get(table, {})
        values = columns.get(name, [])
        if pid is None:
            return list(values)
        return [v for v, p in zip(values, columns.get("pid", []), strict=True) if p == pid]

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Events with their detail decoded, optionally of one kind."""
        out = []
        for row in self.rows("events"):
            if kind is None or row["kind"] == kind:
                detail = _loads(row.get("detail")) or {}
                out.append({**row, "detail": detail if isinstance(detail, dict) else {}})
        return out

    def until(self, t: float) -> Recording:
        """The recording as it stood at time t: for verdicts over time."""
        tables = {}
        for table, columns in self.tables.items():
            keep = [i for i, value in enumerate(columns.get("t", [])) if value <= t]
            tables[table] = {name: [values[i] for i in keep] for name, values in columns.items()}
        meta = {k: v for k, v in self.meta.items() if k != "duration_s"}
        return Recording(self.path, meta, self.processes, tables, list(self.damaged))

    @property
    def root_pid(self) -> int | None:
        return self.meta.get("root_pid")


def _loads(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None


def open_recording(path: str) -> Recording:
    """Read a recording, including one cut off by a kill; raise UserError if it is not one."""
    if not os.path.exists(path):
        raise UserError(f"{path}: no such recording")
    if os.path.isdir(path):
        raise UserError(f"{path} is a folder, not a recording")
    try:
        with open(path, "rb") as handle:
            header = handle.read(16)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    if header != b"SQLite format 3\x00":
        raise UserError(f"{path} is not a memgrowth recording (not an SQLite file)")
    try:
        db = _connect_for_reading(path)
    except sqlite3.Error as exc:
        raise UserError(f"{path} cannot be opened as a recording: {exc}") from None
    try:
        return _read(db, path)
    finally:
        db.close()


def _connect_for_reading(path: str) -> sqlite3.Connection:
    # Read-write lets SQLite replay a write-ahead log left by a killed recorder; fall back
    # to read-only for files we may not write.
    if os.access(path, os.W_OK) and os.access(os.path.dirname(os.path.abspath(path)), os.W_OK):
        return sqlite3.connect(path, isolation_level=None)
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)


def _read(db: sqlite3.Connection, path: str) -> Recording:
    try:
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
    except sqlite3.Error as exc:
        raise UserError(f"{path} is not a memgrowth recording or is damaged ({exc})") from None
    if app_id != APPLICATION_ID:
        raise UserError(f"{path} is an SQLite file but not a memgrowth recording")
    try:
        meta = {k: _loads(v) for k, v in db.execute("SELECT key, value FROM meta")}
    except sqlite3.Error as exc:
        raise UserError(f"{path}: the recording is damaged beyond reading ({exc})") from None
    if "schema_version" not in meta:
        raise UserError(f"{path}: the recording is damaged (no schema version)")
    version = int(meta["schema_version"])
    if version > SCHEMA_VERSION:
        raise UserError(
            f"{path} uses recording schema {version}, newer than this memgrowth reads "
            f"({SCHEMA_VERSION}): upgrade memgrowth"
        )
    recording = Recording(path=path, meta=meta, processes=[])
    for table, columns in TABLES.items():
        # A column this file does not have (added later to its schema version) reads as NULL.
        present = {row[1] for row in _salvage(db, f"PRAGMA table_info({table})")[0]}
        if not present:  # a table added after this file was written
            recording.tables[table] = {c: [] for c in columns}
            continue
        selected = ", ".join(c if c in present else "NULL" for c in columns)
        where = ""
        if table in _FIRST_AND_LAST:
            group = ", ".join(_FIRST_AND_LAST[table])
            where = (f" WHERE rowid IN (SELECT min(rowid) FROM {table} GROUP BY {group} "
                     f"UNION SELECT max(rowid) FROM {table} GROUP BY {group})")
        rows, complete = _salvage(db, f"SELECT {selected} FROM {table}{where} ORDER BY rowid")
        # Rows are appended nearly in time order (agents report late); sort so readers can
        # rely on it. Rows without a time are dropped: they cannot be placed.
        rows = sorted((r for r in rows if r[0] is not None), key=lambda r: r[0])
        values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
        recording.tables[table] = {c: list(v) for c, v in zip(columns, values, strict=True)}
        if not complete:
            recording.damaged.append(table)
    proc_rows, complete = _salvage(
        db, "SELECT pid, ppid, create_time, cmdline, exe, runtime, first_t, last_t, exit_code, "
        "exit_signal FROM processes ORDER BY first_t"
    )
    if not complete:
        recording.damaged.append("processes")
    for row in proc_rows:
        cmdline = _loads(row[3])
        recording.processes.append(ProcessInfo(
            pid=row[0], ppid=row[1], create_time=row[2],
            cmdline=cmdline if isinstance(cmdline, list) else [], exe=row[4], runtime=row[5],
            first_t=row[6], last_t=row[7], exit_code=row[8], exit_signal=row[9],
        ))
    return recording


def _salvage(db: sqlite3.Connection, query: str) -> tuple[list[tuple], bool]:
    """Fetch rows until the end or the first damaged page; report whether all were read."""
    rows: list[tuple] = []
    try:
        cursor = db.execute(query)
        for row in cursor:
            rows.append(row)
    except sqlite3.Error:
        return rows, False
    return rows, True
