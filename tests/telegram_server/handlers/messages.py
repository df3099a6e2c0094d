"""messages.*: history, dialogs, invites."""

from __future__ import annotations

import datetime as dt

from telethon.tl import functions, types

from ..errors import bad_request
from ..models import ChannelRecord, MessageRecord, UserRecord, now
from . import RequestContext, handler
from .updates import account_state


def _ts(value: dt.datetime | None) -> int:
    return int(value.timestamp()) if value else 0


def history_slice(
    messages: list[MessageRecord],
    *,
    offset_id: int,
    offset_date: int,
    add_offset: int,
    limit: int,
    max_id: int,
    min_id: int,
) -> list[MessageRecord]:
    """Telegram's getHistory window: newest first; start at the first message older than
    ``offset_id`` (or ``offset_date``), shifted by ``add_offset`` (negative = newer), ``limit``
    long, then bounded by the exclusive ``max_id`` / ``min_id``."""
    ordered = sorted(messages, key=lambda m: m.id, reverse=True)
    if offset_id:
        start = next((i for i, m in enumerate(ordered) if m.id < offset_id), len(ordered))
    elif offset_date:
        start = next((i for i, m in enumerate(ordered) if _ts(m.date) < offset_date), len(ordered))
    else:
        start = 0
    start += add_offset
    end = start + max(0, min(limit or 100, 100))
    window = ordered[max(0, start) : max(0, end)]
    return [m for m in window if (not max_id or m.id < max_id) and (not min_id or m.id > min_id)]


def channel_messages(
    channel: ChannelRecord, records: list[MessageRecord], user: UserRecord, *, count: int
) -> types.messages.ChannelMessages:
    return types.messages.ChannelMessages(
        pts=channel.pts,
        count=count,
        messages=[channel.message_to_tl(r) for r in records],
        topics=[],
        chats=[channel.to_tl(viewer_id=user.id)],
        users=[],
    )


@handler(functions.messages.GetHistoryRequest)
def get_history(
    ctx: RequestContext, request: functions.messages.GetHistoryRequest
) -> types.messages.ChannelMessages | types.messages.Messages:
    me = ctx.require_user()
    if not isinstance(request.peer, types.InputPeerChannel):
        return types.messages.Messages(messages=[], topics=[], chats=[], users=[])
    channel = ctx.world.channel_for(request.peer, me)
    records = history_slice(
        list(channel.messages.values()),
        offset_id=request.offset_id,
        offset_date=_ts(request.offset_date),
        add_offset=request.add_offset,
        limit=request.limit,
        max_id=request.max_id,
        min_id=request.min_id,
    )
    return channel_messages(channel, records, me, count=len(channel.messages))


@handler(functions.messages.GetMessagesRequest)
def get_messages(
    ctx: RequestContext, request: functions.messages.GetMessagesRequest
) -> types.messages.Messages:
    me = ctx.require_user()
    # Only channels hold messages in this world; non-channel ids are all empty.
    peer = types.PeerUser(me.id)
    return types.messages.Messages(
        messages=[types.MessageEmpty(id=getattr(i, "id", 0), peer_id=peer) for i in request.id],
        topics=[],
        chats=[],
        users=[],
    )


@handler(functions.messages.GetDialogsRequest)
def get_dialogs(
    ctx: RequestContext, request: functions.messages.GetDialogsRequest
) -> types.messages.Dialogs:
    me = ctx.require_user()
    channels = [c for c in ctx.world.channels.values() if me.id in c.members and not c.removed]
    tops = {c.id: c.messages[max(c.messages)] if c.messages else None for c in channels}

    def last_activity(channel: ChannelRecord) -> int:
        top = tops[channel.id]
        return _ts(top.date if top else channel.date)

    channels.sort(key=last_activity, reverse=True)
    dialogs, messages = [], []
    for channel in channels:
        top = tops[channel.id]
        dialogs.append(
            types.Dialog(
                peer=types.PeerChannel(channel.id),
                top_message=top.id if top else 0,
                read_inbox_max_id=0,
                read_outbox_max_id=0,
                unread_count=0,
                unread_mentions_count=0,
                unread_reactions_count=0,
                unread_poll_votes_count=0,
                notify_settings=types.PeerNotifySettings(),
                pts=channel.pts,
            )
        )
        if top:
            messages.append(channel.message_to_tl(top))
    return types.messages.Dialogs(
        dialogs=dialogs,
        messages=messages,
        chats=[c.to_tl(viewer_id=me.id) for c in channels],
        users=[me.to_tl(viewer_id=me.id)],
    )


@handler(functions.messages.GetPinnedDialogsRequest)
def get_pinned_dialogs(ctx: RequestContext, request: object) -> types.messages.PeerDialogs:
    me = ctx.require_user()
    return types.messages.PeerDialogs(
        dialogs=[], messages=[], chats=[], users=[], state=account_state(me)
    )


def _invite(ctx: RequestContext, invite_hash: str) -> tuple[ChannelRecord, str]:
    invite = ctx.world.invites.get(invite_hash)
    channel = ctx.world.channels.get(invite.channel_id) if invite else None
    if invite is None or channel is None or channel.removed:
        raise bad_request("INVITE_HASH_INVALID")
    if invite.state == "expired":
        raise bad_request("INVITE_HASH_EXPIRED")
    return channel, invite.state


@handler(functions.messages.CheckChatInviteRequest)
def check_chat_invite(
    ctx: RequestContext, request: functions.messages.CheckChatInviteRequest
) -> types.ChatInvite | types.ChatInviteAlready:
    me = ctx.require_user()
    channel, state = _invite(ctx, request.hash)
    if me.id in channel.members:
        return types.ChatInviteAlready(chat=channel.to_tl(viewer_id=me.id))
    return types.ChatInvite(
        title=channel.title,
        photo=types.PhotoEmpty(id=0),
        participants_count=len(channel.members),
        color=0,
        channel=True,
        broadcast=True,
        public=not channel.private or None,
        request_needed=(state == "request_needed") or None,
        about=channel.about or None,
    )


@handler(functions.messages.ImportChatInviteRequest)
def import_chat_invite(
    ctx: RequestContext, request: functions.messages.ImportChatInviteRequest
) -> types.Updates:
    me = ctx.require_user()
    channel, state = _invite(ctx, request.hash)
    if me.id in channel.members:
        raise bad_request("USER_ALREADY_PARTICIPANT")
    if state == "request_needed":
        raise bad_request("INVITE_REQUEST_SENT")
    channel.members.add(me.id)
    return joined_updates(channel, me)


def joined_updates(channel: ChannelRecord, user: UserRecord) -> types.Updates:
    return types.Updates(
        updates=[types.UpdateChannel(channel_id=channel.id)],
        users=[],
        chats=[channel.to_tl(viewer_id=user.id)],
        date=now(),
        seq=0,
    )
