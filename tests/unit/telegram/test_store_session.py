"""StoreSession: a Telethon session kept in the store (against an in-memory fake store)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os

import pytest
from structlog.testing import capture_logs
from telethon.crypto import AuthKey
from telethon.sessions import MemorySession
from telethon.tl import types

from monitor.errors import StoreError
from monitor.telegram.session import StoreSession, describe_error
from tests.unit.telegram.fake_session_store import FakeSessionStore, StoreFailure

KEY = os.urandom(256)


def channel(id_: int, username: str | None, access_hash: int = 777) -> types.Channel:
    return types.Channel(
        id=id_,
        title=f"Channel {id_}",
        photo=types.ChatPhotoEmpty(),
        date=None,
        broadcast=True,
        access_hash=access_hash,
        username=username,
    )


def user(id_: int, username: str | None = None, phone: str | None = None) -> types.User:
    return types.User(id=id_, access_hash=id_ * 3, first_name="Ann", username=username, phone=phone)


def state(pts: int, date: int = 1_700_000_000, qts: int = 0, seq: int = 0) -> types.updates.State:
    when = dt.datetime.fromtimestamp(date, tz=dt.UTC)
    return types.updates.State(pts=pts, qts=qts, date=when, seq=seq, unread_count=0)


async def signed_in(store: FakeSessionStore, name: str = "default") -> StoreSession:
    session = await StoreSession.load(store, name)
    session.set_dc(2, "127.0.0.1", 4430)
    session.auth_key = AuthKey(KEY)
    await session.flush()
    return session


async def test_new_session_is_empty_and_written_on_first_flush() -> None:
    store = FakeSessionStore()
    session = await StoreSession.load(store, "default")
    assert session.auth_key is None
    assert session.server_address is None
    await session.flush()
    assert store.count("save_session_auth") == 0  # not pointed anywhere yet: no row
    session.set_dc(2, "127.0.0.1", 4430)
    session.auth_key = AuthKey(KEY)
    await session.flush()
    assert store.rows["default"].auth_key == KEY
    assert (store.rows["default"].dc_id, store.rows["default"].port) == (2, 4430)
    await session.flush()
    assert store.count("save_session_auth") == 1  # nothing changed: nothing written


async def test_auth_key_is_persisted_promptly_without_an_explicit_flush() -> None:
    store = FakeSessionStore()
    session = await StoreSession.load(store, "default")
    session.set_dc(2, "127.0.0.1", 4430)
    session.auth_key = AuthKey(KEY)  # what Telethon does after the key exchange
    for _ in range(10):
        await asyncio.sleep(0)
        if "default" in store.rows:
            break
    assert store.rows["default"].auth_key == KEY


async def test_key_changed_in_place_is_noticed() -> None:
    # Telethon shares the sender's AuthKey object with the session and may change it in place.
    store = FakeSessionStore()
    session = await signed_in(store)
    other = os.urandom(256)
    session.auth_key.key = other
    session.save()
    await session.flush()
    assert store.rows["default"].auth_key == other
    session.auth_key = None  # a DC switch
    session.save()
    await session.flush()
    assert store.rows["default"].auth_key is None


async def test_restart_loads_key_dc_takeout_states_and_entities() -> None:
    store = FakeSessionStore()
    session = await signed_in(store)
    session.takeout_id = 99
    session.process_entities(
        types.contacts.ResolvedPeer(None, [user(5, "ann")], [channel(10, "feed")])
    )
    session.set_update_state(0, state(40, seq=3))
    session.set_update_state(10, state(7))
    await session.flush()

    again = await StoreSession.load(store, "default")
    assert again.auth_key == AuthKey(KEY)
    assert (again.dc_id, again.server_address, again.port) == (2, "127.0.0.1", 4430)
    assert again.takeout_id == 99
    assert again.get_update_state(0).pts == 40
    assert again.get_update_state(0).seq == 3
    assert again.get_update_state(0).date == dt.datetime.fromtimestamp(1_700_000_000, tz=dt.UTC)
    assert dict(again.get_update_states())[10].pts == 7
    assert again.get_input_entity("feed") == types.InputPeerChannel(10, 777)
    assert again.get_input_entity("@FEED") == types.InputPeerChannel(10, 777)
    assert again.get_input_entity(-1000000000010) == types.InputPeerChannel(10, 777)
    assert again.get_input_entity(10) == types.InputPeerChannel(10, 777)  # bare id
    assert again.get_input_entity(types.PeerChannel(10)) == types.InputPeerChannel(10, 777)
    assert again.get_input_entity("ann") == types.InputPeerUser(5, 15)
    with pytest.raises(ValueError, match="Could not find"):
        again.get_input_entity("nobody")
    await again.flush()
    assert store.count("save_update_states") == 1  # loading marks nothing dirty
    assert store.count("save_entities") == 1


async def test_only_changed_entities_are_written_in_one_batch() -> None:
    store = FakeSessionStore()
    session = await signed_in(store)
    session.process_entities([channel(10, "feed"), channel(11, "news"), user(5, "ann")])
    await session.flush()
    (first,) = [rows for name, rows in store.calls if name == "save_entities"]
    assert sorted(r[0] for r in first) == [-1000000000011, -1000000000010, 5]
    session.process_entities([channel(10, "feed"), channel(11, "renamed")])  # one changed
    session.process_entities([channel(10, "feed")])
    await session.flush()
    batches = [rows for name, rows in store.calls if name == "save_entities"]
    assert len(batches) == 2
    assert [(r[0], r[2]) for r in batches[1]] == [(-1000000000011, "renamed")]
    await session.flush()
    assert store.count("save_entities") == 2


async def test_min_entities_and_entities_without_hash_are_not_cached() -> None:
    store = FakeSessionStore()
    session = await signed_in(store)
    min_channel = channel(12, "minchan")
    min_channel.min = True
    session.process_entities([min_channel, types.User(id=6, first_name="x")])
    assert session.entity_count() == 0


async def test_a_username_moves_to_the_newest_holder() -> None:
    store = FakeSessionStore()
    session = await signed_in(store)
    session.process_entities([channel(10, "feed")])
    session._entity_rows[-1000000000010] = (*session._entity_rows[-1000000000010][:4], 1)
    session.process_entities([channel(11, "feed", access_hash=888)])
    assert session.get_input_entity("feed") == types.InputPeerChannel(11, 888)
    await session.flush()
    assert store.entities["default"][-1000000000010][2] is None  # the old holder lost it


async def test_phone_and_name_lookups() -> None:
    session = await signed_in(FakeSessionStore())
    session.process_entities([user(5, None, phone="15550100")])
    assert session.get_input_entity("+15550100") == types.InputPeerUser(5, 15)
    assert session.get_input_entity("Ann") == types.InputPeerUser(5, 15)


async def test_telethons_self_user_row_round_trips() -> None:
    # Telethon saves the self user as InputPeerUser(0, access_hash=<own id>) and reads it back
    # with get_input_entity(0) at connect.
    store = FakeSessionStore()
    session = await signed_in(store)
    session.process_entities(types.contacts.ResolvedPeer(None, [types.InputPeerUser(0, 5)], []))
    session.process_entities([user(5, "ann")])
    await session.flush()
    again = await StoreSession.load(store, "default")
    me = again.get_input_entity(0)
    assert me.access_hash == 5
    assert again.get_input_entity(me.access_hash) == types.InputPeerUser(5, 15)


async def test_channel_state_dates_alone_do_not_cause_writes() -> None:
    store = FakeSessionStore()
    session = await signed_in(store)
    session.set_update_state(0, state(40))
    session.set_update_state(10, state(7, date=1_700_000_000))
    await session.flush()
    # Telethon re-saves every channel state with date=now every minute.
    session.set_update_state(10, state(7, date=1_700_000_999))
    session.set_update_state(0, state(40))
    await session.flush()
    assert store.count("save_update_states") == 1
    session.set_update_state(10, state(8))
    session.set_update_state(0, state(40, date=1_700_000_500))  # the account date counts
    await session.flush()
    calls = [s for name, s in store.calls if name == "save_update_states"]
    assert calls[-1] == {10: (8, 0, 1_700_000_000, 0), 0: (40, 0, 1_700_000_500, 0)}


async def test_naive_channel_dates_are_accepted() -> None:
    # Telethon stamps channel states with datetime.now() (naive, local time).
    store = FakeSessionStore()
    session = await signed_in(store)
    naive = types.updates.State(7, 0, dt.datetime.now(), 0, unread_count=0)
    session.set_update_state(10, naive)
    await session.flush()
    assert store.states["default"][10][0] == 7


async def test_an_empty_account_state_never_replaces_a_known_one() -> None:
    store = FakeSessionStore()
    session = await signed_in(store)
    session.set_update_state(0, state(40))
    session.set_update_state(
        0, types.updates.State(0, 0, dt.datetime(1970, 1, 1, tzinfo=dt.UTC), 0, 0)
    )
    assert session.get_update_state(0).pts == 40


async def test_sessions_opened_without_update_persistence_never_write_states() -> None:
    store = FakeSessionStore()
    session = await signed_in(store)
    session.set_update_state(0, state(40))
    await session.flush()
    reader = await StoreSession.load(store, "default", persist_updates=False)
    reader.set_update_state(0, state(99))
    reader.set_update_state(10, state(5))
    reader.process_entities([channel(10, "feed")])
    await reader.flush()
    assert store.states["default"] == {0: (40, 0, 1_700_000_000, 0)}
    assert -1000000000010 in store.entities["default"]  # entities are still cached


async def test_save_schedules_a_flush_on_the_running_loop() -> None:
    store = FakeSessionStore()
    session = await signed_in(store)
    session.process_entities([channel(10, "feed")])
    session.save()
    session.save()  # coalesced with the one already scheduled
    await asyncio.sleep(0.01)
    assert store.count("save_entities") == 1
    assert -1000000000010 in store.entities["default"]


def test_save_without_a_running_loop_is_harmless() -> None:
    session = StoreSession(FakeSessionStore(), "default")
    session.set_dc(2, "127.0.0.1", 4430)
    session.save()
    session.close()
    session.auth_key = None


async def test_a_failed_background_flush_is_logged_without_the_key_and_retried() -> None:
    store = FakeSessionStore()
    session = await StoreSession.load(store, "default")
    session.set_dc(2, "127.0.0.1", 4430)
    store.failing["save_session_auth"] = StoreFailure(
        f"(sqlite3.OperationalError) database is locked [parameters: ({KEY!r}, 2)]"
    )
    with capture_logs() as logs:
        session.auth_key = AuthKey(KEY)
        session.save()
        await asyncio.sleep(0.01)
    assert [e["event"] for e in logs] == ["telegram_session_save_failed"]
    assert repr(KEY)[:20] not in str(logs)
    assert "database is locked" in str(logs)
    assert isinstance(session.last_error, StoreError)
    with pytest.raises(StoreError) as info:
        await session.flush()
    assert repr(KEY)[:20] not in str(info.value)
    del store.failing["save_session_auth"]
    await session.flush()  # still dirty: written now
    assert store.rows["default"].auth_key == KEY


async def test_failed_entity_batch_stays_dirty() -> None:
    store = FakeSessionStore()
    session = await signed_in(store)
    session.process_entities([channel(10, "feed")])
    store.failing["save_entities"] = StoreFailure("boom")
    with pytest.raises(StoreError, match="boom"):
        await session.flush()
    del store.failing["save_entities"]
    await session.flush()
    assert -1000000000010 in store.entities["default"]


async def test_repr_and_str_never_show_the_key() -> None:
    session = await signed_in(FakeSessionStore())
    for text in (repr(session), str(session), f"{session}", repr(vars(session))):
        assert KEY.hex()[:16] not in text
        assert repr(KEY)[2:30] not in text
    assert "auth_key=<set>" in repr(session)


def test_describe_error_cuts_byte_strings() -> None:
    exc = RuntimeError(f"insert failed [parameters: ('default', {KEY!r}, 2)]")
    text = describe_error(exc)
    assert repr(KEY)[2:20] not in text
    assert "insert failed" in text
    assert KEY.hex()[:40] not in describe_error(RuntimeError(f"key {KEY.hex()}"))


async def test_delete_removes_the_rows_and_nothing_is_written_afterwards() -> None:
    store = FakeSessionStore()
    session = await signed_in(store)
    session.delete()  # what Telethon's log_out() calls
    session.set_update_state(0, state(40))
    session.save()
    await session.flush()
    assert store.rows["default"].auth_key is None
    assert store.rows["default"].state == "logged_out"
    assert "default" not in store.states
    assert session.deleted
    assert store.audit[-1][1] == "session.logout"


async def test_destroy_then_reset_starts_afresh() -> None:
    store = FakeSessionStore()
    session = await signed_in(store)
    session.process_entities([channel(10, "feed")])
    session.set_update_state(10, state(7))
    await session.flush()
    await session.destroy(actor="analyst")
    assert not store.rows["default"].auth_key
    session.reset()
    await session.flush()
    assert store.rows["default"].auth_key == KEY
    assert store.rows["default"].state == "active"
    assert "default" not in store.entities
    assert store.audit[-1] == ("analyst", "session.logout", "default")


async def test_clone_is_a_memory_session_unbound_from_the_store() -> None:
    store = FakeSessionStore()
    session = await signed_in(store)
    clone = session.clone()
    assert type(clone) is MemorySession
    clone.set_dc(5, "10.0.0.5", 443)  # what Telethon does for a CDN
    await session.flush()
    assert store.rows["default"].dc_id == 2


async def test_sent_files_are_cached_in_memory() -> None:
    session = await signed_in(FakeSessionStore())
    session.cache_file(b"md5", 10, types.InputPhoto(1, 2, b""))
    assert session.get_file(b"md5", 10, types.InputPhoto) == types.InputPhoto(1, 2, b"")
    session.cache_file(b"md5", 10, types.InputDocument(3, 4, b""))
    assert session.get_file(b"md5", 10, types.InputDocument) == types.InputDocument(3, 4, b"")
    assert session.get_file(b"md5", 11, types.InputPhoto) is None


def test_list_sessions_is_empty() -> None:
    assert StoreSession.list_sessions() == []


async def test_update_states_come_back_as_telethon_states() -> None:
    session = await signed_in(FakeSessionStore())
    session.set_update_state(0, state(40))
    pairs = session.get_update_states()
    assert isinstance(pairs, list)
    ((entity_id, st),) = pairs
    assert entity_id == 0
    assert isinstance(st, types.updates.State)
    assert int(st.date.timestamp()) == 1_700_000_000
