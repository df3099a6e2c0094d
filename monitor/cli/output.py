"""Rendering shared by commands: JSON lines, CSV, tables and times in UTC and local time."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from monitor.domain import Signals, jsonable
from monitor.reports.csv_report import guard


def signals_json(signals: Signals) -> dict[str, Any]:
    data = jsonable(signals)
    assert isinstance(data, dict)
    return data


def print_json_line(obj: Any, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    stream.write(json.dumps(jsonable(obj), ensure_ascii=False, sort_keys=False) + "\n")
    stream.flush()


def write_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], stream: TextIO) -> None:
    writer = csv.DictWriter(stream, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(v) for k, v in row.items()})


def _csv_value(value: Any) -> Any:
    """A CSV cell: ISO 8601 times, and text that a spreadsheet would run as a formula (a
    channel titled ``=HYPERLINK(...)``) made inert (see ``monitor.reports.csv_report``)."""
    if isinstance(value, datetime):
        return value.isoformat()
    return guard(value)


def table(
    console: Console,
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    wrap: Sequence[str] = (),
) -> None:
    """A table; only the ``wrap`` columns may fold, the others keep each value on one line."""
    t = Table(title=title, show_lines=False, header_style="bold", box=None, pad_edge=False)
    for col in columns:
        t.add_column(col, overflow="fold", no_wrap=col not in wrap)
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    console.print(t)


def short_time(value: datetime | None, tz: str) -> str:
    """``2024-08-26 09:30 KST``: the configured zone, minutes, for tables."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")


def format_time(value: datetime | None, tz: str) -> str:
    """``2024-08-26 12:00 UTC`` plus the local time when the configured zone is not UTC."""
    if value is None:
        return ""
    utc = value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if tz in ("UTC", "Etc/UTC"):
        return utc
    local = value.astimezone(ZoneInfo(tz))
    return f"{utc} ({local.strftime('%Y-%m-%d %H:%M:%S %Z')})"
