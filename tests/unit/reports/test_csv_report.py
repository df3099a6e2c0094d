from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.domain import ReportRow
from monitor.reports import ReportFormat, write_report
from monitor.reports.columns import COLUMNS
from monitor.reports.csv_report import guard
from tests.unit.reports.samples import (
    HOSTILE,
    HOSTILE_TITLE,
    empty_summary,
    row,
    sample_rows,
    sample_summary,
    stream,
)

SEOUL = ZoneInfo("Asia/Seoul")


async def render(rows: list[ReportRow]) -> str:
    out = io.BytesIO()
    count = await write_report(ReportFormat.CSV, sample_summary(), stream(rows), out)
    assert count == len(rows)
    return out.getvalue().decode("utf-8")


def expected_cell(column: str, r: ReportRow) -> str:
    """What the CSV must say, derived from the row independently of the renderer."""
    if column == "hours_to_removal":
        if r.removed_at is None or r.reported_at is None:
            return ""
        return str(round((r.removed_at - r.reported_at).total_seconds() / 3600, 2))
    if column.endswith(("_utc", "_local")):
        attr, _, kind = column.rpartition("_")
        moment: datetime | None = getattr(r, attr)
        if moment is None:
            return ""
        if kind == "utc":
            return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return moment.astimezone(SEOUL).strftime("%Y-%m-%dT%H:%M:%S+09:00")
    value: Any = getattr(r, column)
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return str(value)


async def test_csv_parses_back_to_the_rows() -> None:
    rows = sample_rows()
    records = list(csv.DictReader(io.StringIO(await render(rows), newline="")))
    assert len(records) == len(rows)
    for record, r in zip(records, rows, strict=True):
        assert record == {c: expected_cell(c, r) for c in COLUMNS}


async def test_header_and_rfc4180_line_ends() -> None:
    text = await render(sample_rows())
    assert text.startswith(",".join(COLUMNS) + "\r\n")
    assert text.count("\r\n") == 1 + len(sample_rows())  # quoted fields hold no line breaks here


async def test_formula_injection_is_neutralised_but_numbers_stay_numbers() -> None:
    records = list(csv.DictReader(io.StringIO(await render(sample_rows()), newline="")))
    hostile = records[3]
    assert hostile["channel_title"] == "'" + HOSTILE_TITLE
    assert hostile["label"] == "'=1+1"
    assert hostile["case_id"] == "'@SUM(A1)"
    assert hostile["bank"] == "'+bank"
    assert hostile["reported_to"] == "'-2+3"
    assert hostile["chat_id"] == str(HOSTILE)  # -100...: a number, never prefixed
    assert hostile["distance"] == "0"
    assert records[0]["reported_to"] == "abuse@telegram.org; -hotline"  # only a leading trigger


@pytest.mark.parametrize(
    "value", ["=1+1", "+1", "-1", "@A1", "\tcmd", "\rcmd", "\ncmd", "＝1+1", "＠A1"]
)
def test_guard_prefixes_every_trigger(value: str) -> None:
    assert guard(value) == "'" + value


@pytest.mark.parametrize("value", [-1001234567, 0, 2.5, "a=b", "", "'quoted"])
def test_guard_leaves_numbers_and_plain_text(value: object) -> None:
    assert guard(value) == value  # type: ignore[arg-type]


def test_guard_turns_none_into_an_empty_cell() -> None:
    assert guard(None) == ""


async def test_empty_report_is_just_the_header() -> None:
    out = io.BytesIO()
    assert await write_report(ReportFormat.CSV, empty_summary(), stream([]), out) == 0
    assert out.getvalue() == (",".join(COLUMNS) + "\r\n").encode()


async def test_text_is_utf8_and_a_lone_surrogate_does_not_abort_the_report() -> None:
    text = await render(
        [row(1, channel_title="Новости 뉴스 🚨"), row(2, channel_title="bad \udc80")]
    )
    assert "Новости 뉴스 🚨" in text
    assert "bad ?" in text
