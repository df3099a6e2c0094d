import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.domain import Entry, EntryStatus, HashType, ListEntry, ListFrame
from monitor.errors import HashListError
from monitor.matching import lists as lists_module
from monitor.matching.lists import (
    MAX_LINE_BYTES,
    dumps_hash_list,
    parse_hash_list,
    read_hash_list,
    write_hash_list,
)

PDQ1 = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PDQ2 = "1" * 63 + "2"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
HEADER = "hash_type,hash,case_id,label,added_at,status"
NESTED = '{"hash_type": "pdq", "hash": "%s", "x": %s}' % (PDQ1, "[" * 40 + "]" * 40)  # noqa: UP031


def parse(data: str | bytes, fmt: str, default_type: HashType | None = None) -> list[ListEntry]:
    raw = data.encode() if isinstance(data, str) else data
    return parse_hash_list(io.BytesIO(raw), "list.x", fmt, default_type)


def refused(data: str | bytes, fmt: str, default_type: HashType | None = None) -> HashListError:
    with pytest.raises(HashListError) as caught:
        parse(data, fmt, default_type)
    assert str(caught.value).startswith("list.x")
    return caught.value


# -- CSV ---------------------------------------------------------------------------------------


def test_csv_reads_fields_and_metadata() -> None:
    text = (
        " Hash_Type , HASH ,case_id,label,added_at,status,source,empty\n"
        f"pdq,{PDQ1.upper()},C-1,cat,2024-03-01,active,tat,\n"
        f"md5,{MD5},,,2024-03-02T10:00:00+02:00,withdrawn,,\n"
    )
    first, second = parse(text, "csv")
    assert first == ListEntry(
        hash_type=HashType.PDQ,
        value=PDQ1,
        status=EntryStatus.ACTIVE,
        case_id="C-1",
        label="cat",
        added_at=datetime(2024, 3, 1, tzinfo=UTC),
        metadata={"source": "tat"},
        line=2,
    )
    assert second.status is EntryStatus.WITHDRAWN
    assert second.case_id is None
    assert second.metadata == {}
    assert second.added_at == datetime(2024, 3, 2, 8, 0, tzinfo=UTC)
    assert second.line == 3


def test_csv_naive_datetime_is_utc() -> None:
    (entry,) = parse(f"{HEADER}\npdq,{PDQ1},,,2024-03-01T12:30:00,\n", "csv")
    assert entry.added_at == datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    assert entry.added_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("active", EntryStatus.ACTIVE),
        ("LIVE", EntryStatus.ACTIVE),
        ("", EntryStatus.ACTIVE),
        ("withdrawn", EntryStatus.WITHDRAWN),
        ("Removed", EntryStatus.WITHDRAWN),
        ("deleted", EntryStatus.WITHDRAWN),
        ("inactive", EntryStatus.WITHDRAWN),
    ],
)
def test_status_synonyms(word: str, status: EntryStatus) -> None:
    (entry,) = parse(f"{HEADER}\npdq,{PDQ1},,,,{word}\n", "csv")
    assert entry.status is status


def test_bom_and_crlf() -> None:
    data = f"\ufeff{HEADER}\r\npdq,{PDQ1},c,,,\r\n\r\nmd5,{MD5},,,,\r\n".encode()
    entries = parse(data, "csv")
    assert [(e.value, e.line) for e in entries] == [(PDQ1, 2), (MD5, 4)]
    assert entries[0].case_id == "c"


def test_duplicates_merge_later_fields_win() -> None:
    text = (
        "hash_type,hash,case_id,label,status,a,b\n"
        f"pdq,{PDQ1},C-1,old,,x,1\n"
        f"pdq,{PDQ2},C-2,,,,\n"
        f"PDQ,{PDQ1.upper()},,new,withdrawn,,2\n"
    )
    first, second = parse(text, "csv")
    assert first.value == PDQ1
    assert first.line == 2
    assert first.case_id == "C-1"  # empty later field does not erase
    assert first.label == "new"
    assert first.status is EntryStatus.WITHDRAWN
    assert first.metadata == {"a": "x", "b": "2"}
    assert second.value == PDQ2


def test_same_value_different_type_is_not_merged() -> None:
    sha = "ab" * 32
    entries = parse(f"hash_type,hash\npdq,{sha}\nsha256,{sha}\n", "csv")
    assert {e.hash_type for e in entries} == {HashType.PDQ, HashType.SHA256}


def test_csv_missing_type_column_uses_default() -> None:
    (entry,) = parse(f"hash,label\n{PDQ1},x\n", "csv", HashType.PDQ)
    assert entry.hash_type is HashType.PDQ


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (f"pdq,{PDQ1[:-1]},,,,", "expected 64 hex characters, got 63"),
        (f"pdq,{PDQ1[:9]}x{PDQ1[10:]},,,,", "not hexadecimal at position 10"),
        (f"pdq,{'0' * 64},,,,", "degenerate all-zero"),
        (f"sha1,{MD5},,,,", "unknown hash type 'sha1'"),
        (f",{PDQ1},,,,", "missing hash_type"),
        ("pdq,,,,,", "missing hash"),
        (f"pdq,{PDQ1},,,,maybe", "unknown status 'maybe'"),
        (f"pdq,{PDQ1},,,yesterday,", "added_at 'yesterday' is not an ISO 8601"),
        (f"pdq,{PDQ1},,,,,extra", "expected 6 fields, got 7"),
        (f"pdq,{PDQ1},,,", "expected 6 fields, got 5"),
        (f'pdq,"{PDQ1},,,,', "malformed CSV"),
    ],
)
def test_csv_invalid_line_names_file_and_line(line: str, problem: str) -> None:
    error = refused(f"{HEADER}\npdq,{PDQ2},,,,\n{line}\n", "csv")
    assert error.line == 3
    assert problem in error.problem
    assert str(error).startswith("list.x:3: ")


def test_csv_header_problems() -> None:
    error = refused(f"hash_type,value\npdq,{PDQ1}\n", "csv")
    assert error.line == 1
    assert "lacks column hash" in error.problem
    error = refused(f"hash,label\n{PDQ1},x\n", "csv")
    assert error.line == 1
    assert "hash_type" in error.problem
    error = refused(f"{PDQ1}\n", "csv")  # no header at all: the first line is read as one
    assert error.line == 1
    error = refused("hash_type,hash,hash\n", "csv")
    assert "appears twice" in error.problem
    error = refused("\n\n", "csv")
    assert error.line == 0
    assert "header" in error.problem


def test_every_bad_line_is_listed_and_nothing_is_returned() -> None:
    lines = [HEADER]
    for i in range(20):
        lines.append(f"pdq,{PDQ1},,,,")
        lines.append(f"pdq,{'1' * (10 + i)},,,,")
    error = refused("\n".join(lines) + "\n", "csv")
    bad = [3 + 2 * i for i in range(20)]
    assert [error.line, *(n for n, _ in error.more)] == bad
    assert all("expected 64 hex characters" in p for _, p in error.more)
    assert "and 19 more invalid lines" in str(error)


def test_one_bad_line_among_many_good_refuses_all() -> None:
    good = [f"pdq,{i + 1:064x},,,," for i in range(500)]
    good.insert(250, "pdq,nothex,,,,")
    error = refused(HEADER + "\n" + "\n".join(good) + "\n", "csv")
    assert error.line == 252
    assert error.more == ()


def test_invalid_utf8_names_the_line() -> None:
    data = HEADER.encode() + b"\n" + f"pdq,{PDQ1},".encode() + b"caf\xff\xfe,,,\n"
    error = refused(data, "csv")
    assert error.line == 2
    assert "invalid UTF-8" in error.problem


def test_nul_byte_names_the_line() -> None:
    data = f"{HEADER}\npdq,{PDQ2},,,,\npdq,{PDQ1},a\x00b,,,\n".encode()
    error = refused(data, "csv")
    assert error.line == 3
    assert "NUL" in error.problem


def test_overlong_line_is_refused_and_the_next_lines_still_checked() -> None:
    long_label = "x" * (MAX_LINE_BYTES + 10)
    data = f"{HEADER}\npdq,{PDQ1},,{long_label},,\npdq,bad,,,,\npdq,{PDQ2},,,,\n"
    error = refused(data, "csv")
    assert error.line == 2
    assert "longer than" in error.problem
    assert [n for n, _ in error.more] == [3]


def test_line_at_the_limit_is_accepted() -> None:
    prefix = f"pdq,{PDQ1},,"
    label = "y" * (MAX_LINE_BYTES - len(prefix) - 2)
    line = f"{prefix}{label},,"
    assert len(line) == MAX_LINE_BYTES
    (entry,) = parse(f"{HEADER}\r\n{line}\r\n", "csv")
    assert entry.label == label


# -- txt ---------------------------------------------------------------------------------------


def test_txt_reads_hashes_skipping_comments() -> None:
    text = f"# a comment\n\n  {PDQ1}  \n#{PDQ2}\n{PDQ2}\n"
    entries = parse(text, "txt", HashType.PDQ)
    assert [(e.value, e.line) for e in entries] == [(PDQ1, 3), (PDQ2, 5)]


def test_txt_without_type_is_refused() -> None:
    error = refused(f"{PDQ1}\n", "txt")
    assert error.line == 0
    assert "hash type" in error.problem


def test_txt_bad_lines() -> None:
    error = refused(f"{PDQ1}\n{MD5}\n{'f' * 64}\n", "txt", HashType.PDQ)
    assert error.line == 2
    assert error.more == ((3, "degenerate all-one hash (pdq)"),)


# -- jsonl -------------------------------------------------------------------------------------


def test_jsonl_reads_fields_and_keeps_non_string_metadata_as_json() -> None:
    text = (
        f'{{"hash_type": "pdq", "hash": "{PDQ1}", "case_id": 17, "tags": ["a", "b"], '
        '"score": 0.5, "note": "n", "none": null}\n'
        "\n"
        f'{{"Hash_Type": "md5", "HASH": "{MD5}", "status": "removed", "added_at": "2024-01-02"}}\n'
    )
    first, second = parse(text, "jsonl")
    assert first.case_id == "17"
    assert first.metadata == {"tags": '["a","b"]', "score": "0.5", "note": "n"}
    assert second.status is EntryStatus.WITHDRAWN
    assert second.line == 3
    assert second.added_at == datetime(2024, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("[1, 2]", "expected a JSON object, got list"),
        ('"pdq"', "expected a JSON object, got str"),
        ("{not json", "invalid JSON"),
        ('{"hash_type": "pdq"}', "missing hash"),
        ('{"hash_type": ["pdq"], "hash": "x"}', "hash_type must be a string"),
        (
            '{{"hash_type": "pdq", "hash": "{}", "x": {}}}'.format(PDQ1, "[" * 40 + "]" * 40),
            "nested",
        ),
        ("[" * 100000, "longer than"),
    ],
)
def test_jsonl_invalid_lines(line: str, problem: str) -> None:
    error = refused(f'{{"hash_type":"pdq","hash":"{PDQ1}"}}\n{line}\n', "jsonl")
    assert error.line == 2
    assert problem in error.problem


def test_jsonl_deep_nesting_within_line_limit() -> None:
    error = refused("[" * 30000 + "]" * 30000 + "\n", "jsonl")
    assert error.line == 1
    assert "nested" in error.problem or "object" in error.problem


# -- files -------------------------------------------------------------------------------------


def test_read_hash_list_picks_format_from_extension(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(f"hash_type,hash\npdq,{PDQ1}\n")
    (tmp_path / "b.TXT").write_text(f"{MD5}\n")
    (tmp_path / "c.ndjson").write_text(f'{{"hash_type":"md5","hash":"{MD5}"}}\n')
    assert read_hash_list(tmp_path / "a.csv")[0].value == PDQ1
    assert read_hash_list(tmp_path / "b.TXT", default_type=HashType.MD5)[0].value == MD5
    assert read_hash_list(tmp_path / "c.ndjson")[0].hash_type is HashType.MD5
    assert read_hash_list(tmp_path / "b.TXT", fmt="txt", default_type=HashType.MD5)


def test_read_hash_list_refuses_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "list.xlsx"
    path.write_text("x")
    with pytest.raises(HashListError, match=r"list\.xlsx: cannot tell the format"):
        read_hash_list(path)


def test_read_hash_list_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(f"hash_type,hash\npdq,{PDQ1}\npdq,123\n")
    with pytest.raises(HashListError) as caught:
        read_hash_list(path)
    assert str(caught.value).startswith(f"{path}:3: expected 64 hex characters, got 3")


def test_text_stream_is_accepted() -> None:
    entries = parse_hash_list(io.StringIO(f"hash_type,hash\npdq,{PDQ1}\n"), "s", "csv")
    assert entries[0].value == PDQ1


# -- writing -----------------------------------------------------------------------------------


SAMPLE = [
    ListEntry(
        hash_type=HashType.PDQ,
        value=PDQ1,
        status=EntryStatus.ACTIVE,
        case_id="C-1",
        label='quote " and, comma',
        added_at=datetime(2024, 3, 1, 12, 0, tzinfo=UTC),
        metadata={"source": "tat", "ünï": "ç"},
        line=2,
    ),
    ListEntry(
        hash_type=HashType.MD5,
        value=MD5,
        status=EntryStatus.WITHDRAWN,
        added_at=datetime(2024, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))),
        line=3,
    ),
    ListEntry(hash_type=HashType.PDQ, value=PDQ2, line=4),
]


def _comparable(entries: list[ListEntry]) -> list[tuple[object, ...]]:
    return [
        (e.hash_type, e.value, e.status, e.case_id, e.label, e.added_at, e.metadata)
        for e in entries
    ]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_round_trip(fmt: str) -> None:
    text = dumps_hash_list(SAMPLE, fmt)
    again = parse(text, fmt)
    assert _comparable(again) == _comparable(SAMPLE)


def test_round_trip_txt() -> None:
    only_pdq = [e for e in SAMPLE if e.hash_type is HashType.PDQ]
    again = parse(dumps_hash_list(only_pdq, "txt"), "txt", HashType.PDQ)
    assert [e.value for e in again] == [PDQ1, PDQ2]
    with pytest.raises(ValueError, match="one hash type"):
        dumps_hash_list(SAMPLE, "txt")


def test_write_accepts_stored_entries() -> None:
    stored = Entry(id=5, bank="b", hash_type=HashType.MD5, value=MD5, status=EntryStatus.ACTIVE)
    buffer = io.StringIO()
    assert write_hash_list([stored], buffer, "csv") == 1
    assert parse(buffer.getvalue(), "csv")[0].value == MD5


def test_write_refuses_line_breaks_in_csv_and_unknown_format() -> None:
    entry = ListEntry(hash_type=HashType.MD5, value=MD5, label="two\nlines")
    with pytest.raises(ValueError, match="line break"):
        dumps_hash_list([entry], "csv")
    again = parse(dumps_hash_list([entry], "jsonl"), "jsonl")
    assert again[0].label == "two\nlines"
    with pytest.raises(ValueError, match="unknown format"):
        dumps_hash_list([entry], "xml")


# -- videos (vpdq) -----------------------------------------------------------------------------

PDQ3 = "a5" * 32
VIDEO_HEADER = "hash_type,hash,video_id,timestamp,quality,case_id,label,status"


def frames_of(entry: ListEntry) -> list[tuple[float, str, int | None]]:
    return [(f.timestamp, f.pdq, f.quality) for f in entry.frames]


def test_csv_video_frames_become_one_entry_in_time_order() -> None:
    text = (
        f"{VIDEO_HEADER},source\n"
        f"vpdq,{PDQ2},Vid-A,2.5,80,C-1,,,tat\n"
        f"pdq,{PDQ1.upper()},Vid-A,0,,,ncii,,\n"  # a pdq line with a video id is a frame too
        f"md5,{MD5},Vid-A,3,x,C-9,,,\n"  # an MD5 of a video file stays an MD5 entry
        f"video_pdq,{PDQ1},Vid-A,0.0,90,,,,\n"  # the same frame again: once, its quality set
        f"vpdq_frame,{PDQ3},Vid-A,1,,,,withdrawn,\n"
        f"vpdq,{PDQ3},vid-a,1,,,,,\n"  # another video: ids keep their case
        f"pdq,{PDQ1},,7,50,,,,\n"  # no video id: an image, timestamp/quality are metadata
    )
    video, md5, other, image = parse(text, "csv")
    assert (video.hash_type, video.value, video.line) == (HashType.VPDQ, "Vid-A", 2)
    assert frames_of(video) == [(0.0, PDQ1, 90), (1.0, PDQ3, None), (2.5, PDQ2, 80)]
    # The other fields merge like duplicate lines: later non-empty ones win.
    assert (video.case_id, video.label, video.status) == ("C-1", "ncii", EntryStatus.WITHDRAWN)
    assert video.metadata == {"source": "tat"}
    assert (md5.hash_type, md5.value, md5.case_id) == (HashType.MD5, MD5, "C-9")
    assert md5.metadata == {"video_id": "Vid-A", "timestamp": "3", "quality": "x"}
    assert md5.frames == ()
    assert (other.hash_type, other.value, frames_of(other)) == (
        HashType.VPDQ,
        "vid-a",
        [(1.0, PDQ3, None)],
    )
    assert (image.hash_type, image.value, image.frames) == (HashType.PDQ, PDQ1, ())
    assert image.metadata == {"timestamp": "7", "quality": "50"}


def test_video_frames_at_one_time_with_different_hashes_are_all_kept() -> None:
    text = f"hash_type,hash,video_id,timestamp\nvpdq,{PDQ2},v,1\nvpdq,{PDQ1},v,1\nvpdq,{PDQ2},v,1\n"
    (video,) = parse(text, "csv")
    assert PDQ2 < PDQ1
    assert frames_of(video) == [(1.0, PDQ2, None), (1.0, PDQ1, None)]  # then by hash


def test_a_later_line_without_quality_keeps_the_frame_quality() -> None:
    text = f"{VIDEO_HEADER}\nvpdq,{PDQ1},v,1,70,,,\nvpdq,{PDQ1},v,1,,,,\n"
    (video,) = parse(text, "csv")
    assert frames_of(video) == [(1.0, PDQ1, 70)]


def test_csv_video_columns_with_a_default_type() -> None:
    text = f"hash,video_id,timestamp\n{PDQ1},v1,0\n{PDQ2},v1,1\n"
    (video,) = parse(text, "csv", HashType.VPDQ)
    assert (video.value, len(video.frames)) == ("v1", 2)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (f"vpdq,{PDQ1},,1,,,,", "a video frame (vpdq) needs a video_id"),
        (f"pdq,{PDQ1},v,,,,,", "a video frame needs a timestamp"),
        (f"vpdq,{PDQ1},v,,,,,", "a video frame needs a timestamp"),
        (f"vpdq,{PDQ1},v,-1,,,,", "timestamp '-1' must be a finite number >= 0"),
        (f"vpdq,{PDQ1},v,nan,,,,", "must be a finite number"),
        (f"vpdq,{PDQ1},v,inf,,,,", "must be a finite number"),
        (f"vpdq,{PDQ1},v,1s,,,,", "timestamp '1s' is not a number of seconds"),
        (f"vpdq,{PDQ1},v,1_0,,,,", "timestamp '1_0' is not a number"),
        (f"vpdq,{PDQ1},v,1,101,,,", "quality 101 is not between 0 and 100"),
        (f"vpdq,{PDQ1},v,1,-1,,,", "quality -1 is not between 0 and 100"),
        (f"vpdq,{PDQ1},v,1,high,,,", "quality 'high' is not a whole number"),
        (f"vpdq,{PDQ1},v,1,9.5,,,", "not a whole number"),
        (f"vpdq,{'0' * 64},v,1,,,,", "degenerate all-zero hash (pdq)"),
        (f"vpdq,{PDQ1[:-2]},v,1,,,,", "expected 64 hex characters, got 62 (pdq)"),
        ("vpdq,,v,1,,,,", "missing hash"),
        (f"vpdq,{PDQ1},{'v' * 65},1,,,,", "video id longer than 64 characters"),
        (f"vpdq,{PDQ1},a\tb,1,,,,", "control or invisible character"),
        (f"vpdq,{PDQ1},v,1,,,,gone", "unknown status 'gone'"),
    ],
)
def test_invalid_video_frame_lines_name_the_line(line: str, problem: str) -> None:
    error = refused(f"{VIDEO_HEADER}\nvpdq,{PDQ2},v,0,,,,\n{line}\n", "csv")
    assert error.line == 3
    assert problem in error.problem


def test_video_fields_are_only_checked_on_frame_lines() -> None:
    text = f"{VIDEO_HEADER}\nmd5,{MD5},,-4,lots,,,\nphash,{'ab' * 8},clip,soon,,,,\n"
    md5, phash = parse(text, "csv")
    assert md5.metadata == {"timestamp": "-4", "quality": "lots"}
    assert (phash.hash_type, phash.metadata) == (
        HashType.PHASH,
        {"video_id": "clip", "timestamp": "soon"},
    )


def test_too_many_frames_for_one_video_is_refused_at_that_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lists_module, "MAX_VIDEO_FRAMES", 3)
    rows = [f"vpdq,{PDQ1},v,{t},,,," for t in range(3)]
    rows.insert(1, f"vpdq,{PDQ1},v,0,,,,")  # a duplicate does not count
    (video,) = parse(VIDEO_HEADER + "\n" + "\n".join(rows) + "\n", "csv")
    assert len(video.frames) == 3
    rows.append(f"vpdq,{PDQ1},w,0,,,,")
    rows.append(f"vpdq,{PDQ1},v,3,,,,")
    error = refused(VIDEO_HEADER + "\n" + "\n".join(rows) + "\n", "csv")
    assert error.line == 7
    assert "video 'v' has more than 3 distinct frames" in error.problem


def test_jsonl_video_frames_take_numbers_or_text() -> None:
    text = (
        f'{{"hash_type": "vpdq", "hash": "{PDQ1}", "video_id": "V", "timestamp": 0.5, '
        '"quality": 88}\n'
        f'{{"hash_type": "pdq", "hash": "{PDQ2}", "video_id": "V", "timestamp": "1.25"}}\n'
        f'{{"hash_type": "vpdq", "hash": "{PDQ3}", "video_id": 17, "timestamp": 3}}\n'
        f'{{"hash_type": "md5", "hash": "{MD5}", "video_id": {{"a": 1}}, "timestamp": true}}\n'
    )
    video, numbered, md5 = parse(text, "jsonl")
    assert (video.value, frames_of(video)) == ("V", [(0.5, PDQ1, 88), (1.25, PDQ2, None)])
    assert (numbered.value, frames_of(numbered)) == ("17", [(3.0, PDQ3, None)])
    # Not a frame: kept as metadata (JSON text), as any other field would be.
    assert md5.metadata == {"video_id": '{"a":1}', "timestamp": "true"}


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ('"video_id": "V", "timestamp": true', "timestamp must be a number"),
        ('"video_id": "V", "timestamp": [1]', "timestamp must be a number"),
        ('"video_id": "V", "timestamp": 1, "quality": 9.5', "not a whole number"),
        ('"video_id": "V", "timestamp": 1, "quality": false', "quality must be a number"),
        ('"video_id": ["V"], "timestamp": 1', "video_id must be a string"),
        ('"video_id": 1.5, "timestamp": 1', "video_id must be a string"),
        ('"video_id": "V", "timestamp": NaN', "must be a finite number"),
        ('"video_id": "V"', "needs a timestamp"),
    ],
)
def test_jsonl_invalid_video_frames(fields: str, problem: str) -> None:
    line = f'{{"hash_type": "vpdq", "hash": "{PDQ1}", {fields}}}'
    error = refused(f'{{"hash_type":"pdq","hash":"{PDQ1}"}}\n{line}\n', "jsonl")
    assert error.line == 2
    assert problem in error.problem


def test_txt_cannot_hold_videos() -> None:
    error = refused(f"{PDQ1}\n", "txt", HashType.VPDQ)
    assert error.line == 0
    assert "txt list cannot hold video frames" in error.problem


VIDEO_SAMPLE = [
    ListEntry(
        hash_type=HashType.VPDQ,
        value='Vid, "quoted" ünï',
        status=EntryStatus.WITHDRAWN,
        case_id="C-7",
        label="ncii",
        added_at=datetime(2024, 3, 1, 12, 0, tzinfo=UTC),
        metadata={"source": "hotline"},
        frames=(
            ListFrame(0.0, PDQ1, 90),
            ListFrame(0.1 + 0.2, PDQ2, None),  # 0.30000000000000004: written exactly
            ListFrame(1e-07 + 5, PDQ2, 0),
            ListFrame(12345.678901234, PDQ3, 100),
        ),
    ),
    ListEntry(hash_type=HashType.VPDQ, value="vid", frames=(ListFrame(2.0, PDQ1, None),)),
    ListEntry(
        hash_type=HashType.MD5,
        value=MD5,
        metadata={"video_id": "Vid", "timestamp": "3", "quality": "hd"},
    ),
    ListEntry(hash_type=HashType.PDQ, value=PDQ1, metadata={"timestamp": "7"}),
]


def _with_frames(entries: list[ListEntry]) -> list[tuple[object, ...]]:
    return [(*row, e.frames) for row, e in zip(_comparable(entries), entries, strict=True)]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_video_round_trip(fmt: str) -> None:
    text = dumps_hash_list(VIDEO_SAMPLE, fmt)
    assert len(text.splitlines()) == (1 if fmt == "csv" else 0) + 4 + 1 + 1 + 1  # per frame
    assert _with_frames(parse(text, fmt)) == _with_frames(VIDEO_SAMPLE)


def test_video_csv_lines_are_one_per_frame() -> None:
    rows = list(csv.DictReader(io.StringIO(dumps_hash_list(VIDEO_SAMPLE[1:3], "csv"))))
    assert [(r["hash_type"], r["hash"], r["video_id"], r["timestamp"]) for r in rows] == [
        ("vpdq", PDQ1, "vid", "2.0"),
        ("md5", MD5, "Vid", "3"),
    ]
    assert [r["quality"] for r in rows] == ["", "hd"]


def test_video_jsonl_lines_carry_numbers() -> None:
    first = json.loads(dumps_hash_list(VIDEO_SAMPLE[:1], "jsonl").splitlines()[0])
    assert (first["hash_type"], first["video_id"], first["timestamp"], first["quality"]) == (
        "vpdq",
        'Vid, "quoted" ünï',
        0.0,
        90,
    )


def test_lists_without_videos_keep_their_columns() -> None:
    header = dumps_hash_list(SAMPLE, "csv").splitlines()[0]
    assert header == "hash_type,hash,status,case_id,label,added_at,source,ünï"
    assert "video_id" not in header


def test_write_stored_video_entry() -> None:
    stored = Entry(
        id=9,
        bank="b",
        hash_type=HashType.VPDQ,
        value="V1",
        status=EntryStatus.ACTIVE,
        frames=(ListFrame(1.5, PDQ1, 77),),
    )
    (again,) = parse(dumps_hash_list([stored], "csv"), "csv")
    assert (again.hash_type, again.value, frames_of(again)) == (
        HashType.VPDQ,
        "V1",
        [(1.5, PDQ1, 77)],
    )


def test_write_refuses_what_would_not_read_back() -> None:
    with pytest.raises(ValueError, match="txt list cannot hold video frames"):
        dumps_hash_list(VIDEO_SAMPLE[1:2], "txt")
    no_frames = ListEntry(hash_type=HashType.VPDQ, value="empty")
    with pytest.raises(ValueError, match="has no frames"):
        dumps_hash_list([no_frames], "csv")
    clash = ListEntry(
        hash_type=HashType.VPDQ,
        value="v",
        metadata={"timestamp": "x"},
        frames=(ListFrame(0.0, PDQ1),),
    )
    with pytest.raises(ValueError, match="metadata key 'timestamp'"):
        dumps_hash_list([clash], "jsonl")
    # A pdq entry naming a video in its metadata (imported before videos were read) would
    # come back as a frame of that video.
    legacy = ListEntry(hash_type=HashType.PDQ, value=PDQ1, metadata={"video_id": "v"})
    with pytest.raises(ValueError, match="read back as a frame"):
        dumps_hash_list([legacy], "csv")
