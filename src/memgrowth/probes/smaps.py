"""Where the RSS is: /proc/PID/smaps grouped into heap, stacks, libraries, files, anonymous.

Answers "what are my first 10 MB made of?". Every mapping lands in exactly one row, so the
rows add up to the process's RSS.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from memgrowth.errors import UserError

_HEADER = re.compile(r"^[0-9a-f]+-[0-9a-f]+\s+\S+\s+\S+\s+\S+\s+\d+\s*(.*)$")
_LIBRARY = re.compile(r"\.so(\.[\w.]+)?$")
_KERNEL = {"[vdso]", "[vvar]", "[vsyscall]", "[vvar_vclock]", "[uprobes]"}


@dataclass
class CompositionRow:
    """One kind of memory (or one library) and its share of the process's memory, in bytes."""

    category: str  # heap | stack | library | file | anonymous | kernel | shared memory
    name: str
    mappings: int = 0
    size: int = 0
    rss: int = 0
    pss: int = 0
    private: int = 0
    swap: int = 0


@dataclass
class RssComposition:
    """RSS of a process split by mapping kind; rows sum to `total`."""

    pid: int
    rows: list[CompositionRow] = field(default_factory=list)

    @property
    def total(self) -> CompositionRow:
        return combine(self.rows, "total", "total")


def combine(rows: list[CompositionRow], category: str, name: str) -> CompositionRow:
    """One row holding the sums of several."""
    combined = CompositionRow(category, name)
    for row in rows:
        for figure in ("mappings", "size", "rss", "pss", "private", "swap"):
            setattr(combined, figure, getattr(combined, figure) + getattr(row, figure))
    return combined


def classify(pathname: str) -> tuple[str, str]:
    """Category and display name of a mapping from its smaps pathname."""
    name = pathname.strip()
    if name == "[heap]":
        return "heap", "[heap]"
    if name.startswith("[stack"):
        return "stack", "[stack]"
    if name in _KERNEL:
        return "kernel", name
    if not name or name.startswith("[anon"):
        return "anonymous", name or "anonymous mmaps"
    if name.startswith("/dev/shm/") or name.startswith("/SYSV") or name.startswith("/memfd:"):
        return "shared memory", name
    clean = name.removesuffix(" (deleted)")
    if _LIBRARY.search(os.path.basename(clean)):
        return "library", clean
    return "file", clean


def parse_smaps(text: str, pid: int = 0) -> RssComposition:
    """Group the mappings of an smaps text into composition rows (bytes)."""
    rows: dict[tuple[str, str], CompositionRow] = {}
    current: CompositionRow | None = None
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            key = classify(header.group(1))
            current = rows.setdefault(key, CompositionRow(*key))
            current.mappings += 1
            continue
        if current is None:
            continue
        label, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) != 2 or parts[1] != "kB" or not parts[0].isdigit():
            continue
        value = int(parts[0]) * 1024
        if label == "Size":
            current.size += value
        elif label == "Rss":
            current.rss += value
        elif label == "Pss":
            current.pss += value
        elif label in ("Private_Clean", "Private_Dirty"):
            current.private += value
        elif label == "Swap":
            current.swap += value
    ordered = sorted(rows.values(), key=lambda r: (-r.rss, r.category, r.name))
    return RssComposition(pid, ordered)


def read_smaps_text(pid: int, proc_root: str = "/proc") -> str:
    """The text of /proc/PID/smaps; UserError when it cannot be read."""
    path = os.path.join(proc_root, str(pid), "smaps")
    try:
        with open(path) as handle:
            text = handle.read()
    except FileNotFoundError:
        raise UserError(f"no process with pid {pid}") from None
    except PermissionError:
        raise UserError(
            f"no permission to read the memory map of pid {pid}: run as its user or as root"
        ) from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    return text
