"""The HTML report: one self-contained page to read, archive or print.

Safe to open anywhere: inline CSS, charts as inline SVG (``charts``), no script, no external
font, image, style or script, and a Content-Security-Policy that forbids fetching anything, so
even a hostile channel title that slipped past escaping could not make the page reach out. Media
is never embedded or referenced: a hit is described by its hashes, and a Telegram message by a
plain ``https://t.me/...`` link the reader may choose to open. Every value is escaped.

Layout: header (period, generation time, filters), summary tables, charts, then one
``<section class="channel" data-chat-id="...">`` per channel with a ``<tr class="hit"
data-hit-id="...">`` per hit; hits without a channel (local files) come last, in
``<section class="channel files">``. Rows stream straight to the output, one at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitor.domain import Count, RemovalStats, ReportRow, ReportSummary
from monitor.reports.charts import escape, hits_per_channel, hits_per_day, removal_rate
from monitor.reports.columns import ChannelGroups, as_utc, hours_to_removal, utc_iso, zone
from monitor.reports.sink import BinaryWriter, TextChunks

TITLE = "Hit report"
# Nothing may be fetched: no script, font, frame or remote image; only the inline style.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
EMPTY = "No hits in this period."
_TELEGRAM_LINK = "https://t.me/"
_UTC_NAMES = ("UTC", "Etc/UTC")

CSS = """
:root { color-scheme: light; }
body { font: 14px/1.4 system-ui, sans-serif; color: #1a1a1a; margin: 0 auto;
  max-width: 1500px; padding: 1rem 1.5rem; }
h1 { margin: 0 0 .5rem; } h2 { border-bottom: 2px solid #333; margin-top: 2rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.meta dt { font-weight: 600; } dl.meta dd { margin: 0; }
.notice { background: #fff4d6; border: 1px solid #e0c060; padding: .4rem .6rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
table.hits { width: 100%; }
th, td { border: 1px solid #c8c8c8; padding: .25rem .4rem; vertical-align: top;
  text-align: left; }
th { background: #eee; } td.num { text-align: right; }
.summary-tables { display: flex; flex-wrap: wrap; gap: 0 2rem; }
caption { text-align: left; font-weight: 600; }
code { font: 12px ui-monospace, monospace; word-break: break-all; }
.k { color: #666; font-size: 90%; } .local { color: #555; }
section.channel h3 { margin: 1.5rem 0 .3rem; }
.username, .chat-id { color: #555; font-weight: normal; }
.tier-exact, .tier-near-exact { font-weight: 700; }
.removal-removed { color: #17661a; } .removal-up { color: #a40000; }
.empty { font-size: 1.2rem; font-weight: 600; padding: 1rem 0; }
figure.chart { margin: 1rem 0; } figure.chart svg { max-width: 100%; height: auto; }
figcaption { font-weight: 600; }
svg .bar { fill: #3b6ea5; } svg .axis { stroke: #888; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
footer { margin-top: 2rem; color: #555; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 9pt; }
  a { color: inherit; text-decoration: none; }
  a[href]::after { content: " <" attr(href) ">"; font-size: 80%; }
  thead { display: table-header-group; }
  tr, figure.chart, .summary-tables table { break-inside: avoid; }
  section.channel h3 { break-after: avoid; }
  svg .bar, th, .notice { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
"""

HIT_HEADERS = (
    "Hit",
    "Posted",
    "Message",
    "Media",
    "Match",
    "List entry",
    "First seen / recorded",
    "Takedown",
)

REMOVAL_HEADERS = (
    "Reported",
    "Removed",
    "Inaccessible",
    "Still up",
    "Unchecked",
    "Removal rate",
    "Median hours to removal",
    "Max hours to removal",
)


def _human(value: datetime, tz: ZoneInfo) -> str:
    """``2024-08-26 03:00:00 UTC`` and, unless the zone is UTC, ``/ 2024-08-26 12:00:00 KST``."""
    utc = as_utc(value)
    text = f'<time datetime="{utc_iso(utc)}">{utc:%Y-%m-%d %H:%M:%S} UTC</time>'
    if tz.key not in _UTC_NAMES:
        local = utc.astimezone(tz)
        text += f' <span class="local">/ {escape(f"{local:%Y-%m-%d %H:%M:%S %Z}")}</span>'
    return text


def _when(value: datetime | None, tz: ZoneInfo, missing: str = "") -> str:
    return escape(missing) if value is None else _human(value, tz)


def _field(key: str, value: str) -> str:
    """A labelled line inside a cell; ``value`` is already HTML."""
    return f'<div><span class="k">{escape(key)}</span> {value}</div>'


def _hits(count: int) -> str:
    return f"{count} hit" if count == 1 else f"{count} hits"


def _filters(filters: Mapping[str, Any]) -> str:
    given = {k: v for k, v in filters.items() if v not in (None, "", [], ())}
    if not given:
        return "none (all hits)"
    return "; ".join(
        f"{escape(k)}: "
        + escape(", ".join(map(str, v)) if isinstance(v, (list, tuple, set)) else v)
        for k, v in given.items()
    )


def _head() -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{TITLE}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
    )


def _header(summary: ReportSummary, tz: ZoneInfo) -> str:
    since = _when(summary.since, tz, "the first hit")
    until = _when(summary.until, tz, "the time of the report")
    return (
        f'<header>\n<h1>{TITLE}</h1>\n<dl class="meta">\n'
        f"<dt>Period</dt><dd>{since} — {until}</dd>\n"
        f"<dt>Generated</dt><dd>{_human(summary.generated_at, tz)}</dd>\n"
        f"<dt>Local time zone</dt><dd>{escape(summary.timezone)}</dd>\n"
        f"<dt>Filters</dt><dd>{_filters(summary.filters)}</dd>\n</dl>\n"
        '<p class="notice">Confidential. This report describes known abuse material by hash '
        "only and contains no media; links open the messages on Telegram.</p>\n</header>\n"
    )


def _count_table(caption: str, key_header: str, counts: Sequence[Count]) -> str:
    rows = "".join(
        f'<tr><td><bdi>{escape(c.key)}</bdi></td><td class="num">{c.count}</td></tr>'
        for c in counts
    )
    return (
        f"<table><caption>{escape(caption)}</caption><thead><tr><th>{escape(key_header)}</th>"
        f"<th>Hits</th></tr></thead><tbody>{rows}</tbody></table>\n"
    )


def _rate(stats: RemovalStats) -> str:
    return "" if stats.removal_rate is None else f"{stats.removal_rate:.0%}"


def _hours(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _removal_table(caption: str, key_header: str, stats: Sequence[RemovalStats]) -> str:
    headers = (key_header, *REMOVAL_HEADERS)
    rows = "".join(
        f"<tr><td><bdi>{escape(s.key)}</bdi></td>"
        + "".join(
            f'<td class="num">{v}</td>'
            for v in (s.reported, s.removed, s.inaccessible, s.up, s.unchecked, _rate(s))
        )
        + f'<td class="num">{_hours(s.median_hours_to_removal)}</td>'
        + f'<td class="num">{_hours(s.max_hours_to_removal)}</td></tr>'
        for s in stats
    )
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return (
        f"<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table>\n"
    )


def _removal(summary: ReportSummary) -> str:
    total = summary.removal_total
    if total is None or total.reported == 0:
        return "<p>No hit in this report has been reported for removal.</p>\n"
    return (
        f'<p class="removal-total">Reported: <strong>{total.reported}</strong> · removed: '
        f"<strong>{total.removed}</strong> ({_rate(total)}) · median time to removal: "
        f"<strong>{_hours(total.median_hours_to_removal) or '—'}</strong> hours</p>\n"
        '<div class="summary-tables">\n'
        + _removal_table("By channel", "Channel", summary.removal_by_channel)
        + _removal_table("By recipient", "Reported to", summary.removal_by_recipient)
        + "</div>\n"
    )


def _summary(summary: ReportSummary) -> str:
    return (
        '<section class="summary">\n<h2>Summary</h2>\n'
        f'<p class="totals"><strong>{_hits(summary.total_hits)}</strong> in '
        f"<strong>{summary.channels}</strong> channels</p>\n"
        '<div class="summary-tables">\n'
        + _count_table("By review status", "Status", summary.by_status)
        + _count_table("By bank", "Bank", summary.by_bank)
        + "</div>\n<h3>Takedowns</h3>\n"
        + _removal(summary)
        + "</section>\n"
    )


def _charts(summary: ReportSummary) -> str:
    charts = (
        hits_per_day(summary.by_day)
        + hits_per_channel(summary.by_channel)
        + removal_rate("removal-by-channel", "Removal rate by channel", summary.removal_by_channel)
        + removal_rate(
            "removal-by-recipient", "Removal rate by recipient", summary.removal_by_recipient
        )
    )
    return f'<section class="charts">\n<h2>Charts</h2>\n{charts}</section>\n' if charts else ""


def _open_channel(row: ReportRow) -> str:
    head = "".join(f"<th>{h}</th>" for h in HIT_HEADERS)
    table = f'<table class="hits"><thead><tr>{head}</tr></thead><tbody>\n'
    if row.chat_id is None:
        return (
            '<section class="channel files">\n<h3>Files (not from a Telegram channel)</h3>\n'
            + table
        )
    username = f' <span class="username">@{escape(row.channel_username)}</span>'
    return (
        f'<section class="channel" data-chat-id="{row.chat_id}">\n<h3><bdi class="title">'
        f"{escape(row.channel_title or '(no title)')}</bdi>"
        f"{username if row.channel_username else ''}"
        f' <span class="chat-id">id {row.chat_id}</span></h3>\n{table}'
    )


def _close_channel(hits: int) -> str:
    return f'</tbody></table>\n<p class="group-count">{_hits(hits)}</p>\n</section>\n'


def _message(row: ReportRow) -> str:
    """A t.me link for the message (only ``https://t.me/`` links become links), or the path."""
    parts = []
    if row.link and row.link.startswith(_TELEGRAM_LINK):
        link = escape(row.link)
        parts.append(f'<a href="{link}" rel="noreferrer noopener">{link}</a>')
    elif row.link:
        parts.append(escape(row.link))
    if row.message_id is not None:
        parts.append(_field("message", str(row.message_id)))
    if row.path:
        parts.append(_field("path", f"<code>{escape(row.path)}</code>"))
    parts.append(_field("source", escape(row.source_kind)))
    return "".join(parts)


def _media(row: ReportRow) -> str:
    return (
        escape(row.media_kind)
        + _field("sha256", f"<code>{escape(row.sha256)}</code>")
        + _field("md5", f"<code>{escape(row.md5)}</code>")
        + (_field("pdq", f"<code>{escape(row.pdq)}</code>") if row.pdq else "")
    )


def _match(row: ReportRow) -> str:
    return (
        f'<span class="tier-{escape(row.tier)}">{escape(row.tier)}</span>'
        + _field(row.hash_type, f"distance {row.distance}")
        + _field("variant", escape(row.variant))
        + _field("kind", escape(row.match_kind))
        + (
            _field("at", f"{_clock(row.matched_from_s)} to {_clock(row.matched_to_s)}")
            if row.matched_from_s is not None
            else ""
        )
        + (_field("coverage", f"{row.coverage:.0%}") if row.coverage is not None else "")
    )


def _clock(seconds: float | None) -> str:
    """Seconds into the posted video as m:ss (h:mm:ss past an hour)."""
    if seconds is None:
        return "?"
    minutes, secs = divmod(round(max(seconds, 0.0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _entry(row: ReportRow) -> str:
    return (
        f"<bdi>{escape(row.bank)}</bdi> #{row.entry_id}"
        + _field("value", f"<code>{escape(row.entry_value)}</code>")
        + (_field("case", f"<bdi>{escape(row.case_id)}</bdi>") if row.case_id else "")
        + (_field("label", f"<bdi>{escape(row.label)}</bdi>") if row.label else "")
    )


def _takedown(row: ReportRow, tz: ZoneInfo) -> str:
    if row.removal_status is None:
        return '<span class="removal-none">not reported</span>'
    hours = hours_to_removal(row)
    return (
        f'<span class="removal-{escape(row.removal_status)}">{escape(row.removal_status)}</span>'
        + _field("to", f"<bdi>{escape(row.reported_to)}</bdi>")
        + _field("reported", _when(row.reported_at, tz))
        + (_field("removed", _human(row.removed_at, tz)) if row.removed_at else "")
        + (_field("time to removal", f"{hours:.1f} h") if hours is not None else "")
    )


def _hit_row(row: ReportRow, tz: ZoneInfo) -> str:
    if row.posted_at is not None:
        posted = _human(row.posted_at, tz)
    else:
        posted = _field("seen", _when(row.seen_at, tz))
    cells = (
        f"#{row.hit_id}" + _field("review", escape(row.review_status)),
        posted,
        _message(row),
        _media(row),
        _match(row),
        _entry(row),
        _field("first seen", _human(row.first_seen_at, tz))
        + _field("recorded", _human(row.recorded_at, tz)),
        _takedown(row, tz),
    )
    tds = "".join(f"<td>{c}</td>" for c in cells)
    return f'<tr class="hit" data-hit-id="{row.hit_id}">{tds}</tr>\n'


async def write_html(
    summary: ReportSummary, rows: AsyncIterator[ReportRow], out: BinaryWriter
) -> int:
    """Write the page; returns the number of hits written."""
    tz = zone(summary.timezone)
    text = TextChunks(out)
    text.write(_head() + _header(summary, tz) + _summary(summary) + _charts(summary))
    text.write('<main class="hits">\n<h2>Hits</h2>\n')
    groups = ChannelGroups()
    count = in_channel = 0
    async for row in rows:
        if groups.starts_group(row):
            text.write((_close_channel(in_channel) if count else "") + _open_channel(row))
            in_channel = 0
        text.write(_hit_row(row, tz))
        count += 1
        in_channel += 1
    text.write(_close_channel(in_channel) if count else f'<p class="empty">{EMPTY}</p>\n')
    text.write(f"</main>\n<footer>End of report: {_hits(count)}.</footer>\n</body>\n</html>\n")
    text.flush()
    return count
