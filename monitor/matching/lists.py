"""Hash-list files: read (csv, txt, jsonl) with every line validated, and write (csv, jsonl, txt).

A list is accepted whole or not at all: every physical line is checked, and if any is invalid the
reader raises one :class:`~monitor.errors.HashListError` naming the first bad line and listing the
others in ``more``. Line numbers are 1-based physical lines (a CSV header is line 1).

Columns (CSV header names and JSON keys, case-insensitive, trimmed): ``hash_type`` and ``hash``
(required), ``case_id``, ``label``, ``added_at`` (ISO 8601 date or date-time; naive means UTC),
``status`` (see :data:`STATUS_SYNONYMS`); every other non-empty field goes to ``metadata``.
The same hash twice in one file becomes one entry: later lines' non-empty fields win and metadata
is merged.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from monitor.domain import EntryStatus, HashType, ListEntry
from monitor.errors import HashListError
from monitor.matching.hashes import InvalidHash, normalize_hash, parse_hash_type

__all__ = [
    "FORMATS",
    "MAX_ERRORS",
    "MAX_LINE_BYTES",
    "STATUS_SYNONYMS",
    "dumps_hash_list",
    "parse_hash_list",
    "read_hash_list",
    "write_hash_list",
]

FORMATS = ("csv", "txt", "jsonl")
_EXTENSIONS = {".csv": "csv", ".txt": "txt", ".jsonl": "jsonl", ".ndjson": "jsonl"}
MAX_LINE_BYTES = 64 * 1024  # longer physical lines are refused
MAX_ERRORS = 1000  # invalid lines listed in one error (the count of all of them is not capped)
MAX_JSON_DEPTH = 16  # nesting allowed inside one JSON line

KNOWN_FIELDS = ("hash_type", "hash", "status", "case_id", "label", "added_at")
STATUS_SYNONYMS: Mapping[str, EntryStatus] = {
    "active": EntryStatus.ACTIVE,
    "live": EntryStatus.ACTIVE,
    "withdrawn": EntryStatus.WITHDRAWN,
    "removed": EntryStatus.WITHDRAWN,
    "deleted": EntryStatus.WITHDRAWN,
    "inactive": EntryStatus.WITHDRAWN,
}


class _LineError(Exception):
    """One line's problem; collected, never escapes this module."""


# -- reading ----------------------------------------------------------------------------------


def read_hash_list(
    path: Path, fmt: str | None = None, default_type: HashType | None = None
) -> list[ListEntry]:
    """Read and validate a whole hash-list file. ``fmt`` defaults to the file's extension."""
    source = str(path)
    if fmt is None:
        fmt = _EXTENSIONS.get(path.suffix.lower())
        if fmt is None:
            known = ", ".join(_EXTENSIONS)
            raise HashListError(
                source, 0, f"cannot tell the format from the extension (expected {known})"
            )
    try:
        with path.open("rb") as stream:
            return parse_hash_list(stream, source, fmt, default_type)
    except OSError as exc:
        raise HashListError(source, 0, f"cannot read: {exc.strerror or exc}") from exc


def parse_hash_list(
    stream: IO[bytes] | IO[str],
    source: str,
    fmt: str,
    default_type: HashType | None = None,
) -> list[ListEntry]:
    """Read a hash list from a binary (or, for tests, text) stream; ``source`` names it."""
    fmt = fmt.strip().lower()
    if fmt == "ndjson":
        fmt = "jsonl"
    if fmt not in FORMATS:
        raise HashListError(source, 0, f"unknown format {fmt!r} (expected one of csv, txt, jsonl)")
    if fmt == "txt" and default_type is None:
        raise HashListError(
            source, 0, "a txt list has no hash_type column: give the hash type of its lines"
        )
    collector = _Collector(source)
    lines = _physical_lines(stream, collector)
    if fmt == "csv":
        _read_csv(lines, collector, default_type)
    elif fmt == "txt":
        assert default_type is not None
        _read_txt(lines, collector, default_type)
    else:
        _read_jsonl(lines, collector, default_type)
    return collector.finish()


def _as_bytes(chunk: bytes | str) -> bytes:
    return chunk.encode("utf-8", "surrogateescape") if isinstance(chunk, str) else chunk


def _physical_lines(
    stream: IO[bytes] | IO[str], collector: _Collector
) -> Iterator[tuple[int, str]]:
    """Yield (line number, text without line ending); bad lines are recorded and skipped."""
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 2)
        if not raw:
            return
        number += 1
        data = _as_bytes(raw)
        ended = data.endswith(b"\n")
        if len(data.rstrip(b"\r\n")) > MAX_LINE_BYTES:
            collector.error(number, f"line longer than {MAX_LINE_BYTES} bytes")
            while not ended:  # skip the rest of this physical line
                rest = stream.readline(MAX_LINE_BYTES)
                if not rest:
                    break
                rest_bytes = (
                    rest.encode("utf-8", "surrogateescape") if isinstance(rest, str) else rest
                )
                ended = rest_bytes.endswith(b"\n")
            continue
        data = data.rstrip(b"\n").removesuffix(b"\r")
        if number == 1:
            data = data.removeprefix(b"\xef\xbb\xbf")
        nul = data.find(b"\x00")
        if nul >= 0:
            collector.error(number, f"NUL byte at byte {nul + 1}")
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            collector.error(number, f"invalid UTF-8 at byte {exc.start + 1}")
            continue
        yield number, text


@dataclass(slots=True)
class _Partial:
    hash_type: HashType
    value: str
    status: EntryStatus | None
    case_id: str | None
    label: str | None
    added_at: datetime | None
    metadata: dict[str, str] = field(default_factory=dict)
    line: int = 0

    def merge(self, later: _Partial) -> None:
        if later.status is not None:
            self.status = later.status
        if later.case_id is not None:
            self.case_id = later.case_id
        if later.label is not None:
            self.label = later.label
        if later.added_at is not None:
            self.added_at = later.added_at
        self.metadata.update(later.metadata)

    def entry(self) -> ListEntry:
        return ListEntry(
            hash_type=self.hash_type,
            value=self.value,
            status=self.status or EntryStatus.ACTIVE,
            case_id=self.case_id,
            label=self.label,
            added_at=self.added_at,
            metadata=self.metadata,
            line=self.line,
        )


class _Collector:
    """Merges valid lines and records invalid ones; once a line is invalid, stops keeping data."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.entries: dict[tuple[HashType, str], _Partial] = {}
        self.errors: list[tuple[int, str]] = []
        self.error_count = 0
        self.file_problem: str | None = None

    def error(self, line: int, problem: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append((line, problem))
        self.entries.clear()  # the file will be refused: do not hold its data

    def add(self, partial: _Partial) -> None:
        if self.error_count:
            return
        key = (partial.hash_type, partial.value)
        existing = self.entries.get(key)
        if existing is None:
            self.entries[key] = partial
        else:
            existing.merge(partial)

    def fail_file(self, problem: str) -> None:
        self.file_problem = problem
        self.entries.clear()

    def finish(self) -> list[ListEntry]:
        if self.file_problem is not None:
            raise HashListError(self.source, 0, self.file_problem, more=self.errors)
        if self.errors:
            first_line, first_problem = self.errors[0]
            more = self.errors[1:]
            if self.error_count > len(self.errors):
                first_problem += f" ({self.error_count} invalid lines in all)"
            raise HashListError(self.source, first_line, first_problem, more=more)
        return [partial.entry() for partial in self.entries.values()]


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _parse_status(text: str | None) -> EntryStatus | None:
    if text is None:
        return None
    status = STATUS_SYNONYMS.get(text.lower())
    if status is None:
        known = ", ".join(STATUS_SYNONYMS)
        raise _LineError(f"unknown status {text[:40]!r} (expected one of {known})")
    return status


def _parse_added_at(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _LineError(f"added_at {text[:40]!r} is not an ISO 8601 date or date-time") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _build(
    fields: Mapping[str, str | None],
    metadata: dict[str, str],
    line: int,
    default_type: HashType | None,
) -> _Partial:
    """Validate one record's known fields (already stripped, empty as None)."""
    type_text = fields.get("hash_type")
    try:
        if type_text is not None:
            hash_type = parse_hash_type(type_text)
        elif default_type is not None:
            hash_type = default_type
        else:
            raise _LineError("missing hash_type")
        hash_text = fields.get("hash")
        if hash_text is None:
            raise _LineError("missing hash")
        value = normalize_hash(hash_type, hash_text)
    except InvalidHash as exc:
        raise _LineError(str(exc)) from None
    return _Partial(
        hash_type=hash_type,
        value=value,
        status=_parse_status(fields.get("status")),
        case_id=fields.get("case_id"),
        label=fields.get("label"),
        added_at=_parse_added_at(fields.get("added_at")),
        metadata=metadata,
        line=line,
    )


def _read_txt(
    lines: Iterable[tuple[int, str]], collector: _Collector, default_type: HashType
) -> None:
    for number, text in lines:
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            collector.add(_build({"hash": stripped}, {}, number, default_type))
        except _LineError as exc:
            collector.error(number, str(exc))


def _split_csv(text: str) -> list[str]:
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error as exc:
        raise _LineError(f"malformed CSV ({exc}; quoted fields cannot span lines)") from None
    return rows[0] if rows else []


def _read_csv(
    lines: Iterable[tuple[int, str]], collector: _Collector, default_type: HashType | None
) -> None:
    header: list[str] | None = None
    for number, text in lines:
        if not text.strip():
            continue
        try:
            cells = _split_csv(text)
        except _LineError as exc:
            if header is None:
                collector.fail_file(f"line {number}: bad header: {exc}")
                return
            collector.error(number, str(exc))
            continue
        if header is None:
            header = [cell.strip().lower() for cell in cells]
            problem = _check_header(header, default_type)
            if problem is not None:
                collector.error(number, problem)
                return
            continue
        if len(cells) != len(header):
            collector.error(number, f"expected {len(header)} fields, got {len(cells)}")
            continue
        known: dict[str, str | None] = {}
        metadata: dict[str, str] = {}
        for name, cell in zip(header, cells, strict=True):
            value = _clean(cell)
            if name in KNOWN_FIELDS:
                known[name] = value
            elif name and value is not None:
                metadata[name] = value
        try:
            collector.add(_build(known, metadata, number, default_type))
        except _LineError as exc:
            collector.error(number, str(exc))
    if header is None:
        collector.fail_file("empty CSV: a header line with hash_type and hash is required")


def _check_header(header: list[str], default_type: HashType | None) -> str | None:
    required = ["hash"] if default_type is not None else ["hash_type", "hash"]
    missing = [name for name in required if name not in header]
    if missing:
        shown = ", ".join(header)[:120]
        return f"header lacks column {', '.join(missing)} (header: {shown})"
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            return f"column {name!r} appears twice in the header"
        seen.add(name)
    return None


def _json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion."""
    depth = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            depth = max(depth, level)
            if level > MAX_JSON_DEPTH:
                return level
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return depth


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _clean(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _read_jsonl(
    lines: Iterable[tuple[int, str]], collector: _Collector, default_type: HashType | None
) -> None:
    for number, text in lines:
        if not text.strip():
            continue
        try:
            try:
                record = json.loads(text)
            except RecursionError:
                raise _LineError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
            except ValueError as exc:
                raise _LineError(f"invalid JSON: {exc}") from None
            if not isinstance(record, dict):
                raise _LineError(f"expected a JSON object, got {type(record).__name__}")
            if _json_depth(record) > MAX_JSON_DEPTH:
                raise _LineError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            known: dict[str, str | None] = {}
            metadata: dict[str, str] = {}
            for raw_key, raw_value in record.items():
                key = raw_key.strip().lower()
                if key in known:
                    raise _LineError(f"key {key!r} appears twice")
                if key in KNOWN_FIELDS:
                    if raw_value is not None and (
                        isinstance(raw_value, bool) or not isinstance(raw_value, str | int)
                    ):
                        raise _LineError(f"{key} must be a string")
                    known[key] = _clean(None if raw_value is None else str(raw_value))
                elif key:
                    text_value = _json_text(raw_value)
                    if text_value is not None:
                        metadata[key] = text_value
            collector.add(_build(known, metadata, number, default_type))
        except _LineError as exc:
            collector.error(number, str(exc))


# -- writing ----------------------------------------------------------------------------------


class ListRecord(Protocol):
    """What an exported entry needs: satisfied by ListEntry and Entry."""

    @property
    def hash_type(self) -> HashType: ...
    @property
    def value(self) -> str: ...
    @property
    def status(self) -> EntryStatus: ...
    @property
    def case_id(self) -> str | None: ...
    @property
    def label(self) -> str | None: ...
    @property
    def added_at(self) -> datetime | None: ...
    @property
    def metadata(self) -> dict[str, str]: ...


def write_hash_list(entries: Iterable[ListRecord], stream: IO[str], fmt: str) -> int:
    """Write entries so that :func:`parse_hash_list` reads the same data back; returns the count.

    ``csv`` and ``jsonl`` keep every field; ``txt`` keeps only the values (one hash type only).
    """
    fmt = fmt.strip().lower()
    if fmt == "csv":
        return _write_csv(list(entries), stream)
    if fmt in ("jsonl", "ndjson"):
        count = 0
        for entry in entries:
            stream.write(json.dumps(_record(entry), ensure_ascii=False) + "\n")
            count += 1
        return count
    if fmt == "txt":
        count = 0
        types: set[HashType] = set()
        for entry in entries:
            types.add(entry.hash_type)
            if len(types) > 1:
                raise ValueError("a txt list holds one hash type; export csv or jsonl")
            stream.write(entry.value + "\n")
            count += 1
        return count
    raise ValueError(f"unknown format {fmt!r} (expected one of csv, txt, jsonl)")


def _record(entry: ListRecord) -> dict[str, str]:
    record = {
        "hash_type": entry.hash_type.value,
        "hash": entry.value,
        "status": entry.status.value,
        "case_id": entry.case_id or "",
        "label": entry.label or "",
        "added_at": entry.added_at.isoformat() if entry.added_at else "",
    }
    for key, value in entry.metadata.items():
        if not key.strip() or key.strip().lower() in KNOWN_FIELDS:
            raise ValueError(f"metadata key {key!r} cannot be exported as a column")
        record[key] = value
    return record


def _write_csv(entries: list[ListRecord], stream: IO[str]) -> int:
    extra = sorted({key for entry in entries for key in entry.metadata})
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow([*KNOWN_FIELDS, *extra])
    for entry in entries:
        record = _record(entry)
        row = [record.get(name, "") for name in (*KNOWN_FIELDS, *extra)]
        for cell in row:
            if "\n" in cell or "\r" in cell:
                raise ValueError(f"{entry.value}: a field holds a line break; export jsonl")
        writer.writerow(row)
    return len(entries)


def dumps_hash_list(entries: Iterable[ListRecord], fmt: str) -> str:
    """``write_hash_list`` into a string."""
    buffer = io.StringIO()
    write_hash_list(entries, buffer, fmt)
    return buffer.getvalue()
