"""The allow-list, per-channel cursors, flood waits and Telethon sessions in the store."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from monitor.domain import ChannelState, RefKind
from monitor.errors import InputError, NotFound
from monitor.store import FloodWaitSummary, Store
from monitor.telegram.refs import parse_ref
from tests.integration.store.test_sightings import count

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
CHAT = -1001234567890


async def audit_actions(store: Store) -> list[tuple[str, str, str, dict[str, object]]]:
    """Oldest first."""
    return [
        (a.actor, a.action, a.subject, a.details) for a in reversed(await store.audit_entries())
    ]


# --- the allow-list ----------------------------------------------------------------------------


async def test_add_is_idempotent_and_audited(store: Store) -> None:
    entry, created = await store.add_watched_channel(
        parse_ref("https://t.me/SomeChannel"), origin="cli", actor="alice"
    )
    assert created
    assert (entry.ref, entry.ref_kind, entry.origin, entry.enabled, entry.state) == (
        "@somechannel",
        RefKind.USERNAME,
        "cli",
        True,
        ChannelState.PENDING,
    )
    assert (entry.added_by, entry.cursor, entry.telegram_id) == ("alice", 0, None)
    assert entry.added_at is not None
    again, created = await store.add_watched_channel(
        parse_ref("@somechannel"), origin="config", actor="bob"
    )
    assert not created
    assert again == entry  # untouched, origin included
    assert await store.get_watched_channel(entry.id) == entry
    assert await audit_actions(store) == [
        ("alice", "channel.add", "@somechannel", {"origin": "cli", "kind": "username"})
    ]
    with pytest.raises(InputError, match="origin"):
        await store.add_watched_channel(parse_ref("@other_one"), origin="web", actor="x")


async def test_remove_by_ref_username_id_or_title(store: Store) -> None:
    a, _ = await store.add_watched_channel(parse_ref("@alpha_chan"), origin="cli", actor="a")
    b, _ = await store.add_watched_channel(parse_ref("t.me/+AbCdEfGh1234"), origin="cli", actor="a")
    c, _ = await store.add_watched_channel(parse_ref("-1001111111111"), origin="cli", actor="a")
    await store.set_channel_state(
        b.id, ChannelState.ACTIVE, telegram_id=-1005555, username="Bravo_Chan", title="Bravo News"
    )

    removed = await store.remove_watched_channel("https://t.me/alpha_chan", actor="bob")
    assert (removed.id, removed.enabled) == (a.id, False)
    assert (await store.remove_watched_channel("@BRAVO_chan", actor="bob")).id == b.id
    await store.add_watched_channel(parse_ref("t.me/+AbCdEfGh1234"), origin="cli", actor="a")
    assert (await store.remove_watched_channel("-1005555", actor="bob")).id == b.id
    await store.add_watched_channel(parse_ref("t.me/+AbCdEfGh1234"), origin="cli", actor="a")
    assert (await store.remove_watched_channel("bravo news", actor="bob")).id == b.id
    assert (await store.remove_watched_channel("t.me/c/1111111111/5", actor="bob")).id == c.id
    assert await store.list_watched_channels() == []
    assert len(await store.list_watched_channels(include_disabled=True)) == 3

    # Removing again changes nothing and is not audited again.
    before = await store.audit_entries()
    assert not (await store.remove_watched_channel("@alpha_chan", actor="bob")).enabled
    assert len(await store.audit_entries()) == len(before)
    with pytest.raises(NotFound, match="'@nobody_here'"):
        await store.remove_watched_channel("@nobody_here", actor="bob")
    with pytest.raises(NotFound, match="'no such title'"):
        await store.remove_watched_channel("no such title", actor="bob")
    removals = [a for a in await audit_actions(store) if a[1] == "channel.remove"]
    assert [(r[0], r[2]) for r in removals] == [
        ("bob", "@alpha_chan"),
        ("bob", "https://t.me/+AbCdEfGh1234"),
        ("bob", "https://t.me/+AbCdEfGh1234"),
        ("bob", "https://t.me/+AbCdEfGh1234"),
        ("bob", "-1001111111111"),
    ]


async def test_remove_that_matches_two_enabled_entries_is_refused(store: Store) -> None:
    a, _ = await store.add_watched_channel(parse_ref("@one_name"), origin="cli", actor="a")
    b, _ = await store.add_watched_channel(parse_ref("t.me/+InviteHash1"), origin="cli", actor="a")
    for entry in (a, b):
        await store.set_channel_state(entry.id, ChannelState.ACTIVE, title="Same Title")
    with pytest.raises(InputError, match="several"):
        await store.remove_watched_channel("same title", actor="x")
    # The exact reference wins over a title.
    assert (await store.remove_watched_channel("@one_name", actor="x")).id == a.id


async def test_readd_after_remove_reenables(store: Store) -> None:
    entry, _ = await store.add_watched_channel(parse_ref("@gamma_chan"), origin="config", actor="a")
    await store.set_channel_state(entry.id, ChannelState.ACTIVE, telegram_id=CHAT)
    await store.remove_watched_channel("@gamma_chan", actor="b")
    again, created = await store.add_watched_channel(
        parse_ref("@gamma_chan"), origin="cli", actor="c"
    )
    assert created
    assert (again.id, again.enabled, again.origin, again.added_by) == (entry.id, True, "cli", "c")
    assert again.state == ChannelState.ACTIVE  # what was learnt about it stays
    assert again.telegram_id == CHAT
    assert (await audit_actions(store))[-1][3] == {
        "origin": "cli",
        "kind": "username",
        "reenabled": True,
    }


async def test_sync_config_channels(store: Store) -> None:
    cli_entry, _ = await store.add_watched_channel(parse_ref("@from_cli"), origin="cli", actor="a")
    added, disabled = await store.sync_config_channels(
        [parse_ref("@one_chan"), parse_ref("t.me/two_chan"), parse_ref("@ONE_CHAN")],
        actor="cfg",
    )
    assert [e.ref for e in added] == ["@one_chan", "@two_chan"]
    assert all(e.origin == "config" for e in added)
    assert disabled == []
    # Nothing changed: nothing to report.
    assert await store.sync_config_channels(
        [parse_ref("@one_chan"), parse_ref("@two_chan")], actor="cfg"
    ) == ([], [])
    # @two_chan left the config; @from_cli is listed now but stays a CLI entry; @three is new.
    added, disabled = await store.sync_config_channels(
        [parse_ref("@one_chan"), parse_ref("@from_cli"), parse_ref("@three_chan")], actor="cfg"
    )
    assert [e.ref for e in added] == ["@three_chan"]
    assert [(e.ref, e.enabled) for e in disabled] == [("@two_chan", False)]
    listed = await store.list_watched_channels()
    assert [(e.ref, e.origin) for e in listed] == [
        ("@from_cli", "cli"),
        ("@one_chan", "config"),
        ("@three_chan", "config"),
    ]
    # An empty config disables every config entry, never a CLI one.
    added, disabled = await store.sync_config_channels([], actor="cfg")
    assert added == []
    assert [e.ref for e in disabled] == ["@one_chan", "@three_chan"]
    assert [e.id for e in await store.list_watched_channels()] == [cli_entry.id]
    # Back in the config: re-enabled.
    added, _ = await store.sync_config_channels([parse_ref("@two_chan")], actor="cfg")
    assert [(e.ref, e.enabled) for e in added] == [("@two_chan", True)]
    actions = [(a[1], a[2]) for a in await audit_actions(store) if a[0] == "cfg"]
    assert actions == [
        ("channel.add", "@one_chan"),
        ("channel.add", "@two_chan"),
        ("channel.add", "@three_chan"),
        ("channel.remove", "@two_chan"),
        ("channel.remove", "@one_chan"),
        ("channel.remove", "@three_chan"),
        ("channel.add", "@two_chan"),
    ]


async def test_set_channel_state_resolves_joins_and_audits_changes(store: Store) -> None:
    entry, _ = await store.add_watched_channel(
        parse_ref("t.me/+JoinMe12345"), origin="cli", actor="a"
    )
    same = await store.set_channel_state(entry.id, ChannelState.PENDING, detail="queued")
    assert same.state_detail == "queued"
    waited = await store.set_channel_state(entry.id, ChannelState.FLOOD_WAIT, detail="wait 30 s")
    assert waited.state == ChannelState.FLOOD_WAIT
    active = await store.set_channel_state(
        entry.id,
        ChannelState.ACTIVE,
        telegram_id=CHAT,
        username="joined_chan",
        title="Joined",
        joined=True,
    )
    assert (active.state, active.state_detail, active.telegram_id) == (
        ChannelState.ACTIVE,
        None,
        CHAT,
    )
    assert (active.username, active.title) == ("joined_chan", "Joined")
    assert active.resolved_at is not None
    assert active.joined_at is not None
    # Again active, without new facts: no audit row, nothing forgotten.
    again = await store.set_channel_state(entry.id, ChannelState.ACTIVE)
    assert (again.telegram_id, again.username, again.joined_at) == (
        CHAT,
        "joined_chan",
        active.joined_at,
    )
    states = [a for a in await audit_actions(store) if a[1] == "channel.state"]
    assert [(a[0], a[2], a[3]["old"], a[3]["new"]) for a in states] == [
        ("monitor", "https://t.me/+JoinMe12345", "pending", "flood_wait"),
        ("monitor", "https://t.me/+JoinMe12345", "flood_wait", "active"),
    ]
    assert states[0][3]["detail"] == "wait 30 s"
    # The channel's row exists with its name, and carries the cursor shown with the entry.
    await store.advance_cursor(CHAT, 42, last_message_at=T0)
    await store.mark_reconciled(CHAT, at=T0 + timedelta(minutes=5))
    [listed] = await store.list_watched_channels()
    assert (listed.cursor, listed.last_message_at, listed.last_reconciled_at) == (
        42,
        T0,
        T0 + timedelta(minutes=5),
    )
    async with store.engine.connect() as conn:
        row = (await conn.execute(text("SELECT username, title FROM channels"))).one()
    assert tuple(row) == ("joined_chan", "Joined")
    with pytest.raises(NotFound, match="no allow-list entry with id 4242"):
        await store.set_channel_state(4242, ChannelState.GONE)
    with pytest.raises(NotFound):
        await store.get_watched_channel(4242)


# --- cursors -----------------------------------------------------------------------------------


async def test_cursor_is_monotonic(store: Store) -> None:
    assert await store.get_cursor(CHAT) == 0
    assert await count(store, "channels") == 0  # reading creates nothing
    assert await store.advance_cursor(CHAT, 10, last_message_at=T0) == 10
    assert await store.advance_cursor(CHAT, 5, last_message_at=T0 - timedelta(days=1)) == 10
    assert await store.get_cursor(CHAT) == 10
    assert await store.advance_cursor(CHAT, 11) == 11
    async with store.engine.connect() as conn:
        row = (await conn.execute(text("SELECT cursor, last_message_at FROM channels"))).one()
    assert row.cursor == 11
    assert await count(store, "channels") == 1
    await store.mark_reconciled(-1009999)  # creates the row of a chat not seen yet
    assert await store.get_cursor(-1009999) == 0


async def test_concurrent_advances_never_move_the_cursor_back(store_url: str) -> None:
    stores = [await Store.open(store_url, auto_upgrade=False) for _ in range(2)]
    try:
        values = list(range(40, 0, -1))  # the highest first: every later one is behind it
        results = await asyncio.gather(
            *(stores[i % 2].advance_cursor(CHAT, v) for i, v in enumerate(values))
        )
        assert await stores[0].get_cursor(CHAT) == 40
        assert all(r >= v for r, v in zip(results, values, strict=True))
        assert await stores[1].advance_cursor(CHAT, 39) == 40
    finally:
        for s in stores:
            await s.close()


# --- flood waits -------------------------------------------------------------------------------


async def test_flood_wait_summary(store: Store) -> None:
    assert await store.flood_wait_summary() == []
    await store.record_flood_wait("default", "GetHistoryRequest", 30, chat_id=CHAT, at=T0)
    await store.record_flood_wait(
        "default", "GetHistoryRequest", 90, chat_id=CHAT, at=T0 + timedelta(hours=1)
    )
    await store.record_flood_wait("default", "ImportChatInviteRequest", 400, at=T0)
    await store.record_flood_wait("default", "GetHistoryRequest", 5, chat_id=-1002, at=T0)
    assert await store.flood_wait_summary() == [
        FloodWaitSummary(None, 1, 400, 400, T0),
        FloodWaitSummary(CHAT, 2, 120, 90, T0 + timedelta(hours=1)),
        FloodWaitSummary(-1002, 1, 5, 5, T0),
    ]
    assert await store.flood_wait_summary(since=T0 + timedelta(minutes=1)) == [
        FloodWaitSummary(CHAT, 1, 90, 90, T0 + timedelta(hours=1))
    ]


# --- sessions ----------------------------------------------------------------------------------

KEY = bytes(range(256))


async def test_session_round_trip(store: Store) -> None:
    assert await store.load_session("default") is None
    assert await store.get_account("default") is None
    await store.save_session_auth(
        "default", dc_id=2, server_address="149.154.167.50", port=443, auth_key=KEY, takeout_id=None
    )
    await store.save_update_states("default", {0: (100, 7, 1_717_243_200, 3), CHAT: (55, 0, 0, 0)})
    await store.save_update_states("default", {0: (101, 7, 1_717_243_260, 4)})
    entities = [
        (i, i * 7919 - 2**62, f"user{i}" if i % 3 else None, None, f"Name {i}", 1_717_000_000 + i)
        for i in range(1, 2001)
    ]
    started = time.perf_counter()
    await store.save_entities("default", entities)
    elapsed = time.perf_counter() - started
    assert elapsed < 5, f"2,000 entities took {elapsed:.1f} s"
    # Updated rows replace the stored ones; the last of duplicates in one call wins.
    await store.save_entities(
        "default",
        [(5, 1, "old", None, None, None), (5, 2, "renamed", "+15550100", "Five", None)],
    )
    await store.set_session_account(
        "default", user_id=4242, is_bot=False, username="watcher", display_name="T&S Watcher"
    )

    data = await store.load_session("default")
    assert data is not None
    assert (data.name, data.dc_id, data.server_address, data.port, data.auth_key) == (
        "default",
        2,
        "149.154.167.50",
        443,
        KEY,
    )
    assert data.takeout_id is None
    assert data.update_states == {0: (101, 7, 1_717_243_260, 4), CHAT: (55, 0, 0, 0)}
    assert len(data.entities) == 2000
    expected = {e[0]: e for e in entities} | {5: (5, 2, "renamed", "+15550100", "Five", None)}
    assert {e[0]: e for e in data.entities} == expected
    assert data.account is not None
    assert (data.account.user_id, data.account.username, data.account.state) == (
        4242,
        "watcher",
        "active",
    )
    account = await store.get_account("default")
    assert account == data.account
    assert account is not None
    assert (account.dc_id, account.display_name, account.is_bot) == (2, "T&S Watcher", False)
    # Another session is separate.
    assert await store.load_session("other") is None


async def test_saving_thousands_of_entities_twice_is_an_update(store: Store) -> None:
    rows = [(i, i, None, None, None, None) for i in range(5000)]
    await store.save_entities("bulk", rows)
    await store.save_entities("bulk", [(i, -i, "u", None, None, 1) for i in range(5000)])
    assert await count(store, "telegram_entities") == 5000
    account = await store.get_account("bulk")
    assert account is not None
    assert account.state == "logged_out"  # a row without a key yet
    assert await store.load_session("bulk") is None


async def test_session_states_and_logout(store: Store) -> None:
    await store.save_session_auth(
        "s", dc_id=4, server_address="10.0.0.1", port=443, auth_key=KEY, takeout_id=9
    )
    await store.save_update_states("s", {0: (1, 1, 1, 1)})
    await store.save_entities("s", [(1, 2, "x", None, None, None)])
    await store.set_session_state("s", "revoked", reason="AUTH_KEY_UNREGISTERED", actor="daemon")
    account = await store.get_account("s")
    assert account is not None
    assert (account.state, account.state_reason) == ("revoked", "AUTH_KEY_UNREGISTERED")
    # Telethon saving the same key once more does not undo the revocation...
    await store.save_session_auth(
        "s", dc_id=4, server_address="10.0.0.1", port=443, auth_key=KEY, takeout_id=9
    )
    assert (await store.get_account("s")).state == "revoked"  # type: ignore[union-attr]
    # ... a new key (a new login) does.
    await store.save_session_auth(
        "s", dc_id=4, server_address="10.0.0.1", port=443, auth_key=KEY[::-1], takeout_id=None
    )
    account = await store.get_account("s")
    assert account is not None
    assert (account.state, account.state_reason) == ("active", None)
    with pytest.raises(InputError, match="session state"):
        await store.set_session_state("s", "asleep", reason=None, actor="x")

    await store.delete_session("s", actor="alice")
    assert await store.load_session("s") is None
    account = await store.get_account("s")
    assert account is not None
    assert account.state == "logged_out"
    assert (
        await count(store, "telegram_entities"),
        await count(store, "telegram_update_states"),
    ) == (
        0,
        0,
    )
    async with store.engine.connect() as conn:
        key = (await conn.execute(text("SELECT auth_key FROM telegram_sessions"))).scalar()
    assert key is None
    await store.delete_session("never-stored", actor="alice")  # nothing to do

    audits = [a for a in await audit_actions(store) if a[1].startswith("session.")]
    assert [(a[0], a[1], a[2]) for a in audits] == [
        ("daemon", "session.revoked", "s"),
        ("alice", "session.logout", "s"),
    ]
    # The key never reaches the audit log.
    async with store.engine.connect() as conn:
        details = [str(r[0]) for r in await conn.execute(text("SELECT details FROM audit_log"))]
    assert not any(KEY.hex() in d or repr(KEY) in d for d in details)


async def test_auth_key_none_keeps_the_state(store: Store) -> None:
    await store.save_session_auth(
        "n", dc_id=2, server_address="h", port=443, auth_key=None, takeout_id=None
    )
    assert (await store.get_account("n")).state == "logged_out"  # type: ignore[union-attr]
    assert await store.load_session("n") is None
