"""From `monitor hits list` to a reviewed hit: filters, evidence, review decisions, audit."""

from __future__ import annotations

import asyncio
import csv
import io
import json

from monitor.domain import EntryStatus
from monitor.store import Store
from tests.e2e.conftest import Run
from tests.e2e.seeded import Seeded


def ids_of(out: str) -> list[int]:
    return [json.loads(line)["id"] for line in out.splitlines()]


def test_list_filters(seeded_cli: Run, seeded: Seeded) -> None:
    h = seeded.hits
    code, out, err = seeded_cli("hits", "list", "--format", "json")
    assert code == 0, err
    assert ids_of(out) == [h["file"], h["b_same"], h["b1"], h["a2"], h["a1"]]

    def ids(*args: str) -> list[int]:
        code, out, err = seeded_cli("hits", "list", "--format", "json", *args)
        assert code == 0, err
        return ids_of(out)

    assert ids("--channel", "@class32") == [h["a2"], h["a1"]]
    assert ids("--channel", "https://t.me/class32/11", "--oldest-first") == [h["a1"], h["a2"]]
    assert ids("--channel", "-1001000000002") == [h["b_same"], h["b1"]]
    assert ids("--channel", "1000000002") == [h["b_same"], h["b1"]]  # a bare channel id
    assert ids("--channel", "@class32", "--channel", "-1001000000002") == [
        h["b_same"],
        h["b1"],
        h["a2"],
        h["a1"],
    ]
    assert ids("--min-distance", "3", "--max-distance", "6") == [h["b1"], h["a2"]]
    assert ids("--since", "2024-08-26T10:00", "--until", "2024-08-26T12:00") == [
        h["b1"],
        h["a2"],
    ]
    assert ids("--since", "2024-08-26T20:00+09:00") == [h["b1"], h["b_same"], h["file"]][::-1]
    assert ids("--until", "2024-08-25") == []
    assert ids("--until", "2024-08-26") == list(reversed(list(h.values())))  # the whole day
    assert ids("--status", "confirmed") == []
    assert ids("--not-reported") == ids()
    assert ids("--case", "case-2") == [h["b1"]]
    code, _, err = seeded_cli("hits", "list", "--channel", "@nobody_here")
    assert code == 6
    assert "no channel seen or watched matches '@nobody_here'" in err
    code, _, err = seeded_cli("hits", "list", "--since", "yesterday")
    assert code == 2


def test_list_table_and_csv(seeded_cli: Run, seeded: Seeded) -> None:
    code, out, _ = seeded_cli("hits", "list", "--limit", "2")
    assert code == 0
    assert "https://t.me/class32/11" not in out  # the two newest only
    assert "KST" in out  # local time zone in the table
    code, _, err = seeded_cli("hits", "list", "--limit", "2")
    assert "2 of 5 hits shown" in err
    code, out, _ = seeded_cli("hits", "list", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 5
    b1 = next(r for r in rows if r["id"] == str(seeded.hits["b1"]))
    assert b1["chat_title"] == '\'=HYPERLINK("http://x")'  # no formula in a spreadsheet
    assert b1["chat_id"] == "-1001000000002"


def test_show_has_all_the_evidence(seeded_cli: Run, seeded: Seeded) -> None:
    code, out, err = seeded_cli("hits", "show", str(seeded.hits["a1"]))
    assert code == 0, err
    for expected in (
        "Class 3-2 (@class32) [-1001000000001]",
        "https://t.me/class32/11",
        "posted",
        "captured",
        "2024-08-26 09:00:00 UTC (2024-08-26 18:00:00 KST)",
        "forwarded from",
        "Origin",
        "distance 0 of 31",
        "case-0",
        "Same media seen elsewhere (1)",
        "-1001000000002",
    ):
        assert expected in out, expected
    code, out, _ = seeded_cli("hits", "show", str(seeded.hits["a1"]), "--json")
    data = json.loads(out)
    assert data["hit"]["id"] == seeded.hits["a1"]
    assert [o["hit_ids"] for o in data["other_sightings"]] == [[seeded.hits["b_same"]]]
    assert data["media"]["md5"]
    code, _, err = seeded_cli("hits", "show", "99999")
    assert code == 6


def test_review_flow_is_audited(seeded_cli: Run, seeded: Seeded) -> None:
    h = seeded.hits
    code, out, err = seeded_cli(
        "hits",
        "review",
        str(h["a1"]),
        str(h["a2"]),
        "--confirm",
        "--note",
        "same room",
        "--by",
        "kim",
    )
    assert code == 0, err
    assert f"hit {h['a1']}: confirmed" in out
    code, out, _ = seeded_cli("hits", "list", "--status", "confirmed", "--format", "json")
    assert sorted(ids_of(out)) == sorted([h["a1"], h["a2"]])
    assert {json.loads(line)["reviewed_by"] for line in out.splitlines()} == {"kim"}

    code, out, _ = seeded_cli(
        "hits",
        "review",
        str(h["b1"]),
        "--reject",
        "--note",
        "a meme",
        "--by",
        "lee",
        "--suppress-media",
        "popular meme",
    )
    assert code == 0
    assert "1 media suppressed" in out
    code, out, _ = seeded_cli(
        "hits",
        "review",
        str(h["file"]),
        "--reject",
        "--by",
        "lee",
        "--withdraw-entry",
        "the listed image was a stock photo",
    )
    assert code == 0
    assert "list entry" in out
    assert "withdrawn" in out

    code, out, _ = seeded_cli("hits", "show", str(h["a1"]))
    for expected in ("hit.review", "kim", "same room"):
        assert expected in out

    async def check() -> None:
        store = await Store.open(seeded.url)
        try:
            actions = [(a.action, a.actor) for a in await store.audit_entries(limit=20)]
            assert ("hit.review", "kim") in actions
            assert ("media.suppress", "lee") in actions
            assert ("entries.withdraw", "lee") in actions
            file_hit = await store.hit_evidence(h["file"])
            assert file_hit.entry_status is EntryStatus.WITHDRAWN
        finally:
            await store.close()

    asyncio.run(check())


def test_review_usage_errors(seeded_cli: Run, seeded: Seeded) -> None:
    hit = str(seeded.hits["a1"])
    code, _, err = seeded_cli("hits", "review", hit, "--by", "kim")
    assert code == 2
    assert "exactly one of --confirm, --reject, --needs-info" in err
    code, _, err = seeded_cli("hits", "review", hit, "--confirm", "--reject", "--by", "kim")
    assert code == 2
    code, _, err = seeded_cli(
        "hits", "review", hit, "--confirm", "--withdraw-entry", "x", "--by", "kim"
    )
    assert code == 4
    assert "go with --reject" in err
    code, _, err = seeded_cli("hits", "review", hit, "424242", "--confirm", "--by", "kim")
    assert code == 6
    assert "nothing was changed" in err
    code, out, _ = seeded_cli("hits", "list", "--status", "confirmed", "--format", "json")
    assert out == ""
