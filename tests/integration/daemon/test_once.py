"""One reconciler pass (`monitor run --once`) through the real client and the loopback server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.domain import ChannelRef, ChannelState, MediaKind, RefKind
from monitor.errors import NotFound, SessionRevoked, TelegramError
from tests.integration.daemon.harness import Env, photo


async def test_a_listed_photo_in_a_watched_channel_becomes_a_hit(env: Env) -> None:
    await env.list_photos(1)
    channel = env.world.create_channel("feedone", "Feed One", members=[env.user])
    env.world.post_message(channel, "hello")
    env.world.post_photo(channel, env.listed[1], caption="look")
    env.world.post_photo(channel, photo(500))  # unrelated
    await env.watch("@feedone")
    summary = await env.run_once()
    assert summary.channels == 1
    async with env.store() as store:
        hits = await store.list_hits()
        assert len(hits) == 1
        hit = hits[0]
        assert hit.case_id == "case-1"
        assert hit.source is not None
        assert hit.source.chat_id == channel.marked_id
        assert hit.source.chat_title == "Feed One"
        assert hit.source.chat_username == "feedone"
        assert hit.source.link == f"https://t.me/feedone/{hit.source.message_id}"
        assert hit.source.posted_at is not None
        assert hit.source.posted_at.tzinfo is not None
        assert await store.get_cursor(channel.marked_id) == max(channel.messages)
        (entry,) = await store.list_watched_channels()
        assert entry.state is ChannelState.ACTIVE
        assert entry.last_reconciled_at is not None


async def test_channels_not_on_the_allow_list_are_never_read(env: Env) -> None:
    await env.list_photos(1)
    watched = env.world.create_channel("watched", members=[env.user])
    other = env.world.create_channel("other", members=[env.user])
    env.world.post_photo(other, env.listed[1])
    await env.watch("@watched")
    await env.run_once()
    async with env.store() as store:
        assert await store.list_hits() == []
        assert await store.get_cursor(other.marked_id) == 0
    assert watched.members  # the watched one was read
    history_of = [m for m in env.world.requests if m == "messages.getHistory"]
    assert history_of


async def test_restart_gives_no_duplicates_and_no_gaps(env: Env) -> None:
    await env.list_photos(1, 2, 3)
    channel = env.world.create_channel("feed", members=[env.user])
    await env.watch("@feed")
    env.world.post_photo(channel, env.listed[1])
    env.world.post_photo(channel, photo(601))
    await env.run_once()
    env.world.post_photo(channel, env.listed[2])  # while "down"
    env.world.post_message(channel, "text only")
    env.world.post_photo(channel, env.listed[3])
    await env.run_once()
    await env.run_once()  # nothing new: nothing changes
    async with env.store() as store:
        hits = await store.list_hits()
        assert sorted(h.case_id or "" for h in hits) == ["case-1", "case-2", "case-3"]
        assert await store.get_cursor(channel.marked_id) == max(channel.messages)
        from sqlalchemy import text

        async with store.engine.connect() as conn:
            sightings = (await conn.execute(text("SELECT count(*) FROM sightings"))).scalar()
        assert sightings == 4  # every photo once


async def test_oversize_media_is_skipped_with_its_reason_and_never_downloaded(env: Env) -> None:
    env.configure(**{"telegram.media": {"max_bytes": 2000}})
    channel = env.world.create_channel("feed", members=[env.user])
    env.world.post_photo(channel, photo(7))
    await env.watch("@feed")
    await env.run_once()
    assert env.world.request_count("upload.getFile") == 0
    async with env.store() as store:
        from sqlalchemy import text

        async with store.engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT media_id, skip_reason, skip_detail, file_size FROM sightings")
                )
            ).one()
        assert row.media_id is None
        assert row.skip_reason == "too_large"
        assert "limit 2000" in row.skip_detail
        assert row.file_size > 2000
        assert await store.get_cursor(channel.marked_id) == max(channel.messages)


async def test_a_forwarded_copy_is_downloaded_once_and_seen_twice(env: Env) -> None:
    await env.list_photos(1)
    source = env.world.create_channel("source", members=[env.user])
    copy = env.world.create_channel("copies", members=[env.user])
    msg = env.world.post_photo(source, env.listed[1])
    fwd = env.world.forward(source, msg, copy)
    await env.watch("@source", "@copies")
    await env.run_once()
    downloads = env.world.request_count("upload.getFile")
    assert downloads >= 1
    async with env.store() as store:
        hits = await store.list_hits()
        assert len(hits) == 2
        by_chat = {h.source.chat_id: h.source for h in hits if h.source}
        forwarded = by_chat[copy.marked_id]
        assert forwarded.message_id == fwd
        assert forwarded.forward_chat_id == source.marked_id
        assert forwarded.forward_message_id == msg
    # a later forward, after a restart, is recognised from the store: still no download
    env.world.forward(source, msg, copy)
    await env.run_once()
    assert env.world.request_count("upload.getFile") == downloads
    async with env.store() as store:
        assert len(await store.list_hits()) == 3


async def test_an_album_yields_one_sighting_per_item(env: Env) -> None:
    await env.list_photos(1, 2)
    channel = env.world.create_channel("feed", members=[env.user])
    ids = env.world.post_album(channel, [env.listed[1], env.listed[2], photo(900)])
    await env.watch("@feed")
    await env.run_once()
    async with env.store() as store:
        hits = await store.list_hits()
        assert {h.source.message_id for h in hits if h.source} == set(ids[:2])
        grouped = {h.source.grouped_id for h in hits if h.source}
        assert len(grouped) == 1
        assert None not in grouped


async def test_a_damaged_video_is_fetched_and_recorded_with_the_reason(env: Env) -> None:
    # (tests/integration/daemon/test_video.py has the real videos)
    channel = env.world.create_channel("feed", members=[env.user])
    env.world.post_document(
        channel,
        b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64,
        "video/mp4",
        "a.mp4",
        kind="video",
    )
    env.world.post_document(channel, b"%PDF-1.4 not media", "application/pdf", "a.pdf")
    await env.watch("@feed")
    await env.run_once()
    assert env.world.request_count("upload.getFile") == 1  # the video; never the PDF
    async with env.store() as store:
        from sqlalchemy import text

        async with store.engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT s.media_kind, s.skip_reason, m.hash_failure_reason FROM sightings s"
                        " JOIN media m ON m.id = s.media_id"
                    )
                )
            ).all()
    assert [tuple(r) for r in rows] == [(MediaKind.VIDEO.value, None, "corrupt_video")]


async def test_images_sent_as_files_and_static_stickers_are_hashed(env: Env) -> None:
    from io import BytesIO

    from monitor.synthetic import photo_like

    await env.list_photos(3)
    channel = env.world.create_channel("feed", members=[env.user])
    png = BytesIO()
    photo_like(3, (640, 480)).save(png, "PNG")
    env.world.post_document(channel, png.getvalue(), "image/png", "leak.png")
    webp = BytesIO()
    photo_like(3, (512, 384)).save(webp, "WEBP")
    env.world.post_document(channel, webp.getvalue(), "image/webp", "sticker.webp", kind="sticker")
    await env.watch("@feed")
    await env.run_once()
    async with env.store() as store:
        hits = await store.list_hits()
    kinds = sorted(h.source.media_kind.value for h in hits if h.source)
    assert kinds == ["image", "sticker"]


async def test_an_expired_file_reference_is_cured_by_refetching(env: Env) -> None:
    await env.list_photos(1)
    channel = env.world.create_channel("feed", members=[env.user])
    msg = env.world.post_photo(channel, env.listed[1])
    await env.watch("@feed")
    # The reconciler fetches the message (with its file reference) before downloading; expire
    # the reference the moment history is served.
    original = env.world.take_injected_error

    def expire_after_history(method: str):  # type: ignore[no-untyped-def]
        if method == "upload.getFile" and not getattr(expire_after_history, "done", False):
            expire_after_history.done = True  # type: ignore[attr-defined]
            env.world.expire_file_reference(channel, msg)
        return original(method)

    env.world.take_injected_error = expire_after_history  # type: ignore[method-assign]
    await env.run_once()
    async with env.store() as store:
        assert len(await store.list_hits()) == 1
    assert env.world.request_count("channels.getMessages") >= 1


async def test_a_flood_wait_is_waited_out_and_work_resumes(env: Env) -> None:
    env.configure(telegram={"flood_sleep_threshold": 0, "max_flood_wait": 30})
    await env.list_photos(1)
    channel = env.world.create_channel("feed", members=[env.user])
    env.world.post_photo(channel, env.listed[1])
    await env.watch("@feed")
    env.world.flood_wait("messages.getHistory", 1, times=1)
    await env.run_once()
    async with env.store() as store:
        assert len(await store.list_hits()) == 1
        (summary,) = await store.flood_wait_summary()
        assert summary.count == 1
        assert summary.total_seconds == 1


async def test_a_flood_wait_longer_than_allowed_stops_with_exit_7(env: Env) -> None:
    env.configure(telegram={"flood_sleep_threshold": 0, "max_flood_wait": 5})
    channel = env.world.create_channel("feed", members=[env.user])
    env.world.post_photo(channel, photo(1))
    await env.watch("@feed")
    env.world.flood_wait("messages.getHistory", 600, times=1)
    with pytest.raises(TelegramError) as info:
        await env.run_once()
    assert info.value.exit_code == 7
    assert "600" in str(info.value)


async def test_a_revoked_session_ends_in_the_revoked_state_and_exit_8(env: Env) -> None:
    channel = env.world.create_channel("feed", members=[env.user])
    env.world.post_photo(channel, photo(1))
    await env.watch("@feed")
    env.world.revoke_session(env.user)
    with pytest.raises(SessionRevoked) as info:
        await env.run_once()
    assert info.value.exit_code == 8
    async with env.store() as store:
        account = await store.get_account(env.settings.telegram.session)
        assert account is not None
        assert account.state == "revoked"
        actions = [a.action for a in await store.audit_entries()]
        assert "session.revoked" in actions
    # and again at the next start, without asking Telegram in a loop
    with pytest.raises(SessionRevoked):
        await env.run_once()


async def test_allow_list_entries_are_resolved_and_their_state_recorded(env: Env) -> None:
    world = env.world
    world.create_channel("publicfeed", "Public Feed")  # not a member: joined by username
    joinable = world.create_channel(None, "Private Joinable")
    approval = world.create_channel(None, "Needs Approval")
    expired = world.create_channel(None, "Expired")
    valid_hash = world.create_invite(joinable, "valid")
    approval_hash = world.create_invite(approval, "request_needed")
    expired_hash = world.create_invite(expired, "expired")
    await env.watch(
        "@publicfeed",
        f"https://t.me/+{valid_hash}",
        f"https://t.me/joinchat/{approval_hash}",
        f"t.me/+{expired_hash}",
        "@nosuchchannel",
        "-1009999999999",
    )
    summary = await env.run_once()
    assert summary.channels == 2
    async with env.store() as store:
        states = {w.ref: (w.state, w.title) for w in await store.list_watched_channels()}
    assert states["@publicfeed"] == (ChannelState.ACTIVE, "Public Feed")
    assert states[f"https://t.me/+{valid_hash}"] == (ChannelState.ACTIVE, "Private Joinable")
    assert states[f"https://t.me/+{approval_hash}"][0] is ChannelState.NEEDS_APPROVAL
    assert states[f"https://t.me/+{expired_hash}"][0] is ChannelState.INVITE_EXPIRED
    assert states["@nosuchchannel"][0] is ChannelState.NOT_FOUND
    assert states["-1009999999999"][0] is ChannelState.NOT_FOUND
    assert env.user.id in joinable.members
    assert env.world.request_count("messages.checkChatInvite") >= 3


async def test_a_channel_that_turned_private_is_reported_not_retried_silently(env: Env) -> None:
    channel = env.world.create_channel("feed", members=[env.user])
    env.world.post_photo(channel, photo(1))
    await env.watch("@feed")
    await env.run_once()
    env.world.make_private(channel)
    env.world.post_photo(channel, photo(2))
    await env.run_once()
    async with env.store() as store:
        (entry,) = await store.list_watched_channels()
    assert entry.state in (ChannelState.PRIVATE, ChannelState.NOT_FOUND)
    assert entry.state_detail


async def test_a_new_channel_starts_from_now_when_no_history_is_wanted(env: Env) -> None:
    env.configure(telegram={"initial_history_days": 0.0})
    await env.list_photos(1, 2)
    channel = env.world.create_channel("feed", members=[env.user])
    env.world.post_photo(channel, env.listed[1])  # before watching: not wanted
    await env.watch("@feed")
    await env.run_once()
    env.world.post_photo(channel, env.listed[2])
    await env.run_once()
    async with env.store() as store:
        assert [h.case_id for h in await store.list_hits()] == ["case-2"]


async def test_backfill_reaches_behind_the_cursor_and_only_allow_listed_chats(env: Env) -> None:
    env.configure(telegram={"initial_history_days": 0.0})
    await env.list_photos(1)
    channel = env.world.create_channel("feed", members=[env.user])
    env.world.post_photo(channel, env.listed[1])
    await env.watch("@feed")
    await env.run_once()
    async with env.store() as store:
        assert await store.list_hits() == []
        cursor = await store.get_cursor(channel.marked_id)
    async with env.daemon(live=False) as daemon:
        since = datetime.now(UTC) - timedelta(days=1)
        count = await daemon.backfill(ChannelRef(RefKind.USERNAME, "feed"), since)
    assert count == 1
    async with env.store() as store:
        assert [h.case_id for h in await store.list_hits()] == ["case-1"]
        assert await store.get_cursor(channel.marked_id) == cursor
    env.world.create_channel("elsewhere", members=[env.user])
    async with env.daemon(live=False) as daemon:
        with pytest.raises(NotFound):
            await daemon.backfill(ChannelRef(RefKind.USERNAME, "elsewhere"), since)
