"""Takedown re-checks: ask Telegram whether each reported message is still there.

A reported message is looked up by id (``channels.getMessages``, up to 100 ids a request, one
request per batch, never one per message) and compared with what was reported: the same media
(same Telegram media id, derived by :func:`monitor.telegram.media.media_ref`) means it is still
UP; the message without that media is MEDIA_REMOVED; no message is DELETED; a channel we may no
longer read is PRIVATE; a channel that no longer exists is GONE.

Anything that does not prove one of those is ERROR ("could not tell", tried again at the next
check): network failures, Telegram errors we do not know, flood waits longer than allowed, and
chats this session has no access hash for. The last one matters: without a cached access hash
Telethon asks with ``access_hash=0`` and Telegram answers ``CHANNEL_INVALID`` whether the
channel exists or not, so only errors answered to a request made *with* the real access hash
count as PRIVATE or GONE. Only a dead session (``fatal_auth_reason``) raises: every further
request would fail the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

from telethon import TelegramClient, errors, types
from telethon.errors import common as common_errors

from monitor.domain import CheckOutcome, RecheckResult, RecheckTarget
from monitor.errors import TelegramError
from monitor.logs import get_logger, redact_text
from monitor.telegram.errors import fatal_auth_reason, revoked_error, rpc_error_text
from monitor.telegram.flood import FloodControl, FloodWaitTooLong, request_name
from monitor.telegram.media import media_ref
from monitor.telegram.refs import BOT_API_PREFIX, bare_channel_id

log = get_logger(__name__)

T = TypeVar("T")

MAX_IDS = 100  # Telegram's limit of ids per channels.getMessages / messages.getMessages
FLOOD_RETRIES = 2  # waits (through FloodControl) per request before giving up on it

# What can go wrong for one chat without meaning anything about the message: ERROR, not raised.
# ValueError: Telethon's "Request was unsuccessful N time(s)" once its retries (server errors,
# repeated short flood waits) are used up. TelegramError: FloodWaitTooLong.
_TRANSIENT: tuple[type[BaseException], ...] = (
    errors.RPCError,
    OSError,  # ConnectionError, TimeoutError
    EOFError,  # asyncio.IncompleteReadError
    ValueError,
    TelegramError,
    common_errors.SecurityError,
    common_errors.InvalidBufferError,
    common_errors.InvalidChecksumError,
    common_errors.BadMessageError,
    common_errors.TypeNotFoundError,
    common_errors.ReadCancelledError,
)

# Answers to a request made with the chat's real access hash that settle the whole chat.
_PRIVATE: tuple[type[BaseException], ...] = (errors.ChannelPrivateError,)
_GONE: tuple[type[BaseException], ...] = (
    errors.ChannelInvalidError,
    errors.ChannelBannedError,
    errors.UsernameNotOccupiedError,
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _ChatFailed(Exception):
    """Internal: every remaining target of a chat gets ``outcome`` with ``detail``."""

    def __init__(self, outcome: CheckOutcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


@dataclass(frozen=True, slots=True)
class _Item:
    index: int  # position in the caller's list: results come back in that order
    target: RecheckTarget


async def recheck_messages(
    client: TelegramClient,
    targets: Sequence[RecheckTarget],
    *,
    flood: FloodControl | None = None,
    batch: int = MAX_IDS,
    now: Callable[[], datetime] = _utc_now,
) -> list[RecheckResult]:
    """One ``RecheckResult`` per target, in the order of ``targets``.

    Targets are grouped by chat and looked up ``batch`` ids a request (at most 100, Telegram's
    limit). Flood waits longer than Telethon's ``flood_sleep_threshold`` are waited out through
    ``flood`` (without it they are ERROR); one longer than ``flood``'s limit makes that batch and
    everything not asked yet ERROR, since Telegram (and Telethon, locally) would refuse the same
    request until the wait is over. Raises the monitor's ``SessionRevoked`` if the session is
    dead; no other Telegram or network error is raised.
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1, not {batch}")
    check = _Recheck(client, flood, now, size=min(batch, MAX_IDS))
    results: list[RecheckResult | None] = [None] * len(targets)
    for chat_id, items in _by_chat(targets).items():
        for item, result in await check.chat(chat_id, items):
            results[item.index] = result
    done = [r for r in results if r is not None]
    if len(done) != len(targets):  # every path above fills every item of its chat
        raise RuntimeError("recheck lost a target")
    return done


def _by_chat(targets: Sequence[RecheckTarget]) -> dict[int, list[_Item]]:
    """Targets grouped by chat, chats in order of first appearance."""
    groups: dict[int, list[_Item]] = {}
    for index, target in enumerate(targets):
        groups.setdefault(target.chat_id, []).append(_Item(index, target))
    return groups


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


class _Recheck:
    """The state of one ``recheck_messages`` call, shared by its chats."""

    def __init__(
        self,
        client: Any,
        flood: FloodControl | None,
        now: Callable[[], datetime],
        *,
        size: int,
    ) -> None:
        self._client = client
        self._flood = flood
        self._now = now
        self._size = size
        self._session = str(getattr(client.session, "name", None) or "default")
        self._dialogs_loaded = False
        self._halted: str | None = None  # set by a flood wait too long to wait: ask no more

    async def chat(self, chat_id: int, items: list[_Item]) -> list[tuple[_Item, RecheckResult]]:
        """Check every target of one chat; logs one line with the counts per outcome."""
        bound = log.bind(chat_id=chat_id)
        out: list[tuple[_Item, RecheckResult]] = []
        failure: _ChatFailed | None = None
        try:
            entity = await self._resolve(chat_id)
            ids = list(dict.fromkeys(item.target.message_id for item in items))
            for chunk in _chunks(ids, self._size):
                found = await self._fetch(entity, chunk, chat_id)
                checked_at = self._now()
                wanted = set(chunk)
                out += [
                    (item, _judge(item.target, found.get(item.target.message_id), checked_at))
                    for item in items
                    if item.target.message_id in wanted
                ]
        except _ChatFailed as failed:
            failure = failed
            checked_at = self._now()
            settled = {item.index for item, _ in out}
            out += [
                (item, _result(item.target, failed.outcome, checked_at, failed.detail))
                for item in items
                if item.index not in settled
            ]
        for item, result in out:
            bound.debug(
                "recheck_message",
                message_id=item.target.message_id,
                sighting_id=item.target.sighting_id,
                outcome=result.outcome.value,
                detail=result.detail,
            )
        counts = Counter(result.outcome.value for _, result in out)
        fields: dict[str, Any] = dict(sorted(counts.items()))
        if failure is not None:
            fields["detail"] = failure.detail
        level = bound.warning if counts[CheckOutcome.ERROR.value] else bound.info
        level("recheck_chat", targets=len(items), **fields)
        return out

    # --- entities -----------------------------------------------------------------------------

    async def _resolve(self, chat_id: int) -> Any:
        """The chat's input peer from the session's entity cache; the account's dialogs are
        loaded once per call to fill a cold cache (e.g. after a new login). A chat still not
        found is ERROR, never GONE: without its access hash Telegram's answer proves nothing."""
        if self._halted is not None:
            raise _ChatFailed(CheckOutcome.ERROR, self._halted)
        peer = _peer(chat_id)
        entity = await self._lookup(peer, chat_id)
        if entity is None and not self._dialogs_loaded:
            self._dialogs_loaded = True
            try:
                await self._call(self._client.get_dialogs, chat_id)
            except _ChatFailed as failed:
                log.warning("recheck_dialogs_failed", chat_id=chat_id, detail=failed.detail)
            entity = await self._lookup(peer, chat_id)
        if entity is None:
            raise _ChatFailed(
                CheckOutcome.ERROR,
                "cannot tell: this session has no access hash for the chat (not among the "
                "account's chats, and not seen by this session)",
            )
        return entity

    async def _lookup(self, peer: Any, chat_id: int) -> Any | None:
        """Telethon's input peer, or None if it cannot be found. No error here says anything
        about the chat (on a cache miss Telethon asks with ``access_hash=0``): all are ERROR."""
        try:
            return await self._call(
                lambda: self._client.get_input_entity(peer), chat_id, passthrough=(ValueError,)
            )
        except ValueError:  # not in the cache, and Telegram would not say
            return None
        except _ChatFailed as failed:
            raise _ChatFailed(
                CheckOutcome.ERROR, f"cannot tell: the chat cannot be resolved ({failed.detail})"
            ) from None

    # --- messages -----------------------------------------------------------------------------

    async def _fetch(self, entity: Any, ids: list[int], chat_id: int) -> dict[int, Any]:
        """The messages of ``ids`` that exist, by id (one request). Matched by id, not by
        position: Telegram may leave invalid ids out of its answer."""
        messages = await self._call(
            lambda: self._client.get_messages(entity, ids=ids, wait_time=0), chat_id
        )
        found: dict[int, Any] = {}
        for message in messages or []:
            if message is None or isinstance(message, types.MessageEmpty):
                continue
            found[int(message.id)] = message
        return found

    async def _call(
        self,
        request: Callable[[], Awaitable[T]],
        chat_id: int,
        *,
        passthrough: tuple[type[BaseException], ...] = (),
    ) -> T:
        """``request()`` with flood waits waited out (through ``FloodControl``, at most
        ``FLOOD_RETRIES`` times) and failures sorted: a dead session raises the monitor's
        ``SessionRevoked``; ``passthrough`` exceptions are re-raised as they are; access
        errors and transient ones become ``_ChatFailed``; anything else (a bug) is raised."""
        if self._halted is not None:
            raise _ChatFailed(CheckOutcome.ERROR, self._halted)
        for attempt in range(FLOOD_RETRIES + 1):
            try:
                return await request()
            except Exception as exc:
                reason = fatal_auth_reason(exc)
                if reason is not None:
                    raise revoked_error(self._session, reason) from None
                if isinstance(exc, errors.FloodError) and hasattr(exc, "seconds"):
                    await self._flood_wait(exc, chat_id, last=attempt == FLOOD_RETRIES)
                    continue
                if isinstance(exc, passthrough):
                    raise
                outcome = _access_outcome(exc)
                if outcome is not None:
                    raise _ChatFailed(*outcome) from None
                if isinstance(exc, _TRANSIENT):
                    raise _ChatFailed(CheckOutcome.ERROR, _error_detail(exc)) from None
                raise
        raise AssertionError("unreachable")  # the last attempt returns or raises

    async def _flood_wait(self, exc: Any, chat_id: int, *, last: bool) -> None:
        """Wait out a flood wait Telethon did not sleep through itself, or give up on it.
        Giving up halts the call: Telethon refuses the same request locally until the wait is
        over, and Telegram's flood waits are per account, so asking other chats is pointless."""
        seconds = int(getattr(exc, "seconds", 0) or 0)
        method = request_name(exc).removesuffix("Request")
        detail = f"420 FLOOD_WAIT_{seconds}: Telegram asks to wait {seconds} s before {method}"
        if self._flood is None:
            self._halt(f"{detail} (longer than telegram.flood_sleep_threshold)")
        if last:
            self._halt(f"{detail} (still asked to wait after {FLOOD_RETRIES} waits)")
        try:
            await self._flood.wait(exc, chat_id=chat_id)
        except FloodWaitTooLong:
            self._halt(f"{detail} (longer than telegram.max_flood_wait)")

    def _halt(self, detail: str) -> NoReturn:
        """ERROR for this chat, and for every chat after it without asking Telegram."""
        self._halted = f"not checked: {detail}"
        raise _ChatFailed(CheckOutcome.ERROR, detail)


def _peer(chat_id: int) -> Any:
    """Telethon's peer for a Bot-API chat id: a channel (-100...), or a basic group (-123)."""
    if BOT_API_PREFIX < chat_id < 0:
        return types.PeerChat(-chat_id)
    return types.PeerChannel(bare_channel_id(chat_id))


def _access_outcome(exc: BaseException) -> tuple[CheckOutcome, str] | None:
    """PRIVATE or GONE if a getMessages error says so about the whole chat."""
    if isinstance(exc, _PRIVATE):
        return CheckOutcome.PRIVATE, rpc_error_text(exc)
    if isinstance(exc, _GONE):
        return CheckOutcome.GONE, rpc_error_text(exc)
    return None


def _error_detail(exc: BaseException) -> str:
    """One line naming what failed: Telegram's error name, or the exception's type."""
    if isinstance(exc, errors.RPCError):
        return rpc_error_text(exc)
    if isinstance(exc, ValueError):  # "Request was unsuccessful N time(s)"
        return redact_text(f"Telegram kept failing the request (Telethon: {exc})")
    text = str(exc).split(" (caused by ")[0].strip()
    name = type(exc).__name__
    return redact_text(f"{name}: {text}" if text else name)


def _judge(target: RecheckTarget, message: Any, checked_at: datetime) -> RecheckResult:
    """The outcome for a target from the message Telegram returned (None: no such message)."""
    if message is None:
        return _result(target, CheckOutcome.DELETED, checked_at, None)
    ref = media_ref(message)
    if ref is not None and target.telegram_media_id in (None, ref.media_id):
        return _result(target, CheckOutcome.UP, checked_at, None)
    if ref is not None:
        now_has = f"another {ref.kind.value} (media id {ref.media_id})"
    elif getattr(message, "media", None) is not None:
        now_has = f"only media out of scope ({type(message.media).__name__})"
    else:
        now_has = "no media"
    return _result(target, CheckOutcome.MEDIA_REMOVED, checked_at, f"the message now has {now_has}")


def _result(
    target: RecheckTarget, outcome: CheckOutcome, checked_at: datetime, detail: str | None
) -> RecheckResult:
    return RecheckResult(target.sighting_id, outcome, checked_at, detail)
