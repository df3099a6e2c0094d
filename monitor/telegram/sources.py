"""Telegram messages as plain data: the chat being watched and where a media item was seen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from telethon import types

from monitor.domain import SightingSource, SourceKind
from monitor.telegram.media import MediaRef
from monitor.telegram.refs import bare_channel_id, message_link, to_bot_api_id


@dataclass(frozen=True, slots=True)
class Chat:
    """A resolved, authorised chat. ``entity`` is Telethon's input peer (opaque here)."""

    chat_id: int  # Bot-API form (-100...)
    title: str | None
    username: str | None
    entity: Any
    watched_id: int  # the allow-list entry that authorised it

    @property
    def bare_id(self) -> int:
        return bare_channel_id(self.chat_id)


def chat_id_of(message: Any) -> int | None:
    """The Bot-API chat id of a message's chat (channels and supergroups), else None."""
    peer = getattr(message, "peer_id", None)
    if isinstance(peer, types.PeerChannel):
        return to_bot_api_id(peer.channel_id)
    if isinstance(peer, types.PeerChat):
        return -int(peer.chat_id)
    return None


def sighting_key(chat_id: int, message_id: int, media_id: int) -> str:
    """Idempotency key: a media item in a message. A new photo in an edit is a new sighting."""
    return f"tg:{chat_id}:{message_id}:{media_id}"


def sighting_source(message: Any, chat: Chat, ref: MediaRef) -> SightingSource:
    fwd_chat, fwd_msg, fwd_name = _forward(message)
    posted = getattr(message, "date", None)
    if isinstance(posted, datetime) and posted.tzinfo is None:
        posted = posted.replace(tzinfo=UTC)
    return SightingSource(
        kind=SourceKind.TELEGRAM,
        key=sighting_key(chat.chat_id, message.id, ref.media_id),
        chat_id=chat.chat_id,
        chat_title=chat.title,
        chat_username=chat.username,
        message_id=message.id,
        grouped_id=getattr(message, "grouped_id", None),
        telegram_media_id=ref.media_id,
        media_kind=ref.kind,
        posted_at=posted if isinstance(posted, datetime) else None,
        link=message_link(chat.chat_id, message.id, chat.username),
        forward_chat_id=fwd_chat,
        forward_message_id=fwd_msg,
        forward_from_name=fwd_name,
    )


def _forward(message: Any) -> tuple[int | None, int | None, str | None]:
    """(origin chat id in Bot-API form, origin message id, origin name) of a forwarded message."""
    header = getattr(message, "fwd_from", None)
    if header is None:
        return None, None, None
    origin = header.from_id
    chat: int | None = None
    if isinstance(origin, types.PeerChannel):
        chat = to_bot_api_id(origin.channel_id)
    elif isinstance(origin, types.PeerChat):
        chat = -origin.chat_id
    elif isinstance(origin, types.PeerUser):
        chat = origin.user_id
    return chat, header.channel_post, header.from_name or header.post_author
