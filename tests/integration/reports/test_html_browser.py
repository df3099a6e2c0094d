"""The HTML report in a real browser: it renders, its charts draw, and it fetches nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from monitor.domain import ReportRow, ReportSummary
from monitor.reports import ReportFormat, ReportSink, write_report
from tests.browser import chromium
from tests.unit.reports.samples import (
    HOSTILE_TITLE,
    empty_summary,
    row,
    sample_rows,
    sample_summary,
    stream,
)

CHARTS = {
    "hits-per-day": 3,
    "hits-per-channel": 3,
    "removal-by-channel": 2,
    "removal-by-recipient": 2,
}


class Trap:
    """A local web server that counts every request: a report must never call it."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        trap = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                trap.requests.append(self.path)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def trap() -> Iterator[Trap]:
    t = Trap()
    t.thread.start()
    try:
        yield t
    finally:
        t.server.shutdown()
        t.server.server_close()


def lures(url: str) -> list[ReportRow]:
    """A channel whose every outside text tries to load something from ``url``."""
    return [
        row(
            10,
            chat_id=-1009000000000,
            channel_title=f'<img src="{url}/title.png">' + HOSTILE_TITLE,
            channel_username=f'x" style="background:url({url}/username)',
            label=f'<link rel="stylesheet" href="{url}/label.css">',
            case_id=f"<style>@import url({url}/case.css);</style>",
            reported_to=f'<iframe src="{url}/frame"></iframe>',
            link=f"https://t.me/x/10?<script src={url}/link.js></script>",
            removal_status=sample_rows()[0].removal_status,
            reported_at=sample_rows()[0].reported_at,
            path=f'"><script src="{url}/path.js"></script>',
        )
    ]


async def write(path: Path, summary: ReportSummary, rows: list[ReportRow]) -> None:
    with ReportSink(path) as sink:
        await write_report(ReportFormat.HTML, summary, stream(rows), sink)


async def open_report(path: Path) -> dict[str, Any]:
    """Load the report with JavaScript off; every request and console message is recorded."""
    seen: dict[str, Any] = {"requests": [], "console": [], "errors": []}
    async with chromium() as browser:
        context = await browser.new_context(java_script_enabled=False)
        context.on("request", lambda request: seen["requests"].append(request.url))
        page = await context.new_page()
        page.set_default_timeout(5_000)
        page.on("console", lambda msg: seen["console"].append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
        await page.goto(path.as_uri(), wait_until="load")
        seen["title"] = await page.title()
        seen["sections"] = await page.locator("section.channel").count()
        seen["hits"] = await page.locator("tr.hit").count()
        seen["bars"] = {
            chart: await page.locator(f'figure[data-chart="{chart}"] svg rect.bar').count()
            for chart in CHARTS
        }
        charts = page.locator("figure.chart svg")
        box = await charts.first.bounding_box() if await charts.count() else None
        seen["svg_width"] = box["width"] if box else 0
        seen["titles"] = await page.locator("section.channel h3 .title").all_text_contents()
        seen["elements"] = {
            tag: await page.locator(tag).count()
            for tag in ("img", "script", "link", "iframe", "object", "embed")
        }
        seen["text"] = await page.locator("body").inner_text()
        await page.emulate_media(media="print")
        seen["pdf"] = await page.pdf()
        await context.close()
    return seen


async def test_report_renders_and_fetches_nothing(tmp_path: Path, trap: Trap) -> None:
    report = tmp_path / "report.html"
    await write(report, sample_summary(), sample_rows()[:5] + lures(trap.url) + sample_rows()[5:])
    seen = await open_report(report)

    assert seen["requests"] == [report.as_uri()]  # the file itself, nothing else
    assert trap.requests == []
    assert seen["console"] == []  # a CSP violation would show here
    assert seen["errors"] == []

    assert seen["title"] == "Hit report"
    assert seen["sections"] == 4
    assert seen["hits"] == 7
    assert seen["bars"] == CHARTS
    assert seen["svg_width"] > 300
    assert seen["elements"] == dict.fromkeys(seen["elements"], 0)
    assert HOSTILE_TITLE in seen["titles"]
    assert f'<img src="{trap.url}/title.png">' + HOSTILE_TITLE in seen["titles"]
    assert "2024-08-26 12:01:00 KST" in seen["text"]
    assert seen["pdf"].startswith(b"%PDF")


async def test_empty_report_renders_its_message(tmp_path: Path) -> None:
    report = tmp_path / "empty.html"
    await write(report, empty_summary(), [])
    seen = await open_report(report)
    assert seen["requests"] == [report.as_uri()]
    assert seen["console"] == []
    assert seen["hits"] == 0
    assert "No hits in this period." in seen["text"]
    assert seen["bars"] == dict.fromkeys(CHARTS, 0)
