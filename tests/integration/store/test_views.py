"""The analyst views (``v_hits``, ``v_channel_activity``) against what the store wrote, and
docs/schema.md against the schema: every table, column, index and view column documented, and
its example queries run.

Data goes in through the store's API; the views are read with plain SQL, as an analyst would.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.domain import ChannelState, CheckOutcome, RecheckResult, ReviewStatus
from monitor.store import Store
from monitor.store.models import Base
from monitor.telegram.refs import parse_ref
from tests.integration.store.factories import file_source, signals
from tests.integration.store.test_stats import (
    ALPHA,
    BETA,
    GAMMA,
    JUST_BEFORE,
    MIDNIGHT,
    World,
    alpha,
    gamma,
    world,
)

SCHEMA_DOC = Path(__file__).resolve().parents[3] / "docs" / "schema.md"
VIEWS = ("v_hits", "v_channel_activity")
R0 = datetime(2024, 6, 10, tzinfo=UTC)
REVIEWED = datetime(2024, 6, 5, 9, 30, tzinfo=UTC)
NOW = datetime(2024, 6, 20, tzinfo=UTC)

TIMES = {
    "recorded_at",
    "reviewed_at",
    "media_first_seen_at",
    "posted_at",
    "seen_at",
    "reported_at",
    "removed_at",
    "first_seen_at",
    "last_seen_at",
    "last_hit_at",
    "last_message_at",
    "last_reconciled_at",
}


def as_utc(value: Any) -> datetime | None:
    """A timestamp as the view returns it: naive UTC text on SQLite, timestamptz on PostgreSQL."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    assert isinstance(value, datetime)
    assert value.tzinfo is not None
    return value.astimezone(UTC)


async def view(store: Store, name: str, order: str) -> list[dict[str, Any]]:
    async with store.engine.connect() as conn:
        result = await conn.exec_driver_sql(f"SELECT * FROM {name} ORDER BY {order}")  # noqa: S608
        rows = [dict(row._mapping) for row in result]
    return [{k: as_utc(v) if k in TIMES else v for k, v in row.items()} for row in rows]


async def activity(store: Store) -> World:
    """``world`` (two channels, a file), then a review, two reported messages, the allow-list.

    Alpha #1 (h1) reported to telegram at R0 and to ncmec an hour later; the re-check at R0+2h
    finds it deleted. Beta #1 (through h3b; h3c, rejected, is the same message) reported to
    telegram at R0; up at R0+1h.
    """
    w = await world(store)
    await store.review_hits(
        [w.h2.id], ReviewStatus.CONFIRMED, actor="alice", note="clear match", at=REVIEWED
    )
    await store.mark_reported(
        [w.h1.id], reported_to="telegram", reference="T-1", actor="bob", at=R0
    )
    await store.mark_reported(
        [w.h1.id], reported_to="ncmec", reference=None, actor="bob", at=R0 + timedelta(hours=1)
    )
    await store.mark_reported(
        [w.h3b.id], reported_to="telegram", reference=None, actor="bob", at=R0
    )
    await store.record_checks(
        [
            RecheckResult(w.h1.sighting_id, CheckOutcome.DELETED, R0 + timedelta(hours=2)),
            RecheckResult(w.h3b.sighting_id, CheckOutcome.UP, R0 + timedelta(hours=1)),
        ],
        checked_by="daemon",
    )

    # The allow-list: Alpha watched and read; Beta's entry removed; Gamma never listed.
    a, _ = await store.add_watched_channel(parse_ref("@alpha_chan"), origin="cli", actor="t")
    await store.set_channel_state(
        a.id, ChannelState.ACTIVE, telegram_id=ALPHA, username="alpha_chan"
    )
    await store.advance_cursor(ALPHA, 812, last_message_at=R0 - timedelta(hours=1))
    await store.mark_reconciled(ALPHA, at=R0)
    b, _ = await store.add_watched_channel(parse_ref(str(BETA)), origin="cli", actor="t")
    await store.set_channel_state(b.id, ChannelState.ACTIVE, telegram_id=BETA)
    await store.remove_watched_channel(str(BETA), actor="t")

    # Gamma: media seen, no hits. Alpha: media seen but not hashed (too large).
    await store.record_sighting(gamma(5, 7), signals(7), [], seen_at=R0)
    await store.record_skipped(
        alpha(30, 30),
        reason="too_large",
        detail="60 MB",
        file_size=60_000_000,
        mime_type="video/mp4",
        seen_at=R0 + timedelta(hours=3),
    )
    return w


async def test_v_hits_has_one_row_per_hit_as_written(store: Store) -> None:
    w = await activity(store)
    rows = await view(store, "v_hits", "hit_id")
    assert [r["hit_id"] for r in rows] == sorted(h.id for h in (w.h1, w.h2, w.h3b, w.h3c, w.h4))
    by_id = {r["hit_id"]: r for r in rows}

    for hit in (w.h1, w.h2, w.h3b, w.h3c, w.h4):
        stored = await store.get_hit(hit.id)
        row = by_id[hit.id]
        src = stored.source
        assert src is not None
        assert row["recorded_at"] == stored.created_at
        assert (row["review_status"], row["tier"], row["hash_type"], row["variant"]) == (
            stored.review_status.value,
            stored.tier.value,
            stored.hash_type.value,
            stored.variant.value,
        )
        assert (row["distance"], row["bank"], row["entry_id"], row["entry_value"]) == (
            stored.distance,
            stored.bank,
            stored.entry_id,
            stored.entry_value,
        )
        assert (row["entry_status"], row["case_id"], row["label"]) == (
            "active",
            stored.case_id,
            stored.label,
        )
        assert row["sha256"] == stored.sha256
        assert (row["sighting_id"], row["source_kind"], row["media_kind"]) == (
            stored.sighting_id,
            src.kind.value,
            src.media_kind.value,
        )
        assert (row["chat_id"], row["channel_title"], row["channel_username"]) == (
            src.chat_id,
            src.chat_title,
            src.chat_username,
        )
        assert (row["message_id"], row["link"], row["posted_at"], row["path"]) == (
            src.message_id,
            src.link,
            src.posted_at,
            src.path,
        )
        assert (row["forward_chat_id"], row["forward_message_id"], row["forward_from_name"]) == (
            src.forward_chat_id,
            src.forward_message_id,
            src.forward_from_name,
        )
        assert row["seen_at"] == stored.created_at  # recorded when seen, in these tests

    h1, h2, h3b, h3c, h4 = (by_id[h.id] for h in (w.h1, w.h2, w.h3b, w.h3c, w.h4))
    # Hashes: lower-case hex, the media's own.
    assert (h1["md5"], h1["pdq"]) == (signals(1).md5, signals(1).pdq)
    assert h1["threshold"] == 31
    # Media 1 was first seen in Alpha, before midnight; Beta's hits share it.
    assert h1["media_first_seen_at"] == h3b["media_first_seen_at"] == JUST_BEFORE
    assert (h1["link"], h1["chat_id"]) == ("https://t.me/alpha_chan/1", ALPHA)
    assert (h3b["link"], h3b["chat_id"], h3b["channel_username"]) == (None, BETA, None)
    assert (h4["source_kind"], h4["path"], h4["chat_id"]) == ("file", "/x/a.jpg", None)
    assert h1["case_id"] == "case-0"
    assert h3c["bank"] == "c"

    # The review.
    assert (h2["review_status"], h2["reviewed_by"], h2["review_note"]) == (
        "confirmed",
        "alice",
        "clear match",
    )
    assert h2["reviewed_at"] == REVIEWED
    assert (h1["reviewed_by"], h1["reviewed_at"]) == (None, None)
    assert h3c["review_status"] == "false_positive"

    # Takedowns: per message, so both hits of Beta #1 show the same.
    assert (h1["removal_status"], h1["reported_at"], h1["removed_at"]) == (
        "removed",
        R0,
        R0 + timedelta(hours=2),
    )
    for row in (h3b, h3c):
        assert (row["removal_status"], row["reported_at"], row["removed_at"]) == ("up", R0, None)
    for row in (h2, h4):
        assert (row["removal_status"], row["reported_at"], row["removed_at"]) == (None, None, None)


async def test_v_channel_activity_has_one_row_per_channel(store: Store) -> None:
    w = await activity(store)
    rows = await view(store, "v_channel_activity", "chat_id DESC")
    assert [r["chat_id"] for r in rows] == [ALPHA, BETA, GAMMA]
    alpha_row, beta_row, gamma_row = rows

    # Alpha: #1 (media 1), #2 (media 2), #30 (not hashed): three sightings, two media.
    assert (alpha_row["title"], alpha_row["username"], alpha_row["watch_state"]) == (
        "Alpha",
        "alpha_chan",
        "active",
    )
    assert (alpha_row["sightings"], alpha_row["media"]) == (3, 2)
    assert (alpha_row["first_seen_at"], alpha_row["last_seen_at"]) == (
        JUST_BEFORE,
        R0 + timedelta(hours=3),
    )
    assert (alpha_row["hits"], alpha_row["confirmed_hits"]) == (2, 1)
    assert alpha_row["last_hit_at"] == w.h2.created_at
    assert alpha_row["cursor"] == 812
    assert (alpha_row["last_message_at"], alpha_row["last_reconciled_at"]) == (
        R0 - timedelta(hours=1),
        R0,
    )

    # Beta: its allow-list entry was removed, so no watch state.
    assert beta_row["watch_state"] is None
    assert (beta_row["sightings"], beta_row["media"], beta_row["hits"]) == (1, 1, 2)
    assert (beta_row["confirmed_hits"], beta_row["last_hit_at"]) == (0, w.h3b.created_at)
    assert (beta_row["cursor"], beta_row["last_reconciled_at"]) == (0, None)

    # Gamma: seen only.
    assert (gamma_row["title"], gamma_row["watch_state"]) == (None, None)
    assert (gamma_row["sightings"], gamma_row["media"], gamma_row["hits"]) == (1, 1, 0)
    assert (gamma_row["confirmed_hits"], gamma_row["last_hit_at"]) == (0, None)
    assert gamma_row["first_seen_at"] == gamma_row["last_seen_at"] == R0

    # The counts agree with the store's own aggregates.
    assert sum(r["hits"] for r in rows) == await store.count_hits() - 1  # h4 is a file


async def test_v_channel_activity_agrees_with_the_stats(store: Store) -> None:
    await activity(store)
    rows = {r["chat_id"]: r for r in await view(store, "v_channel_activity", "channel_id")}
    for top in await store.top_channels():
        row = rows[top.chat_id]
        assert (row["hits"], row["confirmed_hits"], row["last_hit_at"]) == (
            top.hits,
            top.confirmed,
            top.last_hit_at,
        )


async def test_v_hits_removal_status_of_a_removed_message_reported_again(store: Store) -> None:
    w = await world(store)
    await store.mark_reported([w.h1.id], reported_to="telegram", reference=None, actor="b", at=R0)
    await store.record_checks(
        [RecheckResult(w.h1.sighting_id, CheckOutcome.DELETED, R0 + timedelta(hours=2))],
        checked_by="daemon",
    )
    await store.mark_reported(
        [w.h1.id], reported_to="ncmec", reference=None, actor="b", at=R0 + timedelta(hours=3)
    )
    [row] = [r for r in await view(store, "v_hits", "hit_id") if r["hit_id"] == w.h1.id]
    assert (row["removed_at"], row["removal_status"]) == (R0 + timedelta(hours=2), "removed")
    # The stats count it removed.
    total = await store.removal_total()
    assert (total.reported, total.removed) == (1, 1)


async def test_views_are_empty_on_an_empty_database(store: Store) -> None:
    for name in VIEWS:
        assert await view(store, name, "1") == []


# --- docs/schema.md ---------------------------------------------------------------------------


def documented() -> dict[str, list[str]]:
    """Each ``### `name` `` section of docs/schema.md and the columns its table lists."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in SCHEMA_DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^###\s+`([a-z_]+)`", line)
        if heading:
            current = sections.setdefault(heading.group(1), [])
            continue
        if line.startswith("## "):
            current = None
            continue
        cell = re.match(r"^\|\s*`([a-z_0-9]+)`\s*\|", line)
        if cell and current is not None:
            current.append(cell.group(1))
    return sections


async def view_columns(store: Store) -> dict[str, list[str]]:
    async with store.engine.connect() as conn:
        return {
            name: list((await conn.exec_driver_sql(f"SELECT * FROM {name} LIMIT 0")).keys())  # noqa: S608
            for name in VIEWS
        }


async def test_schema_doc_covers_every_table_column_and_view(store: Store) -> None:
    sections = documented()
    expected = {t.name: [c.name for c in t.columns] for t in Base.metadata.sorted_tables}
    expected["alembic_version"] = ["version_num"]
    expected.update(await view_columns(store))
    assert sorted(sections) == sorted(expected), "tables and views documented vs in the schema"
    for name, columns in expected.items():
        listed = sections[name]
        assert len(listed) == len(set(listed)), f"{name}: a column is listed twice"
        assert sorted(listed) == sorted(columns), f"{name}: documented columns vs the schema"
        if name in VIEWS:
            assert listed == columns, f"{name}: document the columns in the view's order"


def test_schema_doc_names_every_index_and_constraint() -> None:
    doc = SCHEMA_DOC.read_text(encoding="utf-8")
    names = [
        str(thing.name)
        for table in Base.metadata.sorted_tables
        for thing in (*table.indexes, *table.constraints)
        if thing.name is not None and not str(thing.name).startswith(("pk_", "fk_"))
    ]
    missing = [name for name in names if f"`{name}`" not in doc]
    assert missing == []
    for trigger in ("audit_log_no_update", "audit_log_no_delete", "audit_log_no_truncate"):
        assert trigger in doc


def example_queries() -> list[tuple[str, str]]:
    """The ```sql blocks of docs/schema.md: (backend, query); the first line names the backend
    (``-- PostgreSQL``, ``-- SQLite`` or ``-- both``)."""
    blocks = re.findall(r"```sql\n(.*?)```", SCHEMA_DOC.read_text(encoding="utf-8"), re.S)
    found = []
    for block in blocks:
        first = block.splitlines()[0].strip().lower()
        backend = {"-- postgresql": "postgresql", "-- sqlite": "sqlite", "-- both": "both"}[first]
        found.append((backend, block.strip().rstrip(";")))
    return found


async def test_schema_doc_example_queries_run(store: Store, backend: str) -> None:
    w = await activity(store)
    await store.review_hits([w.h1.id], ReviewStatus.CONFIRMED, actor="alice")  # reviewed now
    await store.mark_reconciled(BETA, at=datetime.now(UTC) - timedelta(days=2))
    queries = [q for b, q in example_queries() if b in (backend, "both")]
    assert len(queries) >= 3
    results = []
    async with store.engine.connect() as conn:
        for query in queries:
            results.append(list(await conn.exec_driver_sql(query)))
    assert any(results), "at least one example finds something in the test data"


def test_schema_doc_examples_cover_both_databases() -> None:
    backends = [b for b, _ in example_queries()]
    assert backends.count("postgresql") + backends.count("both") >= 3
    assert backends.count("sqlite") + backends.count("both") >= 3


async def test_the_file_sighting_is_no_channel(store: Store) -> None:
    # A file sighting has no channel row: it is in v_hits (chat_id null) but not in
    # v_channel_activity.
    await store.record_sighting(file_source("/z/1.jpg"), signals(99), [], seen_at=MIDNIGHT)
    assert await view(store, "v_channel_activity", "channel_id") == []
