"""The HTML report's charts, drawn here as inline SVG: no script, no library, nothing fetched.

The report must open offline and must not reach out anywhere (its CSP forbids it), so the charts
are plain ``<rect>`` bars computed in Python. Every label is escaped (channel titles can contain
anything) and every bar carries a ``<title>`` with the exact number, as a tooltip and for screen
readers. Each chart is a ``<figure class="chart" data-chart="...">`` with ``<rect class="bar">``
per bar; an empty series draws nothing (the caller shows the summary tables instead).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import date, timedelta

from monitor.domain import Count, RemovalStats

WIDTH = 720
LABEL_CHARS = 32
MAX_BARS = 25  # horizontal charts: the top entries; the tables list everything

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def escape(value: object) -> str:
    """Text for HTML and inline SVG: escaped, control characters dropped; None is empty."""
    if value is None:
        return ""
    return html.escape(_CONTROL.sub("", str(value)), quote=True)


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _figure(chart: str, caption: str, height: int, body: list[str]) -> str:
    return (
        f'<figure class="chart" data-chart="{chart}"><figcaption>{escape(caption)}</figcaption>'
        f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-label="{escape(caption)}">{"".join(body)}</svg></figure>\n'
    )


def _daily(by_day: Sequence[Count]) -> list[tuple[date, int]]:
    """Every day from the first to the last with hits, zero-filled: the x axis is linear time."""
    counts = {date.fromisoformat(c.key): c.count for c in by_day}
    if not counts:
        return []
    first, last = min(counts), max(counts)
    return [
        (first + timedelta(days=i), counts.get(first + timedelta(days=i), 0))
        for i in range((last - first).days + 1)
    ]


def hits_per_day(by_day: Sequence[Count]) -> str:
    """Vertical bars, one per day (UTC) from the first day with hits to the last."""
    days = _daily(by_day)
    if not days:
        return ""
    left, top, plot_w, plot_h, height = 40, 10, WIDTH - 50, 160, 200
    peak = max(count for _, count in days) or 1
    slot = plot_w / len(days)
    bar_w = min(max(slot * 0.8, 0.5), 40)  # few days: no slabs
    body = [
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}"/>',
        f'<text class="tick" x="{left - 4}" y="{top + 8}" text-anchor="end">{peak}</text>',
        f'<text class="tick" x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
        f'<text class="tick" x="{left}" y="{height - 12}">{days[0][0].isoformat()}</text>',
        f'<text class="tick" x="{left + plot_w}" y="{height - 12}" text-anchor="end">'
        f"{days[-1][0].isoformat()}</text>",
    ]
    for i, (day, count) in enumerate(days):
        bar_h = plot_h * count / peak
        x = left + i * slot + (slot - bar_w) / 2
        body.append(
            f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" width="{bar_w:.1f}" '
            f'height="{bar_h:.1f}"><title>{day.isoformat()}: {count} hits</title></rect>'
        )
    return _figure("hits-per-day", "Hits per day (UTC)", height, body)


def _horizontal(chart: str, caption: str, bars: Sequence[tuple[str, float, str]]) -> str:
    """One bar per (label, fraction of the full width, value text), top to bottom."""
    if not bars:
        return ""
    label_w, bar_w, row_h = 240, 380, 20
    body: list[str] = []
    for i, (label, fraction, value) in enumerate(bars):
        y = 5 + i * row_h
        width = bar_w * min(max(fraction, 0.0), 1.0)
        body.append(
            f'<text class="label" x="{label_w - 6}" y="{y + 14}" text-anchor="end">'
            f"{escape(_short(label))}<title>{escape(label)}</title></text>"
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{width:.1f}" '
            f'height="{row_h - 6}"><title>{escape(label)}: {escape(value)}</title></rect>'
            f'<text class="value" x="{label_w + width + 6:.1f}" y="{y + 14}">{escape(value)}</text>'
        )
    return _figure(chart, caption, 10 + len(bars) * row_h, body)


def _more(caption: str, total: int) -> str:
    return caption if total <= MAX_BARS else f"{caption} (top {MAX_BARS} of {total})"


def hits_per_channel(by_channel: Sequence[Count]) -> str:
    """Horizontal bars of hits per channel, most first, the top ``MAX_BARS``."""
    peak = max((c.count for c in by_channel), default=0) or 1
    bars = [(c.key, c.count / peak, str(c.count)) for c in by_channel[:MAX_BARS]]
    return _horizontal("hits-per-channel", _more("Hits per channel", len(by_channel)), bars)


def removal_rate(chart: str, caption: str, stats: Sequence[RemovalStats]) -> str:
    """Horizontal bars of the share of reported messages removed, for groups with reports."""
    reported = [s for s in stats if s.removal_rate is not None]
    bars = [
        (s.key, s.removed / s.reported, f"{s.removed / s.reported:.0%} of {s.reported}")
        for s in reported[:MAX_BARS]
    ]
    return _horizontal(chart, _more(caption, len(reported)), bars)
