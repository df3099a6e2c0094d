"""In-memory records of the fake Telegram world, and their TL (Telethon) renderings."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Literal

from telethon import utils
from telethon.crypto import AuthKey
from telethon.tl import types

MediaKind = Literal["photo", "document"]
InviteState = Literal["valid", "expired", "request_needed"]
PeerKind = Literal["channel", "user", "self"]


def now() -> dt.datetime:
    return dt.datetime.now(tz=dt.UTC).replace(microsecond=0)


def random_long() -> int:
    return int.from_bytes(os.urandom(8), "little", signed=True)


@dataclass
class PasswordRecord:
    """A cloud (2FA) password as the server keeps it: the SRP salts and verifier ``g^x mod p``."""

    salt1: bytes
    salt2: bytes
    verifier: int
    hint: str | None = None


@dataclass
class AccountEvent:
    """One account-pts change (a private message landed in the user's box)."""

    pts: int
    message_id: int


@dataclass
class UserRecord:
    id: int
    access_hash: int
    phone: str | None
    code: str | None
    first_name: str
    username: str | None = None
    bot: bool = False
    bot_token: str | None = None
    password: PasswordRecord | None = None
    pts: int = 1  # account-wide pts: one step per private message in this user's box
    # The user's private message box (Saved Messages and chats with users): its own id sequence.
    messages: dict[int, MessageRecord] = field(default_factory=dict)
    next_message_id: int = 1
    events: list[AccountEvent] = field(default_factory=list)

    @property
    def input_peer(self) -> types.InputPeerUser:
        return types.InputPeerUser(self.id, self.access_hash)

    def message_to_tl(self, record: MessageRecord) -> types.Message:
        """A message of this user's private box, as this user sees it."""
        return types.Message(
            id=record.id,
            peer_id=types.PeerUser(record.peer_user_id or self.id),
            date=record.date,
            message=record.text,
            out=(record.sender_id == self.id) or None,
            from_id=types.PeerUser(record.sender_id) if record.sender_id else None,
            media=record.media.to_media() if record.media else None,
            entities=record.entities or None,
            edit_date=record.edit_date,
        )

    def to_tl(self, *, viewer_id: int | None) -> types.User:
        is_self = viewer_id == self.id
        return types.User(
            id=self.id,
            is_self=is_self or None,
            bot=self.bot or None,
            access_hash=self.access_hash,
            first_name=self.first_name,
            username=self.username,
            phone=self.phone if is_self else None,
            bot_info_version=1 if self.bot else None,
        )


@dataclass
class AuthKeyRecord:
    """A server-side auth key and what it is logged in as."""

    key: AuthKey
    user_id: int | None = None
    revoked: str | None = None  # an RPC error message (401) answered to every authorised call
    password_user_id: int | None = None  # passed the code, still owes the 2FA password
    # A client sent a message under this key (a key whose handshake the client rejected, as
    # Telethon does in 1 of 256 handshakes, is registered but never used).
    used: bool = False


THUMB_SIZE = "m"  # the type of the one thumbnail a document may carry


@dataclass
class MediaFile:
    """A photo or document whose bytes upload.getFile serves."""

    kind: MediaKind
    id: int
    access_hash: int
    file_reference: bytes
    data: bytes
    date: dt.datetime
    dc_id: int
    mime_type: str = "image/jpeg"
    w: int = 0
    h: int = 0
    attributes: list[types.TypeDocumentAttribute] = field(default_factory=list)
    # A document's thumbnail (a JPEG, served for thumb_size "m"), as videos carry one.
    thumb: bytes | None = None

    @property
    def photo_size_type(self) -> str:
        return "y" if max(self.w, self.h) > 800 else "x"

    def to_tl(self) -> types.Photo | types.Document:
        if self.kind == "photo":
            return types.Photo(
                id=self.id,
                access_hash=self.access_hash,
                file_reference=self.file_reference,
                date=self.date,
                sizes=[types.PhotoSize(self.photo_size_type, self.w, self.h, len(self.data))],
                dc_id=self.dc_id,
            )
        return types.Document(
            id=self.id,
            access_hash=self.access_hash,
            file_reference=self.file_reference,
            date=self.date,
            mime_type=self.mime_type,
            size=len(self.data),
            dc_id=self.dc_id,
            attributes=list(self.attributes),
            thumbs=[types.PhotoSize(THUMB_SIZE, 90, 90, len(self.thumb))] if self.thumb else None,
        )

    def to_media(self) -> types.MessageMediaPhoto | types.MessageMediaDocument:
        tl = self.to_tl()
        if isinstance(tl, types.Photo):
            return types.MessageMediaPhoto(photo=tl)
        video = next(
            (a for a in self.attributes if isinstance(a, types.DocumentAttributeVideo)), None
        )
        is_round = video is not None and bool(video.round_message)
        return types.MessageMediaDocument(
            document=tl, video=(video is not None and not is_round) or None, round=is_round or None
        )


@dataclass
class MessageRecord:
    id: int
    date: dt.datetime
    text: str = ""
    media: MediaFile | None = None
    grouped_id: int | None = None
    fwd_from: types.MessageFwdHeader | None = None
    edit_date: dt.datetime | None = None
    sender_id: int | None = None  # the user who sent it (None: a post made by the world)
    peer_user_id: int | None = None  # private box only: the other side (own id: Saved Messages)
    entities: list[types.TypeMessageEntity] | None = None


@dataclass
class SentMessage:
    """A message an account sent through ``messages.sendMessage`` (``World.sent_messages``)."""

    sender_id: int
    peer_kind: PeerKind
    peer: int | Literal["self"]  # channel id, user id, or "self" (Saved Messages)
    text: str
    date: dt.datetime
    message_id: int  # in the channel, or in the sender's private box
    random_id: int | None = None
    entities: list[types.TypeMessageEntity] | None = None


@dataclass
class ChannelEvent:
    """One pts-numbered change of a channel, replayed by updates.getChannelDifference."""

    pts: int
    pts_count: int
    kind: Literal["new", "edit", "delete"]
    message_ids: list[int]


ADMIN_RIGHTS = types.ChatAdminRights(
    post_messages=True, edit_messages=True, delete_messages=True, invite_users=True
)


@dataclass
class ChannelRecord:
    id: int
    access_hash: int
    title: str
    username: str | None
    private: bool
    date: dt.datetime
    removed: bool = False
    about: str = ""
    members: set[int] = field(default_factory=set)
    admins: set[int] = field(default_factory=set)  # may post (admins are also members)
    messages: dict[int, MessageRecord] = field(default_factory=dict)
    next_message_id: int = 1
    pts: int = 1
    events: list[ChannelEvent] = field(default_factory=list)
    drop_pushes: int = 0

    @property
    def marked_id(self) -> int:
        """The Bot-API style id Telethon uses (``-100`` prefix)."""
        return int(utils.get_peer_id(types.PeerChannel(self.id)))

    @property
    def input_peer(self) -> types.InputPeerChannel:
        return types.InputPeerChannel(self.id, self.access_hash)

    @property
    def input_channel(self) -> types.InputChannel:
        return types.InputChannel(self.id, self.access_hash)

    def to_tl(self, *, viewer_id: int | None) -> types.Channel:
        return types.Channel(
            id=self.id,
            title=self.title,
            photo=types.ChatPhotoEmpty(),
            date=self.date,
            broadcast=True,
            left=(viewer_id not in self.members) or None,
            access_hash=self.access_hash,
            username=self.username,
            admin_rights=ADMIN_RIGHTS if viewer_id in self.admins else None,
            participants_count=len(self.members),
        )

    def message_to_tl(self, record: MessageRecord, viewer_id: int | None = None) -> types.Message:
        """A post as ``viewer_id`` sees it (``out`` when the viewer sent it)."""
        return types.Message(
            id=record.id,
            peer_id=types.PeerChannel(self.id),
            date=record.date,
            message=record.text,
            out=(record.sender_id is not None and record.sender_id == viewer_id) or None,
            post=True,
            entities=record.entities or None,
            media=record.media.to_media() if record.media else None,
            fwd_from=record.fwd_from,
            grouped_id=record.grouped_id,
            edit_date=record.edit_date,
            views=1,
            forwards=0,
        )


@dataclass
class InviteRecord:
    hash: str
    channel_id: int
    state: InviteState = "valid"
