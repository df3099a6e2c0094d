"""Hit reports for ``monitor report``: CSV, JSON and a self-contained HTML page.

``write_report`` streams the rows into the chosen format; ``ReportSink`` is where the bytes go (a
file written atomically with mode 0o600, or stdout) and yields their SHA-256 and size.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from enum import StrEnum

from monitor.domain import ReportRow, ReportSummary
from monitor.reports.csv_report import write_csv
from monitor.reports.html_report import write_html
from monitor.reports.json_report import write_json
from monitor.reports.sink import BinaryWriter, ReportSink

__all__ = ["BinaryWriter", "ReportFormat", "ReportSink", "write_report"]


class ReportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"
    HTML = "html"


Renderer = Callable[[ReportSummary, AsyncIterator[ReportRow], BinaryWriter], Awaitable[int]]

_RENDERERS: dict[ReportFormat, Renderer] = {
    ReportFormat.CSV: write_csv,
    ReportFormat.JSON: write_json,
    ReportFormat.HTML: write_html,
}


async def write_report(
    fmt: ReportFormat,
    summary: ReportSummary,
    rows: AsyncIterator[ReportRow],
    out: BinaryWriter,
) -> int:
    """Render ``rows`` (grouped by channel, files last) to ``out``; returns the hits written.

    ``rows`` is consumed once, row by row, and never collected. ``out`` is any binary stream or a
    ``ReportSink``; it is flushed at the end, not closed.
    """
    return await _RENDERERS[ReportFormat(fmt)](summary, rows, out)
