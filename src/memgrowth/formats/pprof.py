"""pprof profiles: one data model, read from `profile.proto` (gzipped or not) or from the legacy
text formats Go still serves (`/debug/pprof/heap?debug=1`, count profiles such as
`goroutine?debug=1`), and written back as gzipped `profile.proto`.

The model follows google/pprof's `profile` package: samples point at locations (leaf first),
locations hold lines (inlined callees first, the caller last), lines point at functions.
Parsers raise ProfileError with one line on any malformed input; they never crash.
"""

from __future__ import annotations

import gzip
import io
import math
import re
import zlib
from dataclasses import dataclass, field

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from memgrowth.errors import UserError

MAX_UNCOMPRESSED = 1 << 30  # a profile bigger than 1 GiB uncompressed is refused


class ProfileError(UserError):
    """The bytes are not a profile memgrowth can read; the message says why."""


@dataclass(frozen=True)
class ValueType:
    type: str
    unit: str


@dataclass
class Function:
    id: int
    name: str = ""
    system_name: str = ""
    filename: str = ""
    start_line: int = 0


@dataclass
class Line:
    function: Function | None
    line: int = 0
    column: int = 0


@dataclass
class Mapping:
    id: int
    start: int = 0
    limit: int = 0
    offset: int = 0
    file: str = ""
    build_id: str = ""
    has_functions: bool = False
    has_filenames: bool = False
    has_line_numbers: bool = False
    has_inline_frames: bool = False


@dataclass
class Location:
    id: int
    mapping: Mapping | None = None
    address: int = 0
    lines: list[Line] = field(default_factory=list)
    is_folded: bool = False


@dataclass
class Sample:
    locations: list[Location]  # leaf first
    values: list[int]
    labels: dict[str, list[str]] = field(default_factory=dict)
    num_labels: dict[str, list[int]] = field(default_factory=dict)
    num_units: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Profile:
    sample_types: list[ValueType]
    samples: list[Sample] = field(default_factory=list)
    mappings: list[Mapping] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    period_type: ValueType | None = None
    period: int = 0
    time_nanos: int = 0
    duration_nanos: int = 0
    comments: list[str] = field(default_factory=list)
    default_sample_type: str = ""
    drop_frames: str = ""
    keep_frames: str = ""
    doc_url: str = ""

    def sample_index(self, name: str | None) -> int:
        """The index of a sample type by name (or number); the default type when None."""
        if not self.sample_types:
            raise ProfileError("the profile has no sample types")
        if name is None:
            name = self.default_sample_type or self.sample_types[-1].type
        names = [t.type for t in self.sample_types]
        if name in names:
            return names.index(name)
        if name.isdigit() and int(name) < len(names):
            return int(name)
        raise ProfileError(f"sample index {name!r} is not in this profile "
                           f"(it has {', '.join(names)})")


# --- profile.proto -----------------------------------------------------------------------------

def _message_classes() -> dict[str, type]:
    """The messages of google/pprof's proto/profile.proto (package perftools.profiles),
    declared field by field as published, built at run time (no generated code)."""
    I64, U64, BOOL, STR, MSG = (descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
                                descriptor_pb2.FieldDescriptorProto.TYPE_UINT64,
                                descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
                                descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                                descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE)
    repeated = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
    schema = {
        "Profile": [("sample_type", 1, MSG, "ValueType", True), ("sample", 2, MSG, "Sample", True),
                    ("mapping", 3, MSG, "Mapping", True), ("location", 4, MSG, "Location", True),
                    ("function", 5, MSG, "Function", True), ("string_table", 6, STR, None, True),
                    ("drop_frames", 7, I64, None, False), ("keep_frames", 8, I64, None, False),
                    ("time_nanos", 9, I64, None, False), ("duration_nanos", 10, I64, None, False),
                    ("period_type", 11, MSG, "ValueType", False), ("period", 12, I64, None, False),
                    ("comment", 13, I64, None, True), ("default_sample_type", 14, I64, None, False),
                    ("doc_url", 15, I64, None, False)],
        "ValueType": [("type", 1, I64, None, False), ("unit", 2, I64, None, False)],
        "Sample": [("location_id", 1, U64, None, True), ("value", 2, I64, None, True),
                   ("label", 3, MSG, "Label", True)],
        "Label": [("key", 1, I64, None, False), ("str", 2, I64, None, False),
                  ("num", 3, I64, None, False), ("num_unit", 4, I64, None, False)],
        "Mapping": [("id", 1, U64, None, False), ("memory_start", 2, U64, None, False),
                    ("memory_limit", 3, U64, None, False), ("file_offset", 4, U64, None, False),
                    ("filename", 5, I64, None, False), ("build_id", 6, I64, None, False),
                    ("has_functions", 7, BOOL, None, False),
                    ("has_filenames", 8, BOOL, None, False),
                    ("has_line_numbers", 9, BOOL, None, False),
                    ("has_inline_frames", 10, BOOL, None, False)],
        "Location": [("id", 1, U64, None, False), ("mapping_id", 2, U64, None, False),
                     ("address", 3, U64, None, False), ("line", 4, MSG, "Line", True),
                     ("is_folded", 5, BOOL, None, False)],
        "Line": [("function_id", 1, U64, None, False), ("line", 2, I64, None, False),
                 ("column", 3, I64, None, False)],
        "Function": [("id", 1, U64, None, False), ("name", 2, I64, None, False),
                     ("system_name", 3, I64, None, False), ("filename", 4, I64, None, False),
                     ("start_line", 5, I64, None, False)],
    }
    file = descriptor_pb2.FileDescriptorProto(name="memgrowth/profile.proto",
                                              package="perftools.profiles", syntax="proto3")
    for name, fields in schema.items():
        message = file.message_type.add(name=name)
        for field_name, number, kind, type_name, is_repeated in fields:
            entry = message.field.add(name=field_name, number=number, type=kind,
                                      label=repeated if is_repeated else None)
            if type_name:
                entry.type_name = f".perftools.profiles.{type_name}"
            if is_repeated and kind != MSG and kind != STR:
                entry.options.packed = True
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {name: message_factory.GetMessageClass(
        pool.FindMessageTypeByName(f"perftools.profiles.{name}")) for name in schema}


_MESSAGES: dict[str, type] | None = None


def _messages() -> dict[str, type]:
    global _MESSAGES
    if _MESSAGES is None:
        _MESSAGES = _message_classes()
    return _MESSAGES


def parse(data: bytes) -> Profile:
    """A profile from its bytes: gzipped or plain profile.proto, or a legacy text profile."""
    data = _gunzip(data) if data[:2] == b"\x1f\x8b" else data
    head = data[:200].lstrip()
    if head.startswith(b"heap profile:") or head.startswith(b"heap_v2/"):
        return parse_legacy_heap(data.decode("utf-8", "replace"))
    if re.match(rb"[\w ]+ profile: total \d+", head):
        return parse_legacy_count(data.decode("utf-8", "replace"))
    return _parse_proto(data)


def _gunzip(data: bytes) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
            out = handle.read(MAX_UNCOMPRESSED + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise ProfileError(f"not a readable gzip stream ({exc})") from None
    if len(out) > MAX_UNCOMPRESSED:
        raise ProfileError("the profile is larger than 1 GiB uncompressed")
    return out


def _parse_proto(data: bytes) -> Profile:
    message = _messages()["Profile"]()
    try:
        message.ParseFromString(data)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise ProfileError(f"not a pprof profile (protobuf: {exc})") from None
    strings = list(message.string_table)
    if not message.sample_type and not message.sample:
        raise ProfileError("not a pprof profile (no sample types, no samples)")
    if strings and strings[0] != "":
        raise ProfileError("malformed profile: string_table[0] must be empty")

    def text(index: int) -> str:
        if not 0 <= index < max(len(strings), 1):
            raise ProfileError(f"malformed profile: string index {index} out of range "
                               f"({len(strings)} strings)")
        return strings[index] if strings else ""

    functions = {f.id: Function(f.id, text(f.name), text(f.system_name), text(f.filename),
                                f.start_line) for f in message.function}
    mappings = {m.id: Mapping(m.id, m.memory_start, m.memory_limit, m.file_offset,
                              text(m.filename), text(m.build_id), m.has_functions,
                              m.has_filenames, m.has_line_numbers, m.has_inline_frames)
                for m in message.mapping}
    locations = {}
    for loc in message.location:
        if loc.mapping_id and loc.mapping_id not in mappings:
            raise ProfileError(f"malformed profile: location {loc.id} names unknown mapping "
                               f"{loc.mapping_id}")
        lines = []
        for line in loc.line:
            if line.function_id and line.function_id not in functions:
                raise ProfileError(f"malformed profile: location {loc.id} names unknown "
                                   f"function {line.function_id}")
            lines.append(Line(functions.get(line.function_id), line.line, line.column))
        locations[loc.id] = Location(loc.id, mappings.get(loc.mapping_id), loc.address, lines,
                                     loc.is_folded)
    sample_types = [ValueType(text(t.type), text(t.unit)) for t in message.sample_type]
    samples = []
    for raw in message.sample:
        if len(raw.value) != len(sample_types):
            raise ProfileError(f"malformed profile: a sample has {len(raw.value)} values for "
                               f"{len(sample_types)} sample types")
        try:
            stack = [locations[i] for i in raw.location_id]
        except KeyError as exc:
            raise ProfileError(f"malformed profile: unknown location id {exc}") from None
        sample = Sample(stack, list(raw.value))
        for label in raw.label:
            key = text(label.key)
            if label.str:
                sample.labels.setdefault(key, []).append(text(label.str))
            else:
                sample.num_labels.setdefault(key, []).append(label.num)
                sample.num_units.setdefault(key, []).append(text(label.num_unit))
        samples.append(sample)
    return Profile(
        sample_types=sample_types, samples=samples, mappings=list(mappings.values()),
        locations=list(locations.values()), functions=list(functions.values()),
        period_type=ValueType(text(message.period_type.type), text(message.period_type.unit))
        if message.HasField("period_type") else None,
        period=message.period, time_nanos=message.time_nanos,
        duration_nanos=message.duration_nanos, comments=[text(c) for c in message.comment],
        default_sample_type=text(message.default_sample_type),
        drop_frames=text(message.drop_frames), keep_frames=text(message.keep_frames),
        doc_url=text(message.doc_url))


def serialize(profile: Profile) -> bytes:
    """The profile as gzipped profile.proto, as Go and pprof write it."""
    messages = _messages()
    strings: dict[str, int] = {"": 0}

    def index(value: str) -> int:
        return strings.setdefault(value, len(strings))

    out = messages["Profile"]()
    for kind in profile.sample_types:
        out.sample_type.add(type=index(kind.type), unit=index(kind.unit))
    for sample in profile.samples:
        raw = out.sample.add(location_id=[loc.id for loc in sample.locations],
                             value=sample.values)
        for key, values in sample.labels.items():
            for value in values:
                raw.label.add(key=index(key), str=index(value))
        for key, numbers in sample.num_labels.items():
            units = sample.num_units.get(key, [])
            for i, number in enumerate(numbers):
                raw.label.add(key=index(key), num=number,
                              num_unit=index(units[i]) if i < len(units) else 0)
    for m in profile.mappings:
        out.mapping.add(id=m.id, memory_start=m.start, memory_limit=m.limit,
                        file_offset=m.offset, filename=index(m.file),
                        build_id=index(m.build_id), has_functions=m.has_functions,
                        has_filenames=m.has_filenames, has_line_numbers=m.has_line_numbers,
                        has_inline_frames=m.has_inline_frames)
    for loc in profile.locations:
        raw_loc = out.location.add(id=loc.id, mapping_id=loc.mapping.id if loc.mapping else 0,
                                   address=loc.address, is_folded=loc.is_folded)
        for line in loc.lines:
            raw_loc.line.add(function_id=line.function.id if line.function else 0,
                             line=line.line, column=line.column)
    for f in profile.functions:
        out.function.add(id=f.id, name=index(f.name), system_name=index(f.system_name),
                         filename=index(f.filename), start_line=f.start_line)
    if profile.period_type:
        out.period_type.type = index(profile.period_type.type)
        out.period_type.unit = index(profile.period_type.unit)
    out.period = profile.period
    out.time_nanos = profile.time_nanos
    out.duration_nanos = profile.duration_nanos
    out.comment.extend(index(c) for c in profile.comments)
    out.default_sample_type = index(profile.default_sample_type)
    out.drop_frames = index(profile.drop_frames)
    out.keep_frames = index(profile.keep_frames)
    out.doc_url = index(profile.doc_url)
    out.string_table.extend(strings)  # dict order is insertion order: index order
    return gzip.compress(out.SerializeToString())


# --- legacy text formats -------------------------------------------------------------------

_HEAP_HEADER = re.compile(r"heap profile: *(\d+): *(\d+) *\[ *(\d+): *(\d+) *\] *@ *"
                          r"(heap[_a-z0-9]*)/?(\d*)")
_HEAP_ROW = re.compile(r"(-?\d+): *(-?\d+) *\[ *(\d+): *(\d+) *] @([ x0-9a-f]*)")
_COUNT_HEADER = re.compile(r"([\w ]+) profile: total (\d+)")
_COUNT_ROW = re.compile(r"(\d+) @([ x0-9a-f]*)")
_MAP_SHORT = re.compile(r"(?P<start>[0-9a-f]+)-(?P<end>[0-9a-f]+):\s+(?P<path>\S.*)$")
_MAP_PROC = re.compile(r"(?P<start>[0-9a-f]+)-(?P<end>[0-9a-f]+)\s+\S+\s+(?P<offset>[0-9a-f]+)"
                       r"\s+\S+\s+\d+\s*(?P<path>.*)$")
# `#	0x4a1b2c	main.leak+0x2c	/src/main.go:42` under each record of a `debug=1` profile.
_SYMBOL = re.compile(r"#\s+0x([0-9a-f]+)\s+(\S+?)\+0x[0-9a-f]+\s+(.+):(\d+)\s*$")


def scale_heap_sample(count: int, size: int, rate: int) -> tuple[int, int]:
    """Undo heap sampling as pprof and the Go runtime do: a block of average size `avg` is
    sampled with probability 1 - exp(-avg/rate)."""
    if count == 0 or size == 0:
        return 0, 0
    if rate <= 1:
        return count, size
    average = size / count
    scale = 1 / (1 - math.exp(-average / rate))
    return int(count * scale), int(size * scale)


class _LegacyBuilder:
    """Locations, functions and one mapping shared by the samples of a legacy profile."""

    def __init__(self) -> None:
        self.mapping = Mapping(1, 0, 0xFFFFFFFFFFFFFFFF, 0)
        self.locations: dict[int, Location] = {}
        self.symbols: dict[int, tuple[str, str, int]] = {}

    def stack(self, addresses: str) -> list[Location]:
        stack = []
        for word in addresses.split():
            try:
                address = int(word, 16)
            except ValueError:
                raise ProfileError(f"malformed address {word[:40]!r}") from None
            # Return addresses point after the call: pprof takes one off to land in it.
            address = max(address - 1, 0)
            location = self.locations.get(address)
            if location is None:
                location = Location(len(self.locations) + 1, self.mapping, address)
                self.locations[address] = location
            stack.append(location)
        return stack

    def rows(self, lines: list[str]):
        """(index of the next line, line) of the record lines after the header; the `#`
        symbol comments are noted on the way."""
        for number, line in enumerate(lines[1:], start=2):
            line = line.strip()
            if line.startswith("#"):
                self.note_symbol(line)
            elif line:
                yield number, line

    def note_symbol(self, line: str) -> None:
        match = _SYMBOL.match(line)
        if match:
            self.symbols[int(match.group(1), 16)] = (match.group(2), match.group(3),
                                                    int(match.group(4)))

    def memory_map(self, lines: list[str]) -> None:
        """The process's mappings after `--- Memory map: ---` or `MAPPED_LIBRARIES:`, either
        `start-end: path` (with `name=value` variables) or /proc/PID/maps lines."""
        variables: dict[str, str] = {}
        mappings = []
        for line in lines:
            line = line.strip()
            if not line:
                continue
            variable = re.fullmatch(r"(\w+)=(.*)", line)
            if variable:
                variables[variable.group(1)] = variable.group(2)
                continue
            entry = _MAP_SHORT.match(line) or _MAP_PROC.match(line)
            if entry is None:
                continue
            path = entry.group("path").strip()
            for name, value in variables.items():
                path = path.replace("$" + name, value)
            offset = entry.groupdict().get("offset")
            mappings.append(Mapping(len(mappings) + 1, int(entry.group("start"), 16),
                                    int(entry.group("end"), 16),
                                    int(offset, 16) if offset else 0, path))
        if mappings:
            self.mappings = mappings

    def finish(self, profile: Profile) -> Profile:
        mappings = getattr(self, "mappings", None)
        if mappings:
            for location in self.locations.values():
                location.mapping = next((m for m in mappings
                                         if m.start <= location.address < m.limit), None)
        functions: dict[tuple[str, str], Function] = {}
        for location in self.locations.values():
            symbol = self.symbols.get(location.address + 1) or self.symbols.get(location.address)
            if symbol is None:
                continue
            name, filename, line = symbol
            function = functions.get((name, filename))
            if function is None:
                function = functions[(name, filename)] = Function(len(functions) + 1, name,
                                                                  name, filename)
            location.lines = [Line(function, line)]
        self.mapping.has_functions = bool(functions)
        profile.mappings = mappings or [self.mapping]
        profile.locations = list(self.locations.values())
        profile.functions = list(functions.values())
        return profile


def parse_legacy_heap(text: str) -> Profile:
    """`heap profile: …` text, as `/debug/pprof/heap?debug=1` serves it, unsampled as pprof
    does (the header's `heap/N` is twice the sampling rate; `heap_v2/N` is the rate)."""
    lines = text.splitlines()
    header = _HEAP_HEADER.match(lines[0].strip()) if lines else None
    if header is None:
        raise ProfileError("not a legacy heap profile (no `heap profile:` header)")
    kind, rate_text = header.group(5), header.group(6)
    rate = int(rate_text) if rate_text else 0
    if kind == "heap":
        rate //= 2
    two_columns = header.group(1, 2) == header.group(3, 4)
    if two_columns:
        sample_types = [ValueType("objects", "count"), ValueType("space", "bytes")]
    else:
        sample_types = [ValueType("alloc_objects", "count"), ValueType("alloc_space", "bytes"),
                        ValueType("inuse_objects", "count"), ValueType("inuse_space", "bytes")]
    builder = _LegacyBuilder()
    profile = Profile(sample_types=sample_types, period_type=ValueType("space", "bytes"),
                      period=rate)
    for number, line in builder.rows(lines):
        row = _HEAP_ROW.fullmatch(line)
        if row is None:
            if line.startswith("MAPPED_LIBRARIES") or line.startswith("--- Memory map"):
                builder.memory_map(lines[number:])
                break
            raise ProfileError(f"malformed heap profile line: {line[:80]!r}")
        inuse_count, inuse_bytes, alloc_count, alloc_bytes = (int(g) for g in row.group(1, 2, 3, 4))
        inuse = scale_heap_sample(inuse_count, inuse_bytes, rate)
        alloc = scale_heap_sample(alloc_count, alloc_bytes, rate)
        values = list(inuse) if two_columns else [*alloc, *inuse]
        block = 0
        if inuse_count and inuse_bytes:
            block = inuse_bytes // inuse_count
        elif alloc_count and alloc_bytes:
            block = alloc_bytes // alloc_count
        sample = Sample(builder.stack(row.group(5)), values)
        sample.num_labels["bytes"] = [block]
        profile.samples.append(sample)
    return builder.finish(profile)


def parse_legacy_count(text: str) -> Profile:
    """`goroutine profile: total N` (or threadcreate, or any count profile) with `debug=1`."""
    lines = text.splitlines()
    header = _COUNT_HEADER.match(lines[0].strip()) if lines else None
    if header is None:
        raise ProfileError("not a legacy count profile (no `… profile: total N` header)")
    name = header.group(1).strip()
    builder = _LegacyBuilder()
    profile = Profile(sample_types=[ValueType(name, "count")],
                      period_type=ValueType(name, "count"), period=1)
    for _, line in builder.rows(lines):
        row = _COUNT_ROW.fullmatch(line)
        if row is None:
            raise ProfileError(f"malformed {name} profile line: {line[:80]!r}")
        profile.samples.append(Sample(builder.stack(row.group(2)), [int(row.group(1))]))
    return builder.finish(profile)
