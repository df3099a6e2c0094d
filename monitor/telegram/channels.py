"""The allow-list, resolved: which Telegram chats the daemon may read, and joining them.

Every enabled entry is resolved at start and unresolved ones again at each reconciler pass; an
entry that cannot be resolved or accessed keeps a state saying why (``ChannelState``) and is
logged by name, never silently skipped. Invite links are checked
(``messages.CheckChatInviteRequest``) before joining; joins are spaced ``join_interval`` seconds
apart because Telegram limits them. Nothing outside the resolved set is ever processed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, Protocol

from telethon import errors, functions, types, utils

from monitor.config import TelegramSettings
from monitor.domain import ChannelRef, ChannelState, RefKind, WatchedChannel
from monitor.errors import ConfigError, InputError
from monitor.logs import get_logger
from monitor.telegram.errors import fatal_auth_reason
from monitor.telegram.flood import FloodControl
from monitor.telegram.refs import BOT_API_PREFIX, bare_channel_id, parse_ref, to_bot_api_id
from monitor.telegram.sources import Chat

log = get_logger(__name__)


class AllowListStore(Protocol):
    async def list_watched_channels(
        self, *, include_disabled: bool = False
    ) -> list[WatchedChannel]: ...

    async def sync_config_channels(
        self, refs: Sequence[ChannelRef], *, actor: str
    ) -> tuple[list[WatchedChannel], list[WatchedChannel]]: ...

    async def set_channel_state(
        self,
        watched_id: int,
        state: ChannelState,
        *,
        detail: str | None = None,
        telegram_id: int | None = None,
        username: str | None = None,
        title: str | None = None,
        joined: bool = False,
    ) -> WatchedChannel: ...


def config_refs(settings: TelegramSettings) -> list[ChannelRef]:
    """The allow-list of the config file, parsed; a bad entry is a ConfigError naming it."""
    refs = []
    for text in settings.channels:
        try:
            refs.append(parse_ref(text))
        except InputError as exc:
            raise ConfigError("telegram.channels", str(exc)) from None
    return refs


class _Resolved(Exception):
    """Internal: resolution of one entry ended in ``state``."""

    def __init__(self, state: ChannelState, detail: str) -> None:
        super().__init__(detail)
        self.state = state
        self.detail = detail


class AllowList:
    """Resolved chats by Bot-API id. ``allows(chat_id)`` is the only gate to processing."""

    def __init__(
        self,
        client: Any,
        store: AllowListStore,
        settings: TelegramSettings,
        flood: FloodControl,
        *,
        actor: str,
    ) -> None:
        self._client = client
        self._store = store
        self._settings = settings
        self._flood = flood
        self._actor = actor
        self._chats: dict[int, Chat] = {}
        self._last_join = 0.0
        self._dialogs_loaded = False
        self.entries: list[WatchedChannel] = []

    @property
    def chats(self) -> list[Chat]:
        return list(self._chats.values())

    def allows(self, chat_id: int | None) -> Chat | None:
        return self._chats.get(chat_id) if chat_id is not None else None

    def forget(self, chat_id: int) -> None:
        self._chats.pop(chat_id, None)

    async def refresh(self, *, everything: bool = False) -> list[WatchedChannel]:
        """Sync the config's entries into the store, then resolve every enabled entry that is
        not active yet (all of them with ``everything``). Returns the entries as stored."""
        await self._store.sync_config_channels(config_refs(self._settings), actor=self._actor)
        entries = await self._store.list_watched_channels()
        enabled_ids = {e.id for e in entries}
        # Entries removed from the allow-list stop being read at once.
        for chat_id, chat in list(self._chats.items()):
            if chat.watched_id not in enabled_ids:
                log.info("channel_unwatched", chat_id=chat_id, title=chat.title)
                del self._chats[chat_id]
        out = []
        for entry in entries:
            have = entry.telegram_id is not None and entry.telegram_id in self._chats
            if have and not everything and entry.state is ChannelState.ACTIVE:
                out.append(entry)
                continue
            out.append(await self._resolve(entry))
        self.entries = out
        return out

    async def _resolve(self, entry: WatchedChannel) -> WatchedChannel:
        try:
            chat, joined = await self._resolve_entry(entry)
        except _Resolved as outcome:
            if chat_id := entry.telegram_id:
                self._chats.pop(chat_id, None)
            level = log.info if outcome.state is ChannelState.NEEDS_APPROVAL else log.warning
            level(
                "channel_not_watched",
                ref=entry.ref,
                state=outcome.state.value,
                detail=outcome.detail,
            )
            return await self._store.set_channel_state(
                entry.id, outcome.state, detail=outcome.detail
            )
        except errors.FloodWaitError as exc:
            await self._flood.wait(exc, chat_id=entry.telegram_id, sleep=False)
            return await self._store.set_channel_state(
                entry.id, ChannelState.FLOOD_WAIT, detail=f"retry after {exc.seconds} s"
            )
        except errors.RPCError as exc:
            if fatal_auth_reason(exc):
                raise
            log.warning("channel_resolve_failed", ref=entry.ref, error=str(exc))
            return await self._store.set_channel_state(
                entry.id, ChannelState.ERROR, detail=f"{exc.code}: {exc.message}"
            )
        self._chats[chat.chat_id] = chat
        if entry.state is not ChannelState.ACTIVE or entry.telegram_id != chat.chat_id:
            log.info("channel_watched", ref=entry.ref, chat_id=chat.chat_id, title=chat.title)
        return await self._store.set_channel_state(
            entry.id,
            ChannelState.ACTIVE,
            telegram_id=chat.chat_id,
            username=chat.username,
            title=chat.title,
            joined=joined,
        )

    async def _resolve_entry(self, entry: WatchedChannel) -> tuple[Chat, bool]:
        if entry.ref_kind is RefKind.INVITE:
            return await self._by_invite(entry)
        if entry.ref_kind is RefKind.USERNAME:
            entity = await self._by_username(entry.ref.removeprefix("@"))
        else:
            entity = await self._by_id(int(entry.ref))
        joined = False
        if isinstance(entity, types.Channel) and entity.left:
            entity = await self._join_public(entity)
            joined = True
        return self._chat(entity, entry), joined

    async def _by_username(self, username: str) -> Any:
        try:
            entity = await self._client.get_entity(username)
        except (ValueError, errors.UsernameInvalidError, errors.UsernameNotOccupiedError):
            raise _Resolved(ChannelState.NOT_FOUND, f"no chat with username @{username}") from None
        except errors.ChannelPrivateError:
            raise _Resolved(ChannelState.PRIVATE, "the channel is private") from None
        if isinstance(entity, types.User):
            raise _Resolved(ChannelState.ERROR, f"@{username} is a user, not a channel or group")
        return entity

    async def _by_id(self, chat_id: int) -> Any:
        peer: Any = types.PeerChannel(bare_channel_id(chat_id))
        if BOT_API_PREFIX < chat_id < 0:
            peer = types.PeerChat(-chat_id)  # a basic group in Bot-API form (-123)
        try:
            return await self._client.get_entity(peer)
        except ValueError:
            pass
        except (errors.ChannelPrivateError, errors.ChannelInvalidError) as exc:
            raise _Resolved(_access_state(exc), _access_detail(exc)) from None
        if not self._dialogs_loaded:  # fill the entity cache from the account's chats, once
            self._dialogs_loaded = True
            await self._client.get_dialogs()
            try:
                return await self._client.get_entity(peer)
            except ValueError:
                pass
            except (errors.ChannelPrivateError, errors.ChannelInvalidError) as exc:
                raise _Resolved(_access_state(exc), _access_detail(exc)) from None
        raise _Resolved(
            ChannelState.NOT_FOUND,
            "not among this account's chats (a numeric id needs the account to know the chat; "
            "add it by @username or invite link)",
        )

    async def _by_invite(self, entry: WatchedChannel) -> tuple[Chat, bool]:
        invite_hash = parse_ref(entry.ref).value
        try:
            invite = await self._client(functions.messages.CheckChatInviteRequest(invite_hash))
        except (
            errors.InviteHashExpiredError,
            errors.InviteHashInvalidError,
            errors.InviteHashEmptyError,
        ):
            raise _Resolved(
                ChannelState.INVITE_EXPIRED, "the invite link is expired or invalid"
            ) from None
        if isinstance(invite, types.ChatInviteAlready):
            return self._chat(invite.chat, entry), False
        if getattr(invite, "request_needed", False):
            if entry.state is ChannelState.NEEDS_APPROVAL:
                raise _Resolved(
                    ChannelState.NEEDS_APPROVAL, entry.state_detail or "join request pending"
                )
        else:
            await self._store.set_channel_state(
                entry.id, ChannelState.INVITE_VALID, detail=_invite_title(invite)
            )
        await self._join_gate()
        try:
            updates = await self._client(functions.messages.ImportChatInviteRequest(invite_hash))
        except errors.InviteRequestSentError:
            raise _Resolved(
                ChannelState.NEEDS_APPROVAL,
                f"join request sent to {_invite_title(invite)}; an admin must approve it",
            ) from None
        except errors.UserAlreadyParticipantError:
            again = await self._client(functions.messages.CheckChatInviteRequest(invite_hash))
            if isinstance(again, types.ChatInviteAlready):
                return self._chat(again.chat, entry), False
            raise _Resolved(
                ChannelState.ERROR, "already a member, but the chat is not visible"
            ) from None
        except (errors.InviteHashExpiredError, errors.InviteHashInvalidError):
            raise _Resolved(
                ChannelState.INVITE_EXPIRED, "the invite link is expired or invalid"
            ) from None
        except errors.ChannelsTooMuchError:
            raise _Resolved(ChannelState.ERROR, "this account is in too many channels") from None
        chats = list(getattr(updates, "chats", []) or [])
        if not chats:
            raise _Resolved(ChannelState.ERROR, "joined, but Telegram returned no chat")
        log.info("channel_joined", ref=entry.ref, title=getattr(chats[0], "title", None))
        return self._chat(chats[0], entry), True

    async def _join_public(self, entity: Any) -> Any:
        await self._join_gate()
        try:
            updates = await self._client(functions.channels.JoinChannelRequest(entity))
        except errors.InviteRequestSentError:
            raise _Resolved(
                ChannelState.NEEDS_APPROVAL, "join request sent; an admin must approve it"
            ) from None
        except errors.ChannelsTooMuchError:
            raise _Resolved(ChannelState.ERROR, "this account is in too many channels") from None
        except (errors.ChannelPrivateError, errors.ChannelInvalidError) as exc:
            raise _Resolved(_access_state(exc), _access_detail(exc)) from None
        log.info("channel_joined", chat_id=to_bot_api_id(entity.id), title=entity.title)
        chats = [c for c in getattr(updates, "chats", []) or [] if c.id == entity.id]
        return chats[0] if chats else entity

    async def _join_gate(self) -> None:
        """Space joins ``join_interval`` seconds apart."""
        wait = self._last_join + self._settings.join_interval - time.monotonic()
        if wait > 0:
            log.info("join_spacing", seconds=round(wait, 1))
            await asyncio.sleep(wait)
        self._last_join = time.monotonic()

    def _chat(self, entity: Any, entry: WatchedChannel) -> Chat:
        if isinstance(entity, types.Channel):
            chat_id = to_bot_api_id(entity.id)
        elif isinstance(entity, types.Chat):
            chat_id = -entity.id
        elif isinstance(entity, (types.ChannelForbidden, types.ChatForbidden)):
            raise _Resolved(ChannelState.PRIVATE, "banned from the chat or it is private")
        else:
            raise _Resolved(ChannelState.ERROR, f"not a channel or group ({type(entity).__name__})")
        return Chat(
            chat_id=chat_id,
            title=getattr(entity, "title", None),
            username=getattr(entity, "username", None),
            entity=utils.get_input_peer(entity),
            watched_id=entry.id,
        )


def _access_state(exc: BaseException) -> ChannelState:
    return (
        ChannelState.GONE if isinstance(exc, errors.ChannelInvalidError) else ChannelState.PRIVATE
    )


def _access_detail(exc: BaseException) -> str:
    if isinstance(exc, errors.ChannelInvalidError):
        return "the channel no longer exists (or the id is wrong)"
    return "the channel is private to this account (left, banned, or made private)"


def access_outcome(exc: BaseException) -> tuple[ChannelState, str] | None:
    """The allow-list state an error on reading a channel means, if it is about access."""
    if isinstance(exc, (errors.ChannelPrivateError, errors.ChannelInvalidError)):
        return _access_state(exc), _access_detail(exc)
    return None


def _invite_title(invite: Any) -> str:
    title = getattr(invite, "title", None) or getattr(getattr(invite, "chat", None), "title", None)
    return f"invite to {title!r}" if title else "invite"
