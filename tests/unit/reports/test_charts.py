from __future__ import annotations

import re

from monitor.domain import Count, RemovalStats
from monitor.reports.charts import (
    MAX_BARS,
    escape,
    hits_per_channel,
    hits_per_day,
    removal_rate,
)


def bars(svg: str) -> list[str]:
    return re.findall(r'<rect class="bar"[^>]*>', svg)


def heights(svg: str) -> list[float]:
    return [float(h) for h in re.findall(r'<rect class="bar"[^>]*height="([\d.]+)"', svg)]


def test_days_without_hits_get_empty_bars() -> None:
    svg = hits_per_day([Count("2024-08-26", 4), Count("2024-08-29", 2)])
    assert len(bars(svg)) == 4
    assert heights(svg) == [160.0, 0.0, 0.0, 80.0]
    assert "2024-08-27: 0 hits" in svg


def test_month_boundary_and_single_day() -> None:
    assert len(bars(hits_per_day([Count("2024-02-28", 1), Count("2024-03-01", 1)]))) == 3
    assert len(bars(hits_per_day([Count("2024-08-26", 7)]))) == 1


def test_empty_series_draw_nothing() -> None:
    assert hits_per_day([]) == ""
    assert hits_per_channel([]) == ""
    assert removal_rate("r", "Removal", []) == ""


def test_channel_labels_are_escaped_and_long_ones_shortened() -> None:
    long_title = "<b>" + "x" * 100
    svg = hits_per_channel([Count(long_title, 3), Count("a&b", 1)])
    assert "<b>" not in svg
    assert "&lt;b&gt;" + "x" * 28 + "…" in svg  # the label, shortened
    assert f"<title>{escape(long_title)}</title>" in svg  # the full title as a tooltip
    assert "a&amp;b" in svg
    assert len(bars(svg)) == 2


def test_only_the_top_channels_are_drawn() -> None:
    counts = [Count(f"c{i}", 100 - i) for i in range(MAX_BARS + 5)]
    svg = hits_per_channel(counts)
    assert len(bars(svg)) == MAX_BARS
    assert f"top {MAX_BARS} of {MAX_BARS + 5}" in svg


def test_removal_rate_skips_groups_never_reported() -> None:
    stats = [
        RemovalStats("a", reported=4, removed=3, inaccessible=0, up=1, unchecked=0),
        RemovalStats("b", reported=0, removed=0, inaccessible=0, up=0, unchecked=0),
        RemovalStats("c", reported=2, removed=0, inaccessible=1, up=1, unchecked=0),
    ]
    svg = removal_rate("removal-by-channel", "Removal rate by channel", stats)
    assert len(bars(svg)) == 2
    assert "75% of 4" in svg
    assert "0% of 2" in svg
    assert 'data-chart="removal-by-channel"' in svg


def test_escape_drops_control_characters() -> None:
    assert escape("a\x00b\x1bc\td\ne") == "abc\td\ne"
    assert escape(None) == ""
    assert escape("\"<&>'") == "&quot;&lt;&amp;&gt;&#x27;"
