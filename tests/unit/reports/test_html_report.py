from __future__ import annotations

import io
from collections import Counter
from html.parser import HTMLParser

from monitor.domain import ReportRow, ReportSummary
from monitor.reports import ReportFormat, write_report
from tests.unit.reports.samples import (
    ALPHA,
    HOSTILE,
    HOSTILE_TITLE,
    empty_summary,
    sample_rows,
    sample_summary,
    stream,
)

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "wbr", "source"}
SVG_LEAVES = {"rect", "line"}  # written self-closed: <rect .../> (HTMLParser sees start+end)
RESOURCE_ATTRS = {"src", "srcset", "action", "formaction", "poster", "data", "background"}


class Page(HTMLParser):
    """Every tag with its attributes and the text inside it; checks that tags nest properly."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.texts: dict[int, list[str]] = {}
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        if tag not in VOID:
            self.stack.append((tag, attributes))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, f"</{tag}> closes nothing"
        assert self.stack[-1][0] == tag, f"</{tag}> closes <{self.stack[-1][0]}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        for tag, attrs in self.stack:
            if tag in ("h3", "title", "figcaption"):
                self.texts.setdefault(id(attrs), []).append(data)

    def find(self, tag: str, cls: str | None = None) -> list[dict[str, str]]:
        return [
            a
            for t, a in self.tags
            if t == tag and (cls is None or cls in a.get("class", "").split())
        ]


async def render(rows: list[ReportRow], summary: ReportSummary | None = None) -> str:
    out = io.BytesIO()
    count = await write_report(ReportFormat.HTML, summary or sample_summary(), stream(rows), out)
    assert count == len(rows)
    return out.getvalue().decode("utf-8")


async def test_page_is_well_formed_with_one_row_per_hit() -> None:
    page = Page(await render(sample_rows()))
    assert page.stack == []
    assert Counter(a["data-hit-id"] for a in page.find("tr", "hit")) == Counter(
        str(i) for i in range(1, 7)
    )
    sections = page.find("section", "channel")
    assert [a.get("data-chat-id") for a in sections] == [str(ALPHA), str(HOSTILE), None]
    assert "files" in sections[2]["class"]


async def test_hostile_text_is_escaped_and_shown_verbatim() -> None:
    html = await render(sample_rows())
    page = Page(html)
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert not page.find("script")
    assert not page.find("img")
    headings = ["".join(texts) for texts in page.texts.values()]
    assert any(HOSTILE_TITLE in h for h in headings)  # the reader sees the title as text
    assert "<img src=x onerror=alert(1)>" in "".join(page.text)  # the hostile label, as text


async def test_nothing_can_be_fetched() -> None:
    html = await render(sample_rows())
    page = Page(html)
    csp = [
        a["content"] for a in page.find("meta") if a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert len(csp) == 1
    assert "default-src 'none'" in csp[0]
    assert "script-src" not in csp[0]
    for tag, attrs in page.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed", "img", "base", "form")
        assert not RESOURCE_ATTRS & set(attrs), (tag, attrs)
        assert "style" not in attrs
        assert not any(k.startswith("on") for k in attrs)
        for key in ("href", "xlink:href"):
            if key in attrs:
                assert attrs[key].startswith("https://t.me/"), attrs
    assert "url(" not in html
    assert "@import" not in html


async def test_links_are_plain_telegram_links_only() -> None:
    page = Page(await render(sample_rows()))
    links = page.find("a")
    assert [a["href"] for a in links] == [
        "https://t.me/alpha/101",
        "https://t.me/alpha/102",
        "https://t.me/alpha/103",
        "https://t.me/evil_chan/4",
    ]  # hit 5's javascript: link stays text
    assert all(a["rel"] == "noreferrer noopener" for a in links)
    assert "javascript:alert(1)" in "".join(page.text)


async def test_header_summary_and_times() -> None:
    html = await render(sample_rows())
    text = " ".join(Page(html).text)
    assert "<title>Hit report</title>" in html
    assert "2024-08-26 00:00:00 UTC" in text  # period start, UTC
    assert "2024-08-26 09:00:00 KST" in text  # and local
    assert "2024-08-26 12:01:00 KST" in text  # a hit's local post time
    assert "Asia/Seoul" in text
    assert "status: confirmed, new; bank: ncmec-2024" in text
    assert "not reported" in text
    assert "time to removal" in text
    assert "5.5 h" in text


async def test_charts_are_inline_svg_with_one_bar_per_item() -> None:
    page = Page(await render(sample_rows()))
    charts = [a["data-chart"] for a in page.find("figure", "chart")]
    assert charts == [
        "hits-per-day",
        "hits-per-channel",
        "removal-by-channel",
        "removal-by-recipient",
    ]
    assert len(page.find("svg")) == 4
    assert len(page.find("rect", "bar")) == 3 + 3 + 2 + 2


async def test_empty_report_says_so() -> None:
    html = await render([], empty_summary())
    page = Page(html)
    assert page.stack == []
    assert "No hits in this period." in page.text
    assert not page.find("tr", "hit")
    assert not page.find("svg")
    assert "No hit in this report has been reported for removal." in "".join(page.text)


async def test_no_removal_data_draws_no_removal_charts() -> None:
    summary = sample_summary()
    summary = ReportSummary(
        **{f: getattr(summary, f) for f in ReportSummary.__dataclass_fields__}
        | {"removal_by_channel": (), "removal_by_recipient": (), "removal_total": None}
    )
    page = Page(await render(sample_rows(), summary))
    assert [a["data-chart"] for a in page.find("figure", "chart")] == [
        "hits-per-day",
        "hits-per-channel",
    ]
