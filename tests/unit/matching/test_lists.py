import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.domain import Entry, EntryStatus, HashType, ListEntry
from monitor.errors import HashListError
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
