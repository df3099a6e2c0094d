"""The CSV report: a header row, then one RFC 4180 row per hit, for spreadsheets and scripts.

Rows are flat (``columns.COLUMNS``): the channel's id, title and username repeat on every row, and
the grouping by channel is only the row order.

Spreadsheet formula injection: a spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or
``@`` (and some treat a leading tab or carriage return the same way) as a formula, so a channel
titled ``=HYPERLINK("http://x", "click")`` could act when an analyst opens the file. Every TEXT
cell starting with one of those characters (or their full-width forms, which some spreadsheets
fold to ASCII) gets a leading ``'``, which spreadsheets read as "this is text". That covers the
text that comes from outside (channel title and username, label, case id, bank, link, path,
recipients) and costs nothing for the rest (hashes, enum values and ISO times never start with
those). Numbers (chat ids such as -1001234567, distances, hours) are written as numbers and never
prefixed, so they stay numbers in the sheet.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator

from monitor.domain import ReportRow, ReportSummary
from monitor.reports.columns import COLUMNS, Cell, flatten, zone
from monitor.reports.sink import BinaryWriter, TextChunks

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def guard(value: Cell) -> Cell:
    """``value`` made safe for a spreadsheet cell; None becomes the empty cell."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


async def write_csv(
    summary: ReportSummary, rows: AsyncIterator[ReportRow], out: BinaryWriter
) -> int:
    """Write the header and one row per hit; returns the number of hits written."""
    tz = zone(summary.timezone)
    text = TextChunks(out)
    writer = csv.writer(text)  # excel dialect: comma, "-quoting, CRLF line ends (RFC 4180)
    writer.writerow(COLUMNS)
    count = 0
    async for row in rows:
        writer.writerow([guard(v) for v in flatten(row, tz).values()])
        count += 1
    text.flush()
    return count
