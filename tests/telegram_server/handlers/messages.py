"""messages.*: history, messages by id, dialogs, sending, invites."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from telethon.tl import functions, types

from ..errors import RpcError, bad_request
from ..models import ChannelRecord, MessageRecord, SentMessage, UserRecord, now
from . import RequestContext, handler
from .updates import account_state

MESSAGE_LENGTH_MAX = 4096  # as help.getConfig says


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
        messages=[channel.message_to_tl(r, user.id) for r in records],
        topics=[],
        chats=[channel.to_tl(viewer_id=user.id)],
        users=[],
    )


@handler(functions.messages.GetHistoryRequest)
def get_history(
    ctx: RequestContext, request: functions.messages.GetHistoryRequest
) -> types.messages.ChannelMessages | types.messages.Messages:
    me = ctx.require_user()
    if isinstance(request.peer, types.InputPeerSelf | types.InputPeerUser):
        return _private_history(ctx, me, request)
    if not isinstance(request.peer, types.InputPeerChannel):
        return types.messages.Messages(messages=[], topics=[], chats=[], users=[])
    channel = ctx.world.channel_for(request.peer, me)
    records = _slice(list(channel.messages.values()), request)
    return channel_messages(channel, records, me, count=len(channel.messages))


def _slice(
    messages: list[MessageRecord], request: functions.messages.GetHistoryRequest
) -> list[MessageRecord]:
    return history_slice(
        messages,
        offset_id=request.offset_id,
        offset_date=_ts(request.offset_date),
        add_offset=request.add_offset,
        limit=request.limit,
        max_id=request.max_id,
        min_id=request.min_id,
    )


def _private_history(
    ctx: RequestContext, me: UserRecord, request: functions.messages.GetHistoryRequest
) -> types.messages.Messages | types.messages.MessagesSlice:
    """The chat with one user (or Saved Messages) from ``me``'s private box; a
    ``messagesSlice`` when it does not fit in one answer, as Telegram does."""
    other = ctx.world.user_for(request.peer, me)
    chat = [m for m in me.messages.values() if (m.peer_user_id or me.id) == other.id]
    records = _slice(chat, request)
    messages = [me.message_to_tl(r) for r in records]
    users = [u.to_tl(viewer_id=me.id) for u in {me.id: me, other.id: other}.values()]
    if len(records) < len(chat):
        return types.messages.MessagesSlice(
            count=len(chat), messages=messages, topics=[], chats=[], users=users
        )
    return types.messages.Messages(messages=messages, topics=[], chats=[], users=users)


@handler(functions.messages.GetMessagesRequest)
def get_messages(
    ctx: RequestContext, request: functions.messages.GetMessagesRequest
) -> types.messages.Messages:
    """Messages of ``me``'s private box by id (channel messages go through channels.*)."""
    me = ctx.require_user()
    messages: list[types.TypeMessage] = []
    peers = {me.id}
    for input_id in request.id:
        msg_id = getattr(input_id, "id", 0)
        record = me.messages.get(msg_id)
        if record is None:
            messages.append(types.MessageEmpty(id=msg_id, peer_id=types.PeerUser(me.id)))
        else:
            messages.append(me.message_to_tl(record))
            peers.add(record.peer_user_id or me.id)
    users = [ctx.world.users[i].to_tl(viewer_id=me.id) for i in peers]
    return types.messages.Messages(messages=messages, topics=[], chats=[], users=users)


def _dialog(peer: types.TypePeer, top_message: int, pts: int | None) -> types.Dialog:
    return types.Dialog(
        peer=peer,
        top_message=top_message,
        read_inbox_max_id=0,
        read_outbox_max_id=0,
        unread_count=0,
        unread_mentions_count=0,
        unread_reactions_count=0,
        unread_poll_votes_count=0,
        notify_settings=types.PeerNotifySettings(),
        pts=pts,
    )


@dataclass
class _DialogRow:
    """One dialog of ``messages.getDialogs`` with what it needs sent along."""

    date: dt.datetime  # of the newest message (the channel's creation when it has none)
    dialog: types.Dialog
    message: types.TypeMessage | None
    chat: types.TypeChat | None = None
    user_id: int | None = None


def _channel_dialog(channel: ChannelRecord, me: UserRecord) -> _DialogRow:
    top = channel.messages[max(channel.messages)] if channel.messages else None
    return _DialogRow(
        date=top.date if top else channel.date,
        dialog=_dialog(types.PeerChannel(channel.id), top.id if top else 0, channel.pts),
        message=channel.message_to_tl(top, me.id) if top else None,
        chat=channel.to_tl(viewer_id=me.id),
    )


def _private_dialogs(me: UserRecord) -> list[_DialogRow]:
    """One dialog per user ``me`` has private messages with (``me``: Saved Messages)."""
    tops: dict[int, MessageRecord] = {}
    for record in me.messages.values():
        other = record.peer_user_id or me.id
        if other not in tops or record.id > tops[other].id:
            tops[other] = record
    return [
        _DialogRow(
            date=top.date,
            dialog=_dialog(types.PeerUser(other), top.id, None),
            message=me.message_to_tl(top),
            user_id=other,
        )
        for other, top in tops.items()
    ]


@handler(functions.messages.GetDialogsRequest)
def get_dialogs(
    ctx: RequestContext, request: functions.messages.GetDialogsRequest
) -> types.messages.Dialogs | types.messages.DialogsSlice:
    """The member channels and private chats, latest activity first, each with its newest
    message as ``top_message``. Honours ``limit`` and ``offset_peer`` (the last dialog of the
    previous page, as Telethon pages); the archive folder (1) is empty."""
    me = ctx.require_user()
    if request.folder_id == 1:
        return types.messages.Dialogs(dialogs=[], messages=[], chats=[], users=[])
    channels = [c for c in ctx.world.channels.values() if me.id in c.members and not c.removed]
    rows = [_channel_dialog(c, me) for c in channels] + _private_dialogs(me)
    rows.sort(key=lambda row: (_ts(row.date), row.dialog.top_message), reverse=True)
    offset_peer = request.offset_peer
    if not isinstance(offset_peer, types.InputPeerEmpty | None):
        keys = [_peer_key(row.dialog.peer) for row in rows]
        key = _input_peer_key(offset_peer, me)
        if key in keys:
            rows = rows[keys.index(key) + 1 :]
    total = len(rows)
    rows = rows[: max(1, min(request.limit or 100, 100))]
    user_ids = {me.id} | {row.user_id for row in rows if row.user_id is not None}
    dialogs = [row.dialog for row in rows]
    messages = [row.message for row in rows if row.message is not None]
    chats = [row.chat for row in rows if row.chat is not None]
    users = [ctx.world.users[i].to_tl(viewer_id=me.id) for i in user_ids]
    if len(rows) < total:
        return types.messages.DialogsSlice(
            count=total, dialogs=dialogs, messages=messages, chats=chats, users=users
        )
    return types.messages.Dialogs(dialogs=dialogs, messages=messages, chats=chats, users=users)


def _peer_key(peer: types.TypePeer) -> tuple[str, int]:
    if isinstance(peer, types.PeerChannel):
        return "channel", peer.channel_id
    return "user", getattr(peer, "user_id", 0)


def _input_peer_key(peer: object, me: UserRecord) -> tuple[str, int]:
    if isinstance(peer, types.InputPeerChannel):
        return "channel", peer.channel_id
    if isinstance(peer, types.InputPeerSelf):
        return "user", me.id
    return "user", getattr(peer, "user_id", 0)


@handler(functions.messages.GetPinnedDialogsRequest)
def get_pinned_dialogs(ctx: RequestContext, request: object) -> types.messages.PeerDialogs:
    me = ctx.require_user()
    return types.messages.PeerDialogs(
        dialogs=[], messages=[], chats=[], users=[], state=account_state(me)
    )


@handler(functions.messages.SendMessageRequest)
def send_message(
    ctx: RequestContext, request: functions.messages.SendMessageRequest
) -> types.Updates | types.UpdateShortSentMessage:
    """Send text to a channel the account administers (a post: ``Updates`` with
    ``updateMessageID`` + ``updateNewChannelMessage``), to a user, or to Saved Messages
    (``updateShortSentMessage`` carrying the account pts)."""
    me = ctx.require_user()
    text = request.message or ""
    if not text.strip():
        raise bad_request("MESSAGE_EMPTY")
    if len(text) > MESSAGE_LENGTH_MAX:
        raise bad_request("MESSAGE_TOO_LONG")
    peer = request.peer
    target: ChannelRecord | UserRecord
    if isinstance(peer, types.InputPeerChannel):
        target = ctx.world.channel_for(peer, me)
        if me.id not in target.admins:
            raise RpcError(403, "CHAT_WRITE_FORBIDDEN")
    elif isinstance(peer, types.InputPeerSelf | types.InputPeerUser):
        target = ctx.world.user_for(peer, me)
        if me.bot and target.bot and target.id != me.id:
            raise bad_request("USER_IS_BOT")
    else:
        raise bad_request("PEER_ID_INVALID")
    sent = ctx.world.send_message(
        me,
        target,
        text,
        entities=request.entities or None,
        random_id=request.random_id,
        skip_auth_key_id=ctx.auth.key.key_id,
    )
    return _sent_result(me, target, sent)


def _sent_result(
    me: UserRecord, target: ChannelRecord | UserRecord, sent: SentMessage
) -> types.Updates | types.UpdateShortSentMessage:
    """The answer for ``sent`` (rebuilt the same for a repeated ``random_id``)."""
    if isinstance(target, ChannelRecord):
        record = target.messages.get(sent.message_id)
        event = next(
            (e for e in target.events if e.kind == "new" and e.message_ids == [sent.message_id]),
            None,
        )
        updates: list[types.TypeUpdate] = [
            types.UpdateMessageID(id=sent.message_id, random_id=sent.random_id or 0)
        ]
        if record is not None and event is not None:
            updates.append(
                types.UpdateNewChannelMessage(target.message_to_tl(record, me.id), event.pts, 1)
            )
        return types.Updates(
            updates=updates, users=[], chats=[target.to_tl(viewer_id=me.id)], date=now(), seq=0
        )
    pts = next((e.pts for e in me.events if e.message_id == sent.message_id), me.pts)
    return types.UpdateShortSentMessage(
        id=sent.message_id,
        pts=pts,
        pts_count=1,
        date=sent.date,
        out=True,
        entities=sent.entities,
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
