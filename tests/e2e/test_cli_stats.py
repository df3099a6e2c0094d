"""`monitor stats` end to end, in process, on a temporary SQLite store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import load_settings
from monitor.domain import ChannelState, CheckOutcome, RecheckResult, ReviewStatus
from monitor.runtime import open_store
from monitor.telegram.refs import parse_ref
from tests.integration.store.factories import (
    file_source,
    make_entries,
    match_for,
    signals,
    tg_source,
)

Run = Callable[..., tuple[int, str, str]]

ALPHA = -1001000000001
BETA = -1001000000002
MIDNIGHT = datetime(2024, 6, 2, tzinfo=UTC)
R0 = datetime(2024, 6, 10, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[logging]\nlevel = "warning"\n'
        '[reports]\ntimezone = "Asia/Seoul"\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def cli(config: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as info:
            main(["--config", str(config), *args])
        out, err = capsys.readouterr()
        code = info.value.code
        return (code if isinstance(code, int) else 1), out, err

    return run


def seed(config: Path) -> None:
    """Hits around midnight UTC in two channels and a file; the same media in both channels;
    Alpha on the allow-list, reconciled three minutes ago; two flood waits; two messages
    reported, one of them removed two hours later."""

    async def go() -> None:
        settings = load_settings(config, env={})
        async with open_store(settings) as store:
            e = await make_entries(store, "ncii", n=3)
            alpha = tg_source(1, chat_id=ALPHA, title="Alpha", username="alpha_chan", media_id=1)
            beta = tg_source(1, chat_id=BETA, title="Beta", username=None, media_id=1)
            alpha2 = tg_source(2, chat_id=ALPHA, title="Alpha", username="alpha_chan", media_id=2)
            h1 = await store.record_sighting(
                alpha, signals(1), [match_for(e[0])], seen_at=MIDNIGHT - timedelta(minutes=1)
            )
            h2 = await store.record_sighting(
                beta, signals(1), [match_for(e[0])], seen_at=MIDNIGHT + timedelta(hours=1)
            )
            await store.record_sighting(
                alpha2, signals(2), [match_for(e[1])], seen_at=MIDNIGHT + timedelta(hours=2)
            )
            await store.record_sighting(
                file_source("/evidence/x.jpg"),
                signals(3),
                [match_for(e[2])],
                seen_at=MIDNIGHT + timedelta(days=1),
            )
            await store.review_hits([h1.hits[0].id], ReviewStatus.CONFIRMED, actor="alice")

            entry, _ = await store.add_watched_channel(
                parse_ref("@alpha_chan"), origin="cli", actor="t"
            )
            await store.set_channel_state(
                entry.id, ChannelState.ACTIVE, telegram_id=ALPHA, title="Alpha"
            )
            await store.advance_cursor(ALPHA, 812, last_message_at=MIDNIGHT)
            await store.mark_reconciled(ALPHA, at=datetime.now(UTC) - timedelta(minutes=3))
            await store.add_watched_channel(parse_ref("@pending_chan"), origin="cli", actor="t")

            await store.record_flood_wait("main", "GetHistoryRequest", 30, at=MIDNIGHT)
            await store.record_flood_wait("main", "ResolveUsernameRequest", 300, at=MIDNIGHT)

            for hit in (h1.hits[0], h2.hits[0]):
                await store.mark_reported(
                    [hit.id], reported_to="telegram", reference=None, actor="bob", at=R0
                )
            await store.record_checks(
                [
                    RecheckResult(h1.sighting_id, CheckOutcome.DELETED, R0 + timedelta(hours=2)),
                    RecheckResult(h2.sighting_id, CheckOutcome.UP, R0 + timedelta(hours=2)),
                ],
                checked_by="daemon",
            )

    asyncio.run(go())


def test_stats_of_an_empty_database(cli: Run) -> None:
    code, out, err = cli("stats")
    assert code == 0, err
    assert "No hits yet." in out
    assert "The allow-list is empty." in out
    assert "No takedowns reported." in out
    assert "Traceback" not in out + err
    code, out, err = cli("stats", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["total_hits"] == 0
    assert [c["count"] for c in data["by_status"]] == [0, 0, 0, 0]
    assert data["removal_total"]["reported"] == 0


def test_stats_tables(cli: Run, config: Path) -> None:
    seed(config)
    code, out, err = cli("stats")
    assert code == 0, err
    for section in (
        "Hits: 4 in 2 channels (and 1 not in a channel)",
        "Hits per review status",
        "Hits per tier",
        "Hits per bank",
        "Hits per day (UTC)",
        "Top channels by hits",
        "Media seen in several channels",
        "Coverage: 2 allow-listed channels (pending 1, active 1)",
        "Flood waits: 2, 6 min in all, longest 5 min",
        "Takedowns: 2 messages reported, 1 removed (50%), median time to removal 2 h",
        "Takedowns per channel",
        "Takedowns per recipient",
    ):
        assert section in out, section
    assert "2024-06-01" in out  # UTC days
    assert "2024-06-03" in out
    assert "Alpha (@alpha_chan) [-1001000000001]" in out
    assert "3 min" in out  # reconciler lag
    assert "812" in out
    # Times in UTC and in the configured zone (Asia/Seoul: UTC+9).
    assert "2024-06-02 02:00 UTC (2024-06-02 11:00 KST)" in out
    assert signals(1).sha256[:16] + "…" in out
    assert "ResolveUsernameRequest" in out


def test_stats_json(cli: Run, config: Path) -> None:
    seed(config)
    code, out, err = cli("stats", "--json", "--top", "1")
    assert code == 0, err
    data = json.loads(out)
    assert data["total_hits"] == 4
    assert data["by_day"] == [
        {"key": "2024-06-01", "count": 1},
        {"key": "2024-06-02", "count": 2},
        {"key": "2024-06-03", "count": 1},
    ]
    assert {c["key"]: c["count"] for c in data["by_status"]} == {
        "new": 3,
        "confirmed": 1,
        "false_positive": 0,
        "needs_info": 0,
    }
    [top] = data["top_channels"]
    assert (top["chat_id"], top["hits"], top["confirmed"]) == (ALPHA, 2, 1)
    [media] = data["shared_media"]
    assert (media["sha256"], media["channels"], media["has_hits"]) == (signals(1).sha256, 2, True)
    assert data["coverage"]["channels"][0]["cursor"] == 812
    assert 170 < data["coverage"]["channels"][0]["reconcile_lag_seconds"] < 600
    assert data["flood_waits"]["total_seconds"] == 330
    total = data["removal_total"]
    assert (total["reported"], total["removed"], total["median_hours_to_removal"]) == (
        1 + 1,
        1,
        2.0,
    )
    assert [r["key"] for r in data["removal_by_recipient"]] == ["telegram"]


def test_stats_period(cli: Run, config: Path) -> None:
    seed(config)
    # A bare --until date includes that day.
    code, out, err = cli("stats", "--json", "--since", "2024-06-02", "--until", "2024-06-02")
    assert code == 0, err
    data = json.loads(out)
    assert data["total_hits"] == 2
    assert data["since"] == "2024-06-02T00:00:00+00:00"
    assert data["until"] == "2024-06-03T00:00:00+00:00"
    assert data["removal_total"]["reported"] == 0  # reported on 2024-06-10
    code, out, _ = cli("stats", "--since", "2030-01-01")
    assert code == 0
    assert "No hits in this period." in out
    assert "2030-01-01 00:00:00 UTC (2030-01-01 09:00:00 KST)" in out


def test_stats_bad_options(cli: Run) -> None:
    code, _, err = cli("stats", "--since", "2024-06-02", "--until", "2024-06-01")
    assert code == 4
    assert "--until must be after --since" in err
    code, _, err = cli("stats", "--since", "yesterday")
    assert code == 2
    assert "--since" in err
    code, _, err = cli("stats", "--top", "0")
    assert code == 2
