from __future__ import annotations

import io
import json
from typing import Any

from monitor.domain import ReportRow
from monitor.reports import ReportFormat, write_report
from monitor.reports.columns import HIT_COLUMNS
from tests.unit.reports.samples import (
    ALPHA,
    HOSTILE,
    HOSTILE_TITLE,
    empty_summary,
    row,
    sample_rows,
    sample_summary,
    stream,
)


async def render(rows: list[ReportRow], summary: Any = None) -> dict[str, Any]:
    out = io.BytesIO()
    count = await write_report(ReportFormat.JSON, summary or sample_summary(), stream(rows), out)
    assert count == len(rows)
    parsed: dict[str, Any] = json.loads(out.getvalue().decode("utf-8"))
    return parsed


async def test_hits_are_grouped_by_channel_in_order() -> None:
    doc = await render(sample_rows())
    groups = doc["channels"]
    assert [(g["chat_id"], g["title"], g["username"]) for g in groups] == [
        (ALPHA, "Alpha news", "alpha"),
        (HOSTILE, HOSTILE_TITLE, "evil_chan"),  # raw in JSON: escaping is the reader's job
        (None, None, None),  # files last
    ]
    assert [[h["hit_id"] for h in g["hits"]] for g in groups] == [[1, 2, 3], [4, 5], [6]]


async def test_hits_carry_every_hit_column_with_types() -> None:
    doc = await render(sample_rows())
    hits = [h for g in doc["channels"] for h in g["hits"]]
    assert all(tuple(h) == HIT_COLUMNS for h in hits)
    first = hits[0]
    assert first["posted_at_utc"] == "2024-08-26T03:01:00Z"
    assert first["posted_at_local"] == "2024-08-26T12:01:00+09:00"
    assert first["hours_to_removal"] == 5.5
    assert first["removal_status"] == "removed"
    assert first["distance"] == 4
    assert hits[2]["removal_status"] is None  # never reported
    assert hits[3]["label"] == "=1+1"  # no spreadsheet guard in JSON
    assert hits[5]["path"] == "/evidence/\t-x.jpg"
    assert hits[5]["message_id"] is None


async def test_summary_comes_first() -> None:
    doc = await render(sample_rows())
    assert list(doc) == ["report", "channels"]
    report = doc["report"]
    assert report["timezone"] == "Asia/Seoul"
    assert report["generated_at_local"] == "2024-08-29T12:00:00+09:00"
    assert report["period"]["since_utc"] == "2024-08-26T00:00:00Z"
    assert report["filters"] == {
        "status": ["confirmed", "new"],
        "channel": None,
        "bank": "ncmec-2024",
    }
    assert report["totals"] == {"hits": 6, "channels": 2}
    assert report["by_status"] == [{"key": "confirmed", "count": 5}, {"key": "new", "count": 1}]
    assert report["by_channel"][1] == {"key": HOSTILE_TITLE, "count": 2}
    assert report["removal"]["total"]["removal_rate"] == 1 / 3
    assert report["removal"]["by_recipient"][0]["median_hours_to_removal"] == 5.5


async def test_single_channel_and_single_file() -> None:
    doc = await render([row(1)])
    assert [len(g["hits"]) for g in doc["channels"]] == [1]
    doc = await render([row(1, chat_id=None)])
    assert doc["channels"][0]["chat_id"] is None


async def test_empty_report_is_valid_json() -> None:
    doc = await render([], empty_summary())
    assert doc["channels"] == []
    assert doc["report"]["removal"]["total"] is None
    assert doc["report"]["totals"] == {"hits": 0, "channels": 0}


async def test_one_hit_per_line() -> None:
    out = io.BytesIO()
    await write_report(ReportFormat.JSON, sample_summary(), stream(sample_rows()), out)
    lines = out.getvalue().decode().splitlines()
    assert sum(line.startswith('{"hit_id": ') for line in lines) == 6
