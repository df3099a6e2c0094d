"""Hostile input, property-based: whatever the bytes, each reader returns a result or raises its
own clear error (with the line, key or file it is about) - nothing else escapes, nothing hangs.

Bounded for CI: a fixed number of examples per property and a deadline per example.
"""

from __future__ import annotations

import io
import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import load_settings
from monitor.domain import HashType
from monitor.errors import ConfigError, HashListError, InputError
from monitor.matching.lists import FORMATS, MAX_LINE_BYTES, parse_hash_list
from monitor.sources.desktop_export import read_desktop_export

FUZZ = settings(
    max_examples=150,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

PDQ = "f" * 32 + "0" * 31 + "1"
HEADERS = [
    "hash_type,hash",
    "hash_type,hash,case_id,label,status",
    "hash_type,hash,video_id,timestamp,quality",
]
CELLS = st.sampled_from(
    [
        "pdq",
        "vpdq",
        "md5",
        "sha256",
        "phash",
        PDQ,
        "0" * 64,
        "ab" * 16,
        "v-1",
        "1.5",
        "-1",
        "nan",
        "inf",
        "101",
        "active",
        "withdrawn",
        "",
        '"',
        "=cmd()",
        "\u202e",
        "x" * 70,
    ]
)


def lines_of(rows: list[list[str]]) -> str:
    return "\n".join(",".join(row) for row in rows)


# --- hash lists ------------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=4096), fmt=st.sampled_from(FORMATS))
def test_any_bytes_are_a_list_or_a_hash_list_error(data: bytes, fmt: str) -> None:
    try:
        entries = parse_hash_list(io.BytesIO(data), "l", fmt, HashType.PDQ)
    except HashListError as exc:
        assert exc.source == "l"
        assert 0 <= exc.line <= data.count(b"\n") + 1
        assert str(exc)
    else:
        assert all(e.value for e in entries)


@FUZZ
@given(
    header=st.sampled_from(HEADERS),
    rows=st.lists(st.lists(CELLS, min_size=1, max_size=6), max_size=12),
)
def test_csv_lines_of_known_pieces_fail_on_a_named_line(header: str, rows: list[list[str]]) -> None:
    text = header + "\n" + lines_of(rows)
    try:
        entries = parse_hash_list(io.BytesIO(text.encode()), "l.csv", "csv")
    except HashListError as exc:
        assert 1 <= exc.line <= len(rows) + 1 or exc.line == 0
    else:
        for entry in entries:
            assert entry.value
            if entry.hash_type is HashType.VPDQ:
                assert entry.frames
                assert all(f.timestamp >= 0 for f in entry.frames)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@FUZZ
@given(
    records=st.lists(
        st.dictionaries(
            st.sampled_from(
                ["hash_type", "hash", "video_id", "timestamp", "quality", "case_id", "x"]
            ),
            json_values | CELLS,
            max_size=6,
        ),
        max_size=8,
    )
)
def test_jsonl_records_of_any_shape(records: list[dict[str, object]]) -> None:
    text = "\n".join(json.dumps(r) for r in records)
    try:
        parse_hash_list(io.BytesIO(text.encode()), "l.jsonl", "jsonl")
    except HashListError as exc:
        assert 0 <= exc.line <= len(records)


def test_deep_json_huge_lines_nul_and_bad_utf8_name_their_lines() -> None:
    deep = "[" * 30_000 + "]" * 30_000  # within the line limit, beyond any sane nesting
    cases = {
        '{"hash_type":"pdq","hash":' + deep + "}": "nested",
        "x" * (MAX_LINE_BYTES + 10): "longer than",
        '{"hash_type":"pdq","hash":"' + PDQ + '"}\x00': "NUL",
    }
    for line, problem in cases.items():
        with pytest.raises(HashListError, match=problem) as caught:
            parse_hash_list(
                io.BytesIO(f'{{"hash_type":"md5","hash":"{"ab" * 16}"}}\n{line}\n'.encode()),
                "l",
                "jsonl",
            )
        assert caught.value.line == 2
    with pytest.raises(HashListError, match="UTF-8") as caught:
        parse_hash_list(io.BytesIO(b"hash_type,hash\npdq,\xff\xfe\n"), "l", "csv")
    assert caught.value.line == 2


# --- config ----------------------------------------------------------------------------------

SECTIONS = [
    "",
    "database",
    "hashing",
    "hashing.video",
    "matching",
    "telegram",
    "telegram.media",
    "alerts",
    "reports",
    "takedown",
    "logging",
]
KEYS = [
    "url",
    "max_bytes",
    "pdq",
    "video_share",
    "clip_seconds",
    "api_id",
    "api_hash",
    "kinds",
    "timezone",
    "level",
    "channels",
    "max_video_bytes",
    "sample_rate",
    "bogus",
]
TOML_VALUES = [
    "1",
    "-1",
    "0",
    "1e400",
    "0.5",
    '"x"',
    '"Asia/Seoul"',
    "[]",
    '["photo"]',
    "true",
    "{}",
    '"sqlite+aiosqlite:///x"',
    "nan",
    '"' + "\\u0000" + '"',
]


@FUZZ
@given(
    body=st.lists(
        st.tuples(st.sampled_from(SECTIONS), st.sampled_from(KEYS), st.sampled_from(TOML_VALUES)),
        max_size=8,
    )
)
def test_config_of_known_keys_and_odd_values(
    tmp_path: Path, body: list[tuple[str, str, str]]
) -> None:
    by_section: dict[str, dict[str, str]] = {}
    for section, key, value in body:
        by_section.setdefault(section, {})[key] = value
    text = "".join(f"{k} = {v}\n" for k, v in by_section.pop("", {}).items())
    for section, pairs in by_section.items():
        text += f"[{section}]\n" + "".join(f"{k} = {v}\n" for k, v in pairs.items())
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    try:
        load_settings(path, env={})
    except ConfigError as exc:
        assert str(exc)
        # a problem with a value names the key it is about
        if "not valid TOML" not in exc.problem and exc.key:
            assert any(part in exc.key for part in KEYS + SECTIONS if part)


@FUZZ
@given(data=st.binary(max_size=2048))
def test_config_of_any_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(data)
    try:
        load_settings(path, env={})
    except ConfigError as exc:
        assert str(exc)


# --- Telegram Desktop export ------------------------------------------------------------------

message = st.fixed_dictionaries(
    {},
    optional={
        "id": st.integers() | st.text(max_size=5) | st.none(),
        "type": st.sampled_from(["message", "service", 3]),
        "date": st.text(max_size=25) | st.just("2024-08-26T09:30:00"),
        "date_unixtime": st.text(alphabet=string.digits + "-x", max_size=22),
        "photo": st.sampled_from(
            [
                "photos/a.jpg",
                "../../etc/passwd",
                "/etc/passwd",
                "(File not included.)",
                "photos/\x00.jpg",
                "photos",
            ]
        )
        | st.integers(),
        "file": st.sampled_from(["files/v.mp4", "..", "files/../../x"]),
        "media_type": st.sampled_from(
            ["video_file", "animation", "sticker", "round_video_message", "voice", 1]
        ),
        "forwarded_from": json_values,
    },
)


@FUZZ
@given(
    top=st.fixed_dictionaries(
        {},
        optional={
            "name": json_values,
            "type": st.sampled_from(["public_channel", "private_group", "personal_chat", 5]),
            "id": st.integers() | st.text(max_size=12),
            "messages": st.lists(message, max_size=6) | json_values,
            "chats": st.fixed_dictionaries(
                {
                    "list": st.lists(
                        st.fixed_dictionaries({"messages": st.lists(message, max_size=3)}),
                        max_size=2,
                    )
                }
            )
            | json_values,
        },
    )
)
def test_desktop_export_of_any_shape(tmp_path: Path, top: dict[str, object]) -> None:
    folder = tmp_path / "export"
    (folder / "photos").mkdir(parents=True, exist_ok=True)
    (folder / "photos" / "a.jpg").write_bytes(b"\xff\xd8not really")
    (folder / "result.json").write_text(json.dumps(top), encoding="utf-8")
    try:
        media, problems = read_desktop_export(folder)
    except InputError as exc:
        assert "result.json" in str(exc) or "export" in str(exc)
        return
    root = folder.resolve()
    for item in media:
        assert item.path.resolve().is_relative_to(root)  # never outside the export folder
    assert all(p.reason for p in problems)


def test_desktop_export_deeply_nested_or_huge(tmp_path: Path) -> None:
    folder = tmp_path / "deep"
    folder.mkdir()
    (folder / "result.json").write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    with pytest.raises(InputError, match=r"nested too deeply|JSON object"):
        read_desktop_export(folder)
    (folder / "result.json").write_bytes(b'{"messages": [\xff]}')
    with pytest.raises(InputError, match="not valid JSON"):
        read_desktop_export(folder)
