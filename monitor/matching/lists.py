"""Hash-list files: read (csv, txt, jsonl) with every line validated, and write (csv, jsonl, txt).

A list is accepted whole or not at all: every physical line is checked, and if any is invalid the
reader raises one :class:`~monitor.errors.HashListError` naming the first bad line and listing the
others in ``more``. Line numbers are 1-based physical lines (a CSV header is line 1).

Columns (CSV header names and JSON keys, case-insensitive, trimmed): ``hash_type`` and ``hash``
(required), ``case_id``, ``label``, ``added_at`` (ISO 8601 date or date-time; naive means UTC),
``status`` (see :data:`STATUS_SYNONYMS`); every other non-empty field goes to ``metadata``.
The same hash twice in one file becomes one entry: later lines' non-empty fields win and metadata
is merged.

Videos are listed as timed frame PDQs (vPDQ style), one line per frame: ``hash_type`` ``vpdq``
(or ``pdq`` with a ``video_id``), ``hash`` the frame's PDQ, ``video_id`` (1 to 64 characters,
case kept), ``timestamp`` (seconds from the start) and optionally ``quality`` (PDQ quality
0-100). Every frame line of one video id becomes one :attr:`HashType.VPDQ` entry whose value is
the video id and whose frames are in time order (the same timestamp and PDQ twice count once);
its other fields merge like duplicate lines. On any other line ``video_id``, ``timestamp`` and
``quality`` are plain metadata (an MD5 list of videos often names the video).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from monitor.domain import EntryStatus, HashType, ListEntry, ListFrame
from monitor.errors import HashListError
from monitor.matching.hashes import InvalidHash, normalize_hash, parse_hash_type

__all__ = [
    "FORMATS",
    "MAX_ERRORS",
    "MAX_LINE_BYTES",
    "MAX_VIDEO_FRAMES",
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

MAX_VIDEO_FRAMES = 100_000  # distinct frames of one listed video (a day of video at 1/s)

ENTRY_FIELDS = ("hash_type", "hash", "status", "case_id", "label", "added_at")
# Read as fields of a video's frame line; on any other line they are kept as metadata.
VIDEO_FIELDS = ("video_id", "timestamp", "quality")
KNOWN_FIELDS = (*ENTRY_FIELDS, *VIDEO_FIELDS)
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
    if fmt == "txt" and default_type is HashType.VPDQ:
        raise HashListError(
            source,
            0,
            "a txt list cannot hold video frames (vpdq): each frame needs its video_id and "
            "timestamp; use a csv or jsonl list",
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
    # VPDQ: (timestamp, pdq) -> quality, in file order; a later line's quality wins.
    frames: dict[tuple[float, str], int | None] = field(default_factory=dict)

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
        for key, quality in later.frames.items():
            if quality is not None or key not in self.frames:
                self.frames[key] = quality

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
            frames=tuple(
                ListFrame(timestamp, pdq, quality)
                for (timestamp, pdq), quality in sorted(self.frames.items())
            ),
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
            if len(existing.frames) > MAX_VIDEO_FRAMES:
                del self.entries[key]  # the file will be refused; do not keep growing it
                raise _LineError(
                    f"video {_shorten(partial.value)!r} has more than {MAX_VIDEO_FRAMES} "
                    "distinct frames"
                )

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


def _parse_timestamp(text: str | None) -> float:
    if text is None:
        raise _LineError("a video frame needs a timestamp (seconds from the start)")
    try:
        if "_" in text:  # float() reads "1_0" as 10
            raise ValueError(text)
        seconds = float(text)
    except ValueError:
        raise _LineError(f"timestamp {_shorten(text)!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise _LineError(f"timestamp {_shorten(text)!r} must be a finite number >= 0")
    return seconds + 0.0  # -0.0 as 0.0


def _parse_quality(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        if "_" in text:
            raise ValueError(text)
        quality = int(text)
    except ValueError:
        raise _LineError(f"quality {_shorten(text)!r} is not a whole number") from None
    if not 0 <= quality <= 100:
        raise _LineError(f"quality {quality} is not between 0 and 100")
    return quality


def _build(
    fields: Mapping[str, str | None],
    metadata: dict[str, str],
    line: int,
    default_type: HashType | None,
    odd: Mapping[str, str] | None = None,
) -> _Partial:
    """Validate one record's known fields (already stripped, empty as None).

    A ``vpdq`` line, or a ``pdq`` line with a video id, is one frame of a listed video; on any
    other line the video fields go to ``metadata``. ``odd``: video fields whose (JSON) value is
    of a type a frame cannot use, with the problem, reported only if the line is a frame.
    """
    type_text = fields.get("hash_type")
    video_id = fields.get("video_id")
    try:
        if type_text is not None:
            hash_type = parse_hash_type(type_text)
        elif default_type is not None:
            hash_type = default_type
        else:
            raise _LineError("missing hash_type")
        hash_text = fields.get("hash")
        if hash_type is HashType.PDQ and video_id is not None:
            hash_type = HashType.VPDQ  # a frame of a listed video
        if hash_type is HashType.VPDQ:
            for name in VIDEO_FIELDS:
                if odd and name in odd:
                    raise _LineError(odd[name])
            if video_id is None:
                raise _LineError("a video frame (vpdq) needs a video_id")
            value = normalize_hash(HashType.VPDQ, video_id)
            timestamp = _parse_timestamp(fields.get("timestamp"))
            quality = _parse_quality(fields.get("quality"))
            if hash_text is None:
                raise _LineError("missing hash")
            frame = normalize_hash(HashType.PDQ, hash_text)
            frames = {(timestamp, frame): quality}
        else:
            if hash_text is None:
                raise _LineError("missing hash")
            value = normalize_hash(hash_type, hash_text)
            frames = {}
            for name in VIDEO_FIELDS:
                text = fields.get(name)
                if text is not None:
                    metadata[name] = text
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
        frames=frames,
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
            odd: dict[str, str] = {}
            for raw_key, raw_value in record.items():
                key = raw_key.strip().lower()
                if key in known:
                    raise _LineError(f"key {key!r} appears twice")
                if key in VIDEO_FIELDS:
                    # Metadata on most lines (kept as JSON text, as before); checked only when
                    # the line turns out to be a video frame.
                    known[key] = _json_text(raw_value)
                    problem = _odd_video_field(key, raw_value)
                    if problem is not None:
                        odd[key] = problem
                elif key in KNOWN_FIELDS:
                    if raw_value is not None and (
                        isinstance(raw_value, bool) or not isinstance(raw_value, str | int)
                    ):
                        raise _LineError(f"{key} must be a string")
                    known[key] = _clean(None if raw_value is None else str(raw_value))
                elif key:
                    text_value = _json_text(raw_value)
                    if text_value is not None:
                        metadata[key] = text_value
            collector.add(_build(known, metadata, number, default_type, odd))
        except _LineError as exc:
            collector.error(number, str(exc))


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _odd_video_field(key: str, value: Any) -> str | None:
    """Why a JSON value cannot be this field of a video frame; None if it can."""
    if value is None:
        return None
    if key == "video_id":
        ok = isinstance(value, str | int) and not isinstance(value, bool)
        return None if ok else "video_id must be a string"
    ok = isinstance(value, str | int | float) and not isinstance(value, bool)
    return None if ok else f"{key} must be a number"


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
    @property
    def frames(self) -> tuple[ListFrame, ...]: ...


def write_hash_list(entries: Iterable[ListRecord], stream: IO[str], fmt: str) -> int:
    """Write entries so that :func:`parse_hash_list` reads the same data back; returns the count.

    ``csv`` and ``jsonl`` keep every field, a video (``vpdq``) as one line per frame; ``txt``
    keeps only the values (one hash type only, and no videos).
    """
    fmt = fmt.strip().lower()
    if fmt == "csv":
        return _write_csv(list(entries), stream)
    if fmt in ("jsonl", "ndjson"):
        count = 0
        for entry in entries:
            for record in _records(entry):
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
        return count
    if fmt == "txt":
        count = 0
        types: set[HashType] = set()
        for entry in entries:
            if entry.hash_type is HashType.VPDQ:
                raise ValueError(
                    f"video {entry.value!r}: a txt list cannot hold video frames (vpdq); "
                    "export csv or jsonl"
                )
            types.add(entry.hash_type)
            if len(types) > 1:
                raise ValueError("a txt list holds one hash type; export csv or jsonl")
            stream.write(entry.value + "\n")
            count += 1
        return count
    raise ValueError(f"unknown format {fmt!r} (expected one of csv, txt, jsonl)")


def _records(entry: ListRecord) -> Iterator[dict[str, Any]]:
    """The lines of one entry: one, or one per frame of a video. Video fields are typed
    (``timestamp`` a float, ``quality`` an int) for JSON; the CSV writer makes text of them."""
    record: dict[str, Any] = {
        "hash_type": entry.hash_type.value,
        "hash": entry.value,
        "status": entry.status.value,
        "case_id": entry.case_id or "",
        "label": entry.label or "",
        "added_at": entry.added_at.isoformat() if entry.added_at else "",
    }
    video = entry.hash_type is HashType.VPDQ
    for key, value in entry.metadata.items():
        name = key.strip().lower()
        if not name or name in ENTRY_FIELDS or (video and name in VIDEO_FIELDS):
            raise ValueError(f"metadata key {key!r} cannot be exported as a column")
        if name == "video_id" and entry.hash_type is HashType.PDQ:
            raise ValueError(
                f"{entry.value}: a pdq entry with video_id {value!r} in its metadata would be "
                "read back as a frame of that video; remove the video_id metadata first"
            )
        record[key] = value
    if not video:
        yield record
        return
    if not entry.frames:
        raise ValueError(f"video {entry.value!r} has no frames to export")
    for frame in entry.frames:
        line = {
            **record,
            "hash": frame.pdq,
            "video_id": entry.value,
            "timestamp": float(frame.timestamp),
        }
        if frame.quality is not None:
            line["quality"] = frame.quality
        yield line


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float
    return str(value)


def _write_csv(entries: list[ListRecord], stream: IO[str]) -> int:
    keys = {key for entry in entries for key in entry.metadata}
    video = any(e.hash_type is HashType.VPDQ for e in entries) or any(
        key.strip().lower() in VIDEO_FIELDS for key in keys
    )
    columns = (*ENTRY_FIELDS, *(VIDEO_FIELDS if video else ()))
    extra = sorted(key for key in keys if key.strip().lower() not in VIDEO_FIELDS)
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow([*columns, *extra])
    for entry in entries:
        for record in _records(entry):
            # Video fields kept as metadata go to their own column, read back as metadata.
            for key in [k for k in record if k not in columns and k.strip().lower() in columns]:
                record[key.strip().lower()] = record.pop(key)
            row = [_cell(record.get(name, "")) for name in (*columns, *extra)]
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
