"""updates.*: account state and difference, per-channel difference (pts replay)."""

from __future__ import annotations

from telethon.tl import functions, types

from ..models import ChannelRecord, UserRecord, now
from . import RequestContext, handler

# Telegram's limit for users' channel difference: a larger gap is "too long" (and Telethon then
# drops the backlog instead of delivering it).
USER_CHANNEL_DIFF_LIMIT = 100


def account_state(user: UserRecord) -> types.updates.State:
    return types.updates.State(pts=user.pts, qts=0, date=now(), seq=0, unread_count=0)


@handler(functions.updates.GetStateRequest)
def get_state(ctx: RequestContext, request: object) -> types.updates.State:
    return account_state(ctx.require_user())


@handler(functions.updates.GetDifferenceRequest)
def get_difference(
    ctx: RequestContext, request: functions.updates.GetDifferenceRequest
) -> types.updates.Difference | types.updates.DifferenceEmpty:
    """The private messages that landed in the account's box after ``pts``, and, for the
    member channels, ``updateChannelTooLong`` (as Telegram does), letting the client fetch
    each channel's difference from the pts it knows."""
    me = ctx.require_user()
    channels = [c for c in ctx.world.channels.values() if me.id in c.members and not c.removed]
    ids = [e.message_id for e in me.events if e.pts > request.pts]
    records = [me.messages[i] for i in ids if i in me.messages]
    new_messages = [me.message_to_tl(r) for r in records]
    if not channels and not new_messages:
        return types.updates.DifferenceEmpty(date=now(), seq=0)
    user_ids = {me.id} | {r.peer_user_id for r in records if r.peer_user_id}
    return types.updates.Difference(
        new_messages=new_messages,
        new_encrypted_messages=[],
        other_updates=[types.UpdateChannelTooLong(channel_id=c.id, pts=c.pts) for c in channels],
        chats=[c.to_tl(viewer_id=me.id) for c in channels],
        users=[ctx.world.users[i].to_tl(viewer_id=me.id) for i in user_ids],
        state=account_state(me),
    )


def _dialog(channel: ChannelRecord) -> types.Dialog:
    return types.Dialog(
        peer=types.PeerChannel(channel.id),
        top_message=max(channel.messages, default=0),
        read_inbox_max_id=0,
        read_outbox_max_id=0,
        unread_count=0,
        unread_mentions_count=0,
        unread_reactions_count=0,
        unread_poll_votes_count=0,
        notify_settings=types.PeerNotifySettings(),
        pts=channel.pts,
    )


@handler(functions.updates.GetChannelDifferenceRequest)
def get_channel_difference(
    ctx: RequestContext, request: functions.updates.GetChannelDifferenceRequest
) -> (
    types.updates.ChannelDifference
    | types.updates.ChannelDifferenceEmpty
    | types.updates.ChannelDifferenceTooLong
):
    me = ctx.require_user()
    world = ctx.world
    channel = world.channel_for(request.channel, me)
    chats = [channel.to_tl(viewer_id=me.id)]
    events = [e for e in channel.events if e.pts > request.pts]
    if not events:
        return types.updates.ChannelDifferenceEmpty(pts=channel.pts, final=True, timeout=30)
    limit = max(1, min(request.limit or USER_CHANNEL_DIFF_LIMIT, USER_CHANNEL_DIFF_LIMIT))
    if len(events) > limit:
        latest = sorted(channel.messages)[-limit:]
        return types.updates.ChannelDifferenceTooLong(
            dialog=_dialog(channel),
            messages=[channel.message_to_tl(channel.messages[i], me.id) for i in reversed(latest)],
            chats=chats,
            users=[],
            final=True,
            timeout=30,
        )
    new_messages: list[types.TypeMessage] = []
    other_updates: list[types.TypeUpdate] = []
    for event in events:
        if event.kind == "new":
            record = channel.messages.get(event.message_ids[0])
            if record is not None:
                new_messages.append(channel.message_to_tl(record, me.id))
            continue
        update = world.event_update(channel, event, me.id)
        if update is not None:
            other_updates.append(update)
    return types.updates.ChannelDifference(
        pts=channel.pts,
        new_messages=new_messages,
        other_updates=other_updates,
        chats=chats,
        users=[],
        final=True,
        timeout=30,
    )
