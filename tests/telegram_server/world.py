"""The in-memory backend: users, channels, messages, media, invites, and scenario controls.

Tests drive a ``World`` through its scenario methods (``create_user``, ``create_channel``,
``post_photo``, ``send_message``, ``drop_next_push``, ``flood_wait``, ``forget_auth_key`` ...);
the request handlers in ``handlers/`` read and change it. All methods are synchronous and must
run on the server's event loop (pushes are written straight to the connected clients' sockets).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import itertools
import logging
import os
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from telethon.crypto import AuthKey
from telethon.tl import TLObject, types

from . import srp
from .errors import RpcError, bad_request
from .models import (
    AccountEvent,
    AuthKeyRecord,
    ChannelEvent,
    ChannelRecord,
    InviteRecord,
    InviteState,
    MediaFile,
    MessageRecord,
    PeerKind,
    SentMessage,
    UserRecord,
    now,
    random_long,
)

log = logging.getLogger(__name__)

DEFAULT_CODE = "12345"


class Subscriber(Protocol):
    """A live client connection that can receive pushed updates."""

    @property
    def user_id(self) -> int | None: ...

    @property
    def auth_key_id(self) -> int | None: ...

    def push(self, obj: TLObject) -> None: ...


@dataclass
class _Injection:
    code: int
    message: str
    times: int
    after: int = 0  # calls let through before the first failure


def _image_size(data: bytes) -> tuple[int, int]:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return int(image.width), int(image.height)
    except Exception:
        return 0, 0


class World:
    """Everything the fake Telegram knows."""

    def __init__(self, dc_id: int = 2) -> None:
        self.dc_id = dc_id
        self.host = "127.0.0.1"
        self.port = 0
        self.users: dict[int, UserRecord] = {}
        self.channels: dict[int, ChannelRecord] = {}
        self.invites: dict[str, InviteRecord] = {}
        self.auth_keys: dict[int, AuthKeyRecord] = {}
        self.media: dict[tuple[str, int], MediaFile] = {}
        self.requests: Counter[str] = Counter()
        # Every upload.getFile answered: (photo or document, media id, thumb size or "").
        self.served: list[tuple[str, int, str]] = []
        self.unimplemented: list[str] = []
        self.handler_errors: list[str] = []
        self.phone_code_hashes: dict[str, str] = {}
        self.srp_challenges: dict[int, srp.SrpChallenge] = {}
        self.sent_messages: list[SentMessage] = []
        self._sent_by_random_id: dict[tuple[int, int], SentMessage] = {}
        self._injections: dict[str, list[_Injection]] = {}
        self._lost_answers: Counter[str] = Counter()
        self._subscribers: set[Subscriber] = set()
        self._ids = itertools.count(1_000_001)
        self._request_event = asyncio.Event()

    # region ids, lookups

    def _new_id(self) -> int:
        return next(self._ids)

    def user_by_phone(self, phone: str) -> UserRecord | None:
        phone = phone.lstrip("+")
        return next((u for u in self.users.values() if u.phone == phone), None)

    # endregion

    # region scenario: accounts

    def create_user(
        self,
        phone: str,
        code: str = DEFAULT_CODE,
        *,
        first_name: str = "Test",
        username: str | None = None,
        password: str | None = None,
    ) -> UserRecord:
        """An existing account that can sign in with ``phone`` and ``code`` (and, when
        ``password`` is given, then its 2FA cloud password: ``auth.signIn`` answers
        ``SESSION_PASSWORD_NEEDED`` until ``auth.checkPassword`` proves it by SRP)."""
        user = UserRecord(
            id=self._new_id(),
            access_hash=random_long(),
            phone=phone.lstrip("+"),
            code=code,
            first_name=first_name,
            username=username,
        )
        self.users[user.id] = user
        if password is not None:
            self.set_password(user, password)
        return user

    def set_password(
        self, user: UserRecord, password: str | None, *, hint: str | None = None
    ) -> None:
        """Set (or with None remove) the account's 2FA cloud password. The server keeps only
        the SRP salts and verifier; pending ``account.getPassword`` challenges are voided."""
        user.password = srp.make_password(password, hint) if password is not None else None
        for srp_id in [k for k, c in self.srp_challenges.items() if c.user_id == user.id]:
            del self.srp_challenges[srp_id]

    def create_bot(self, token: str | None = None, *, username: str = "test_bot") -> UserRecord:
        """A bot account; sign in with ``client.start(bot_token=user.bot_token)``."""
        user_id = self._new_id()
        bot = UserRecord(
            id=user_id,
            access_hash=random_long(),
            phone=None,
            code=None,
            first_name=username,
            username=username,
            bot=True,
            bot_token=token or f"{user_id}:{secrets.token_urlsafe(24)}",
        )
        self.users[bot.id] = bot
        return bot

    def register_auth_key(self, key: AuthKey) -> AuthKeyRecord:
        record = AuthKeyRecord(key=key)
        self.auth_keys[key.key_id] = record
        return record

    def used_auth_keys(self) -> list[AuthKeyRecord]:
        """The auth keys clients actually used (see ``AuthKeyRecord.used``)."""
        return [record for record in self.auth_keys.values() if record.used]

    def forget_auth_key(self, user: UserRecord | None = None) -> int:
        """Forget auth keys (all, or the user's): the client's next packet gets transport -404.

        Telethon answers that by disconnecting with ``telethon.errors.AuthKeyNotFound``.
        Returns how many keys were forgotten.
        """
        doomed = [k for k, r in self.auth_keys.items() if user is None or r.user_id == user.id]
        for key_id in doomed:
            del self.auth_keys[key_id]
        return len(doomed)

    def revoke_session(self, user: UserRecord, error: str = "SESSION_REVOKED") -> None:
        """Every authorised call of the user's keys now fails with ``401 <error>``.

        ``SESSION_REVOKED`` -> ``SessionRevokedError``; ``AUTH_KEY_UNREGISTERED`` ->
        ``AuthKeyUnregisteredError``; ``USER_DEACTIVATED`` -> ``UserDeactivatedError``.
        """
        for record in self.auth_keys.values():
            if record.user_id == user.id:
                record.revoked = error

    # endregion

    # region scenario: channels and invites

    def create_channel(
        self,
        username: str | None,
        title: str | None = None,
        private: bool | None = None,
        *,
        members: Iterable[UserRecord] = (),
        admins: Iterable[UserRecord] = (),
        about: str = "",
    ) -> ChannelRecord:
        """A broadcast channel; private (no username) unless a username is given. ``admins``
        (also members) may post in it with ``messages.sendMessage``; plain members may not."""
        admin_ids = {a.id for a in admins}
        channel = ChannelRecord(
            id=self._new_id(),
            access_hash=random_long(),
            title=title or (username or "Private channel"),
            username=username,
            private=(username is None) if private is None else private,
            date=now(),
            about=about,
            members={m.id for m in members} | admin_ids,
            admins=admin_ids,
        )
        self.channels[channel.id] = channel
        return channel

    def add_member(self, channel: ChannelRecord, user: UserRecord, *, admin: bool = False) -> None:
        """Make ``user`` a member (with ``admin=True`` an admin who may post)."""
        channel.members.add(user.id)
        if admin:
            channel.admins.add(user.id)

    def create_invite(
        self, channel: ChannelRecord, state: InviteState = "valid", invite_hash: str | None = None
    ) -> str:
        """An invite hash (``t.me/+HASH``) in state ``valid``, ``expired`` or ``request_needed``."""
        invite = InviteRecord(
            hash=invite_hash or secrets.token_urlsafe(12), channel_id=channel.id, state=state
        )
        self.invites[invite.hash] = invite
        return invite.hash

    def make_private(self, channel: ChannelRecord, *, kick_members: bool = True) -> None:
        """Drop the username; non-members (and, by default, everyone) get CHANNEL_PRIVATE."""
        channel.username = None
        channel.private = True
        if kick_members:
            channel.members.clear()

    def remove_channel(self, channel: ChannelRecord) -> None:
        """The channel is gone: every access answers CHANNEL_INVALID."""
        channel.removed = True

    # endregion

    # region scenario: posts

    def _new_message(
        self,
        channel: ChannelRecord,
        record: MessageRecord,
        push: bool,
        skip_auth_key_id: int | None = None,
    ) -> int:
        record.id = channel.next_message_id
        channel.next_message_id += 1
        channel.messages[record.id] = record
        self._emit(channel, "new", [record.id], push=push, skip_auth_key_id=skip_auth_key_id)
        return record.id

    def _new_media(self, kind: str, data: bytes, **fields: object) -> MediaFile:
        media = MediaFile(
            kind=kind,  # type: ignore[arg-type]
            id=random_long() & 0x7FFF_FFFF_FFFF_FFFF,
            access_hash=random_long(),
            file_reference=os.urandom(16),
            data=bytes(data),
            date=now(),
            dc_id=self.dc_id,
            **fields,  # type: ignore[arg-type]
        )
        self.media[(kind, media.id)] = media
        return media

    def post_message(self, channel: ChannelRecord, text: str, *, push: bool = True) -> int:
        return self._new_message(channel, MessageRecord(id=0, date=now(), text=text), push)

    def post_photo(
        self,
        channel: ChannelRecord,
        jpeg_bytes: bytes,
        caption: str | None = None,
        grouped_id: int | None = None,
        push: bool = True,
    ) -> int:
        """A photo post; the served bytes are exactly ``jpeg_bytes``."""
        w, h = _image_size(jpeg_bytes)
        media = self._new_media("photo", jpeg_bytes, w=w, h=h)
        record = MessageRecord(
            id=0, date=now(), text=caption or "", media=media, grouped_id=grouped_id
        )
        return self._new_message(channel, record, push)

    def post_album(
        self, channel: ChannelRecord, images: list[bytes], caption: str | None = None
    ) -> list[int]:
        """Several photos sharing one ``grouped_id`` (caption on the first)."""
        grouped_id = random_long() & 0x7FFF_FFFF_FFFF_FFFF
        return [
            self.post_photo(channel, img, caption if i == 0 else None, grouped_id=grouped_id)
            for i, img in enumerate(images)
        ]

    def post_document(
        self,
        channel: ChannelRecord,
        data: bytes,
        mime: str,
        file_name: str | None = None,
        push: bool = True,
        *,
        kind: str = "file",
        caption: str | None = None,
        duration: float = 1.0,
        grouped_id: int | None = None,
        size: tuple[int, int] | None = None,
        thumb: bytes | None = None,
    ) -> int:
        """A document, with the attributes Telegram gives each ``kind``:

        * ``file``: any file (e.g. an image sent as a file);
        * ``video``: a video (``DocumentAttributeVideo``), also a video sent as a file;
        * ``round``: a round video message (``DocumentAttributeVideo(round_message=True)``);
        * ``animation`` (or ``gif``): a GIF as Telegram sends it, a silent MP4 with
          ``DocumentAttributeAnimated``;
        * ``sticker``: a static sticker (WebP); ``video_sticker``: a WebM sticker (sticker and
          video attributes); ``animated_sticker``: a .tgs (``application/x-tgsticker``).

        ``size`` is the (width, height) the attributes claim (default: read from an image, else
        320 x 240 for videos, 512 x 512 for stickers); ``thumb`` a JPEG thumbnail the document
        carries (served for thumb size "m", never instead of the document).
        """
        w, h = size or (_image_size(data) if mime.startswith("image/") else (0, 0))
        attributes: list[types.TypeDocumentAttribute] = []
        sticker = types.DocumentAttributeSticker(alt="", stickerset=types.InputStickerSetEmpty())
        if kind == "video":
            attributes.append(
                types.DocumentAttributeVideo(duration, w or 320, h or 240, supports_streaming=True)
            )
        elif kind == "round":
            attributes.append(
                types.DocumentAttributeVideo(duration, w or 240, h or 240, round_message=True)
            )
        elif kind in ("animation", "gif"):
            attributes += [
                types.DocumentAttributeAnimated(),
                types.DocumentAttributeVideo(duration, w or 320, h or 240, nosound=True),
            ]
        elif kind == "sticker":
            attributes += [types.DocumentAttributeImageSize(w or 512, h or 512), sticker]
        elif kind == "video_sticker":
            attributes += [
                types.DocumentAttributeVideo(duration, w or 512, h or 512, nosound=True),
                sticker,
            ]
        elif kind == "animated_sticker":
            attributes += [types.DocumentAttributeImageSize(w or 512, h or 512), sticker]
        elif kind != "file":
            raise ValueError(f"unknown document kind {kind!r}")
        elif w and h:
            attributes.append(types.DocumentAttributeImageSize(w, h))
        if file_name:
            attributes.append(types.DocumentAttributeFilename(file_name))
        media = self._new_media(
            "document", data, mime_type=mime, w=w, h=h, attributes=attributes, thumb=thumb
        )
        record = MessageRecord(
            id=0, date=now(), text=caption or "", media=media, grouped_id=grouped_id
        )
        return self._new_message(channel, record, push)

    def forward(
        self, src_channel: ChannelRecord, msg_id: int, dst_channel: ChannelRecord, push: bool = True
    ) -> int:
        """Re-post ``msg_id`` into ``dst_channel`` with a forward header; the media (and so
        ``photo.id`` / ``document.id``) is shared, as on Telegram."""
        src = src_channel.messages[msg_id]
        record = MessageRecord(
            id=0,
            date=now(),
            text=src.text,
            media=src.media,
            fwd_from=types.MessageFwdHeader(
                date=src.date, from_id=types.PeerChannel(src_channel.id), channel_post=msg_id
            ),
        )
        return self._new_message(dst_channel, record, push)

    def edit_message_media(
        self, channel: ChannelRecord, msg_id: int, new_jpeg: bytes, push: bool = True
    ) -> None:
        """Replace a post's photo (a new photo id), as an edit."""
        record = channel.messages[msg_id]
        w, h = _image_size(new_jpeg)
        record.media = self._new_media("photo", new_jpeg, w=w, h=h)
        record.edit_date = now()
        self._emit(channel, "edit", [msg_id], push=push)

    def remove_message_media(self, channel: ChannelRecord, msg_id: int, push: bool = True) -> None:
        """Take a post's media away, keeping the message (its caption stays as text), as an
        edit."""
        record = channel.messages[msg_id]
        record.media = None
        record.edit_date = now()
        self._emit(channel, "edit", [msg_id], push=push)

    def edit_message_text(
        self, channel: ChannelRecord, msg_id: int, text: str, push: bool = True
    ) -> None:
        record = channel.messages[msg_id]
        record.text = text
        record.edit_date = now()
        self._emit(channel, "edit", [msg_id], push=push)

    def delete_messages(
        self, channel: ChannelRecord, ids: Iterable[int], push: bool = True
    ) -> None:
        gone = [i for i in ids if channel.messages.pop(i, None) is not None]
        if gone:
            self._emit(channel, "delete", gone, push=push)

    def expire_file_reference(self, channel: ChannelRecord, msg_id: int) -> bytes:
        """Give the post's media a new file_reference; the old one answers
        FILE_REFERENCE_EXPIRED (re-fetch the message to get the new one)."""
        media = channel.messages[msg_id].media
        if media is None:
            raise ValueError("message has no media")
        media.file_reference = os.urandom(16)
        return media.file_reference

    def drop_next_push(self, channel: ChannelRecord, count: int = 1) -> None:
        """The next ``count`` changes of the channel advance its pts but are never pushed."""
        channel.drop_pushes += count

    # endregion

    # region scenario: sending (messages.sendMessage, and other users writing)

    def send_message(
        self,
        sender: UserRecord,
        to: ChannelRecord | UserRecord | None,
        text: str,
        *,
        entities: list[types.TypeMessageEntity] | None = None,
        random_id: int | None = None,
        skip_auth_key_id: int | None = None,
    ) -> SentMessage:
        """``sender`` sends ``text`` to a channel (a post, pushed to members like any post), a
        user (one copy in each private box, each with its own id and account pts, pushed to
        both users' other sessions), or ``None`` / ``sender`` itself (Saved Messages).

        Recorded in ``sent_messages``. No permission checks here (the handler does them), so a
        test can also make another account write to the daemon's. A repeated ``random_id``
        from the same sender returns the first send instead of sending twice, as on Telegram.
        ``skip_auth_key_id``: the requesting connection, which gets the result instead of a push.
        """
        if random_id is not None:
            earlier = self._sent_by_random_id.get((sender.id, random_id))
            if earlier is not None:
                return earlier
        peer_kind: PeerKind
        peer: int | Literal["self"]
        date = now()
        if isinstance(to, ChannelRecord):
            peer_kind, peer = "channel", to.id
            record = MessageRecord(
                id=0, date=date, text=text, sender_id=sender.id, entities=entities
            )
            message_id = self._new_message(to, record, True, skip_auth_key_id)
        elif to is None or to.id == sender.id:
            peer_kind, peer = "self", "self"
            message_id = self._deliver_private(
                sender, sender.id, sender.id, text, date, entities, skip_auth_key_id
            )
        else:
            peer_kind, peer = "user", to.id
            message_id = self._deliver_private(
                sender, to.id, sender.id, text, date, entities, skip_auth_key_id
            )
            self._deliver_private(to, sender.id, sender.id, text, date, entities, None)
        sent = SentMessage(
            sender_id=sender.id,
            peer_kind=peer_kind,
            peer=peer,
            text=text,
            date=date,
            message_id=message_id,
            random_id=random_id,
            entities=entities,
        )
        self.sent_messages.append(sent)
        if random_id is not None:
            self._sent_by_random_id[(sender.id, random_id)] = sent
        return sent

    def _deliver_private(
        self,
        owner: UserRecord,
        peer_user_id: int,
        sender_id: int,
        text: str,
        date: dt.datetime,
        entities: list[types.TypeMessageEntity] | None,
        skip_auth_key_id: int | None,
    ) -> int:
        """Put a copy of a private message into ``owner``'s box (next id, next account pts)
        and push it to the owner's sessions (but ``skip_auth_key_id``)."""
        record = MessageRecord(
            id=owner.next_message_id,
            date=date,
            text=text,
            sender_id=sender_id,
            peer_user_id=peer_user_id,
            entities=entities,
        )
        owner.next_message_id += 1
        owner.messages[record.id] = record
        owner.pts += 1
        owner.events.append(AccountEvent(owner.pts, record.id))
        involved = {owner.id: owner, peer_user_id: self.users[peer_user_id]}
        users = [u.to_tl(viewer_id=owner.id) for u in involved.values()]
        update = types.Updates(
            updates=[types.UpdateNewMessage(owner.message_to_tl(record), owner.pts, 1)],
            users=users,
            chats=[],
            date=now(),
            seq=0,
        )
        for subscriber in list(self._subscribers):
            if subscriber.user_id == owner.id and subscriber.auth_key_id != skip_auth_key_id:
                subscriber.push(update)
        return record.id

    # endregion

    # region scenario: errors and accounting

    def flood_wait(self, method: str, seconds: int, times: int = 1, *, after: int = 0) -> None:
        """The next ``times`` calls of ``method`` (e.g. ``"upload.getFile"``) get
        ``420 FLOOD_WAIT_<seconds>`` (after letting ``after`` calls through)."""
        self.fail_next(method, 420, f"FLOOD_WAIT_{seconds}", times, after=after)

    def fail_next(
        self, method: str, code: int, message: str, times: int = 1, *, after: int = 0
    ) -> None:
        """The next ``times`` calls of ``method`` get ``rpc_error{code, message}``; with
        ``after``, that many calls are answered normally first."""
        self._injections.setdefault(method, []).append(
            _Injection(code, message, times, after=after)
        )

    def lose_next_answer(self, method: str, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` are carried out, but the connection is then
        dropped instead of answering (the answer is lost). Telethon reconnects and sends the
        request again; whether that repeats the action is up to the method (``sendMessage``
        does not: same ``random_id``)."""
        self._lost_answers[method] += times

    def take_lost_answer(self, method: str) -> bool:
        if self._lost_answers[method] <= 0:
            return False
        self._lost_answers[method] -= 1
        return True

    def take_injected_error(self, method: str) -> RpcError | None:
        queue = self._injections.get(method)
        if not queue:
            return None
        injection = queue[0]
        if injection.after > 0:
            injection.after -= 1
            return None
        injection.times -= 1
        if injection.times <= 0:
            queue.pop(0)
        return RpcError(injection.code, injection.message)

    def count_request(self, method: str) -> None:
        self.requests[method] += 1
        self._request_event.set()

    def request_count(self, method: str) -> int:
        """How many times ``method`` (TL name, e.g. ``"upload.getFile"``) was called."""
        return self.requests[method]

    async def wait_for_request(self, method: str, count: int = 1, seconds: float = 5.0) -> None:
        """Wait until ``method`` has been called at least ``count`` times in total."""

        async def _wait() -> None:
            while self.requests[method] < count:
                self._request_event.clear()
                await self._request_event.wait()

        await asyncio.wait_for(_wait(), seconds)

    # endregion

    # region updates

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.add(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def _emit(
        self,
        channel: ChannelRecord,
        kind: str,
        ids: list[int],
        *,
        push: bool,
        skip_auth_key_id: int | None = None,
    ) -> None:
        count = len(ids) if kind == "delete" else 1
        channel.pts += count
        channel.events.append(ChannelEvent(channel.pts, count, kind, list(ids)))  # type: ignore[arg-type]
        if not push:
            return
        if channel.drop_pushes:
            channel.drop_pushes -= 1
            log.info("dropping push of %s pts=%d in channel %d", kind, channel.pts, channel.id)
            return
        for subscriber in list(self._subscribers):
            user_id = subscriber.user_id
            if user_id is None or user_id not in channel.members or channel.removed:
                continue
            if skip_auth_key_id is not None and subscriber.auth_key_id == skip_auth_key_id:
                continue
            update = self.event_update(channel, channel.events[-1], viewer_id=user_id)
            if update is not None:
                subscriber.push(
                    types.Updates(
                        updates=[update],
                        users=[],
                        chats=[channel.to_tl(viewer_id=user_id)],
                        date=now(),
                        seq=0,
                    )
                )

    def event_update(
        self, channel: ChannelRecord, event: ChannelEvent, viewer_id: int | None = None
    ) -> types.TypeUpdate | None:
        if event.kind == "delete":
            return types.UpdateDeleteChannelMessages(
                channel.id, event.message_ids, event.pts, event.pts_count
            )
        record = channel.messages.get(event.message_ids[0])
        if record is None:
            return None
        cls = (
            types.UpdateNewChannelMessage if event.kind == "new" else types.UpdateEditChannelMessage
        )
        return cls(channel.message_to_tl(record, viewer_id), event.pts, event.pts_count)

    # endregion

    # region access checks used by handlers

    def channel_for(self, peer: object, user: UserRecord | None) -> ChannelRecord:
        """Resolve an InputChannel / InputPeerChannel, enforcing removal and privacy."""
        channel_id = getattr(peer, "channel_id", None)
        channel = self.channels.get(channel_id) if channel_id is not None else None
        if channel is None or channel.removed:
            raise bad_request("CHANNEL_INVALID")
        access_hash = getattr(peer, "access_hash", None)
        # Bots may use access_hash 0 for channels they are in (Telethon does, for bare ids).
        bot_member = user is not None and user.bot and user.id in channel.members
        if access_hash != channel.access_hash and not (bot_member and access_hash == 0):
            raise bad_request("CHANNEL_INVALID")
        if channel.private and (user is None or user.id not in channel.members):
            raise bad_request("CHANNEL_PRIVATE")
        return channel

    def user_for(self, peer: object, user: UserRecord) -> UserRecord:
        """Resolve an InputUser / InputPeerUser / InputPeerSelf as seen by ``user``. Bots may
        pass access_hash 0 (Telethon does, for bare ids)."""
        if isinstance(peer, types.InputUserSelf | types.InputPeerSelf):
            return user
        target = self.users.get(getattr(peer, "user_id", -1))
        access_hash = getattr(peer, "access_hash", None)
        if target is None or (
            access_hash != target.access_hash and not (user.bot and access_hash == 0)
        ):
            raise bad_request("USER_ID_INVALID")
        return target

    def media_for(
        self, kind: str, media_id: int, access_hash: int, file_reference: bytes
    ) -> MediaFile:
        media = self.media.get((kind, media_id))
        if media is None or media.access_hash != access_hash:
            raise bad_request("FILE_ID_INVALID" if kind == "document" else "PHOTO_INVALID")
        if file_reference != media.file_reference:
            raise bad_request("FILE_REFERENCE_EXPIRED")
        return media

    # endregion
