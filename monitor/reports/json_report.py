"""The JSON report: one document, the summary first, then the hits grouped by channel.

    {"report": {...summary...},
     "channels": [{"chat_id": ..., "title": ..., "username": ..., "hits": [{...}, ...]}, ...]}

It is written piece by piece (one ``json.dumps`` per hit, one hit per line) so a report of
millions of hits never sits in memory, yet the result is a single valid JSON document. Hits
without a channel (local files) form the last group, with ``chat_id`` null. Hit keys are
``columns.HIT_COLUMNS``; times are ISO 8601 strings, in UTC (``...Z``) and local time.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

from monitor.domain import RemovalStats, ReportRow, ReportSummary, jsonable
from monitor.reports.columns import (
    CHANNEL_COLUMNS,
    ChannelGroups,
    flatten,
    local_iso,
    utc_iso,
    zone,
)
from monitor.reports.sink import BinaryWriter, TextChunks


def _dumps(value: Any) -> str:
    """Compact JSON; a filter value of an unforeseen type (a Path, say) is written as text."""
    return json.dumps(value, ensure_ascii=False, default=str)


def _removal(stats: RemovalStats) -> dict[str, Any]:
    data: dict[str, Any] = jsonable(stats)
    data["removal_rate"] = stats.removal_rate
    return data


def summary_json(summary: ReportSummary, tz: ZoneInfo) -> dict[str, Any]:
    """The ``report`` object: everything known before the rows stream."""
    total = summary.removal_total
    return {
        "title": "Hit report",
        "generated_at_utc": utc_iso(summary.generated_at),
        "generated_at_local": local_iso(summary.generated_at, tz),
        "timezone": summary.timezone,
        "period": {
            "since_utc": utc_iso(summary.since),
            "since_local": local_iso(summary.since, tz),
            "until_utc": utc_iso(summary.until),
            "until_local": local_iso(summary.until, tz),
        },
        "filters": jsonable(summary.filters),
        "totals": {"hits": summary.total_hits, "channels": summary.channels},
        # Lists of {key, count}, not objects: two channels may share a label.
        "by_status": jsonable(summary.by_status),
        "by_bank": jsonable(summary.by_bank),
        "by_day": jsonable(summary.by_day),
        "by_channel": jsonable(summary.by_channel),
        "removal": {
            "total": None if total is None else _removal(total),
            "by_channel": [_removal(s) for s in summary.removal_by_channel],
            "by_recipient": [_removal(s) for s in summary.removal_by_recipient],
        },
    }


def _group_head(row: ReportRow) -> str:
    return (
        f'{{"chat_id": {_dumps(row.chat_id)}, "title": {_dumps(row.channel_title)}, '
        f'"username": {_dumps(row.channel_username)}, "hits": [\n'
    )


async def write_json(
    summary: ReportSummary, rows: AsyncIterator[ReportRow], out: BinaryWriter
) -> int:
    """Write the document; returns the number of hits written."""
    tz = zone(summary.timezone)
    text = TextChunks(out)
    text.write(f'{{"report": {_dumps(summary_json(summary, tz))},\n"channels": [\n')
    groups = ChannelGroups()
    count = 0
    async for row in rows:
        if groups.starts_group(row):
            text.write(("\n]},\n" if count else "") + _group_head(row))
        elif count:
            text.write(",\n")
        hit = flatten(row, tz)
        for key in CHANNEL_COLUMNS:  # said once, in the group
            del hit[key]
        text.write(_dumps(hit))
        count += 1
    text.write("\n]}]}\n" if count else "]}\n")
    text.flush()
    return count
