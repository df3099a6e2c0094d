"""`monitor report`: CSV, JSON and HTML exports parsed back and compared with the store; every
export audited with its parameters and the SHA-256 of the file."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
from html.parser import HTMLParser
from pathlib import Path

from monitor.domain import HitFilter, ReviewStatus
from monitor.store import Store
from tests.e2e.conftest import Run
from tests.e2e.seeded import Seeded


def store_hits(seeded: Seeded) -> dict[int, dict[str, object]]:
    """What the store says about every hit, for comparison with the exports."""

    async def go() -> dict[int, dict[str, object]]:
        store = await Store.open(seeded.url)
        try:
            out: dict[int, dict[str, object]] = {}
            for hit in await store.list_hits(HitFilter()):
                ev = await store.hit_evidence(hit.id)
                src = hit.source
                assert src is not None
                out[hit.id] = {
                    "sha256": ev.media.sha256,
                    "md5": ev.media.md5,
                    "pdq": ev.media.pdq,
                    "link": src.link,
                    "chat_id": src.chat_id,
                    "message_id": src.message_id,
                    "bank": hit.bank,
                    "case_id": hit.case_id,
                    "distance": hit.distance,
                    "tier": hit.tier.value,
                    "review_status": hit.review_status.value,
                }
            return out
        finally:
            await store.close()

    return asyncio.run(go())


def audit_of(seeded: Seeded) -> list[dict[str, object]]:
    async def go() -> list[dict[str, object]]:
        store = await Store.open(seeded.url)
        try:
            return [
                {"actor": a.actor, "subject": a.subject, **a.details}
                for a in await store.audit_entries(limit=50)
                if a.action == "report.export"
            ]
        finally:
            await store.close()

    return asyncio.run(go())


def test_csv_export_matches_the_store_and_is_audited(
    seeded_cli: Run, seeded: Seeded, tmp_path: Path
) -> None:
    h = seeded.hits
    code, _, err = seeded_cli("hits", "review", str(h["a2"]), "--reject", "--by", "kim")
    assert code == 0, err
    code, _, err = seeded_cli(
        "takedown",
        "mark",
        str(h["a1"]),
        "--reported-to",
        "Telegram",
        "--reference",
        "T-1",
        "--by",
        "park",
    )
    assert code == 0, err
    out = tmp_path / "report.csv"
    code, _, err = seeded_cli(
        "report",
        "--since",
        "2024-08-26",
        "--until",
        "2024-08-26",
        "--format",
        "csv",
        "--output",
        str(out),
        "--by",
        "park",
    )
    assert code == 0, err
    assert "4 hit(s) written" in err  # the rejected one is left out by default
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8"))))
    expected = store_hits(seeded)
    assert sorted(int(r["hit_id"]) for r in rows) == sorted(i for i in expected if i != h["a2"])
    # Grouped per channel by title ("=HYPERLINK..." sorts before "Class 3-2"), then the file.
    assert [int(r["hit_id"]) for r in rows] == [h["b1"], h["b_same"], h["a1"], h["file"]]
    for row in rows:
        want = expected[int(row["hit_id"])]
        assert row["sha256"] == want["sha256"]
        assert row["md5"] == want["md5"]
        assert row["pdq"] == want["pdq"]
        assert row["bank"] == want["bank"]
        assert row["case_id"] == want["case_id"]
        assert int(row["distance"]) == want["distance"]
        assert row["link"] == (want["link"] or "")
    a1 = rows[2]
    assert a1["posted_at_utc"] == "2024-05-01T12:00:00Z"
    assert a1["posted_at_local"] == "2024-05-01T21:00:00+09:00"
    assert a1["removal_status"] == "unchecked"
    assert a1["reported_to"] == "Telegram"
    assert rows[0]["channel_title"].startswith("'=")  # no formula in a spreadsheet
    assert rows[0]["removal_status"] == ""  # never reported

    [audit] = audit_of(seeded)
    assert audit["actor"] == "park"
    assert audit["subject"] == str(out.resolve())
    assert audit["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert audit["hits"] == 4
    assert audit["format"] == "csv"
    assert audit["filters"]["since"] == "2024-08-26T00:00:00+00:00"  # type: ignore[index]
    assert audit["timezone"] == "Asia/Seoul"


def test_json_export_to_stdout_grouped_per_channel(seeded_cli: Run, seeded: Seeded) -> None:
    h = seeded.hits
    code, out, err = seeded_cli(
        "report", "--since", "2024-08-01", "--status", "new", "--format", "json", "--by", "kim"
    )
    assert code == 0, err
    doc = json.loads(out)
    groups = [(g["chat_id"], [x["hit_id"] for x in g["hits"]]) for g in doc["channels"]]
    assert groups == [
        (-1001000000002, [h["b1"], h["b_same"]]),
        (-1001000000001, [h["a1"], h["a2"]]),
        (None, [h["file"]]),
    ]
    assert doc["report"]["totals"] == {"hits": 5, "channels": 2}
    expected = store_hits(seeded)
    for group in doc["channels"]:
        for hit in group["hits"]:
            assert hit["sha256"] == expected[hit["hit_id"]]["sha256"]
            assert hit["review_status"] == ReviewStatus.NEW.value
    [audit] = audit_of(seeded)
    assert audit["subject"] == "stdout"
    assert audit["sha256"] == hashlib.sha256(out.encode("utf-8")).hexdigest()


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_export_per_channel_without_media(
    seeded_cli: Run, seeded: Seeded, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    code, _, err = seeded_cli(
        "report",
        "--since",
        "2024-08-26",
        "--channel",
        "@class32",
        "--channel",
        "1000000002",
        "--format",
        "html",
        "-o",
        str(out),
        "--by",
        "kim",
    )
    assert code == 0, err
    parser = _Tags()
    parser.feed(out.read_text("utf-8"))
    sections = [
        a.get("data-chat-id")
        for t, a in parser.tags
        if t == "section" and a.get("class") == "channel"
    ]
    assert sections == ["-1001000000002", "-1001000000001"]
    hit_rows = [
        a.get("data-hit-id") for t, a in parser.tags if t == "tr" and a.get("class") == "hit"
    ]
    assert len(hit_rows) == 4
    assert not [t for t, _ in parser.tags if t in ("img", "script", "link", "iframe")]
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    # An existing file is not overwritten without --overwrite, and stays as it was.
    before = out.read_bytes()
    code, _, err = seeded_cli(
        "report", "--since", "2024-08-26", "--format", "html", "-o", str(out), "--by", "kim"
    )
    assert code == 4
    assert out.read_bytes() == before
    assert len(audit_of(seeded)) == 1


def test_report_needs_since(seeded_cli: Run) -> None:
    code, _, err = seeded_cli("report", "--format", "csv")
    assert code == 2
    assert "--since" in err
