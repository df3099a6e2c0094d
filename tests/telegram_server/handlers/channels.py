"""channels.*: lookup, full info, join/leave, messages by id."""

from __future__ import annotations

from telethon.tl import functions, types

from ..errors import bad_request
from . import RequestContext, handler
from .messages import channel_messages, joined_updates


@handler(functions.channels.GetChannelsRequest)
def get_channels(
    ctx: RequestContext, request: functions.channels.GetChannelsRequest
) -> types.messages.Chats:
    me = ctx.require_user()
    return types.messages.Chats(
        chats=[ctx.world.channel_for(c, me).to_tl(viewer_id=me.id) for c in request.id]
    )


@handler(functions.channels.GetFullChannelRequest)
def get_full_channel(
    ctx: RequestContext, request: functions.channels.GetFullChannelRequest
) -> types.messages.ChatFull:
    me = ctx.require_user()
    channel = ctx.world.channel_for(request.channel, me)
    return types.messages.ChatFull(
        full_chat=types.ChannelFull(
            id=channel.id,
            about=channel.about,
            read_inbox_max_id=0,
            read_outbox_max_id=0,
            unread_count=0,
            chat_photo=types.PhotoEmpty(id=0),
            notify_settings=types.PeerNotifySettings(),
            bot_info=[],
            pts=channel.pts,
            participants_count=len(channel.members),
        ),
        chats=[channel.to_tl(viewer_id=me.id)],
        users=[],
    )


@handler(functions.channels.JoinChannelRequest)
def join_channel(
    ctx: RequestContext, request: functions.channels.JoinChannelRequest
) -> types.Updates:
    me = ctx.require_user()
    channel = ctx.world.channel_for(request.channel, me)
    if me.id in channel.members:
        raise bad_request("USER_ALREADY_PARTICIPANT")
    channel.members.add(me.id)
    return joined_updates(channel, me)


@handler(functions.channels.LeaveChannelRequest)
def leave_channel(
    ctx: RequestContext, request: functions.channels.LeaveChannelRequest
) -> types.Updates:
    me = ctx.require_user()
    channel = ctx.world.channel_for(request.channel, me)
    if me.id not in channel.members:
        raise bad_request("USER_NOT_PARTICIPANT")
    channel.members.discard(me.id)
    return joined_updates(channel, me)


@handler(functions.channels.GetMessagesRequest)
def get_messages(
    ctx: RequestContext, request: functions.channels.GetMessagesRequest
) -> types.messages.ChannelMessages:
    me = ctx.require_user()
    channel = ctx.world.channel_for(request.channel, me)
    result = channel_messages(channel, [], me, count=len(request.id))
    for input_id in request.id:
        msg_id = getattr(input_id, "id", 0)
        record = channel.messages.get(msg_id)
        result.messages.append(
            channel.message_to_tl(record, me.id)
            if record
            else types.MessageEmpty(id=msg_id, peer_id=types.PeerChannel(channel.id))
        )
    return result
