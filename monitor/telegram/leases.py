"""Channel leases in the daemon: several daemons (accounts) share one store, and each channel is
processed by the one daemon holding its lease (see :mod:`monitor.store.leases` for the rows and
the compare-and-set statements).

Every ``lease_renew`` seconds a daemon, in this order:

1. renews its heartbeat and every lease it holds (one transaction); a lease another daemon took
   over meanwhile is **lost**: processing of that channel stops at once (its queued messages
   are dropped, a reconciler pass over it stops, and its cursor can no longer be moved);
2. releases the leases of channels it can no longer read (removed from the allow-list, access
   lost), so that a daemon that can read them takes them;
3. gives up leases beyond its fair share, ``ceil(channels it can read / live daemons)``, when
   other daemons are alive (after storing the cursors): they take them at their next renewal;
4. takes free leases (never held, released, or expired) of channels it can read, up to its fair
   share, in random order; and then, beyond its share, leases free for a whole lease period
   (nobody within their share took them: no other daemon can read them). Those do not count
   towards its share and are kept until another daemon joins, so that no channel is left
   unprocessed and none is given up and taken back in turn.

A new lease triggers a reconciler pass, which goes on from the channel's committed cursor: a
channel whose daemon was killed is taken over ``lease_seconds`` after its last renewal with
nothing lost (sightings are idempotent). A clean stop releases the leases after the last cursor
commit, so another daemon takes over at its next renewal. A daemon restarted on the same host
with the same session retires its killed predecessor's leases at once (one session cannot be
used by two running daemons: Telegram refuses a duplicated auth key).

The daemon believes a lease for ``lease_seconds`` (less a margin) from when it sent the renewal,
by its monotonic clock: the database starts the lease later, so the daemon stops before anyone
could take it over, also after a long pause. The database's epoch check on cursor moves is the
fence behind that.

One-off commands (``run --once``, ``backfill``, ``takedown verify``) do not take leases: they
process what they are asked, and their writes are idempotent like every other.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from monitor.config import TelegramSettings
from monitor.domain import ChannelState, WatchedChannel
from monitor.errors import StoreError
from monitor.logs import get_logger
from monitor.store import LeaseLost, LeaseToken, Store
from monitor.telegram.channels import AllowList

log = get_logger(__name__)

# A lease is believed for its length less this share of it (at most MAX_MARGIN seconds).
MARGIN_SHARE = 0.1
MAX_MARGIN = 2.0


def instance_id(session: str, hostname: str, pid: int) -> str:
    """This daemon's name in the leases: session, host, pid and a random suffix (so that a
    restarted daemon with the same pid is someone else). Not a secret."""
    return f"{session}@{hostname}:{pid}/{secrets.token_hex(3)}"[:200]


def pid_running(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, someone else's
        return True
    return True


@dataclass(slots=True)
class _Held:
    epoch: int
    until: float  # monotonic: believed held until then
    overflow: bool  # taken beyond the fair share: kept, never given up to even out


class ChannelLeases:
    """The leases this daemon holds. ``holds(chat_id)`` is the gate to processing a channel;
    until ``start`` (one-off commands) every channel is this process's."""

    def __init__(
        self,
        store: Store,
        settings: TelegramSettings,
        allow: AllowList,
        *,
        on_acquired: Callable[[list[int]], None] | None = None,
        before_release: Callable[[], Awaitable[None]] | None = None,
        hostname: str | None = None,
        pid: int | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._allow = allow
        self._on_acquired = on_acquired
        self._before_release = before_release
        self.session = settings.session
        self.hostname = hostname or socket.gethostname()
        self.pid = os.getpid() if pid is None else pid
        self.owner = instance_id(self.session, self.hostname, self.pid)
        self.active = False
        self._held: dict[int, _Held] = {}
        self._draining: set[int] = set()  # given up: not processed, cursor still committed
        self.live_daemons = 1

    # --- the gate -----------------------------------------------------------------------------

    def holds(self, chat_id: int) -> bool:
        """Whether this daemon may process the chat now."""
        if not self.active:
            return True
        held = self._held.get(chat_id)
        return held is not None and chat_id not in self._draining and time.monotonic() < held.until

    def token(self, chat_id: int) -> LeaseToken | None:
        """The proof of the chat's lease for moving its cursor; None if not held (also after
        its time ran out locally)."""
        held = self._held.get(chat_id)
        if held is None or time.monotonic() >= held.until:
            return None
        return LeaseToken(chat_id, self.owner, held.epoch)

    @property
    def held(self) -> list[int]:
        return sorted(c for c in self._held if self.holds(c))

    def lost(self, chat_id: int, reason: str) -> None:
        """The lease turned out to be taken over (e.g. by the cursor's epoch check)."""
        held = self._held.pop(chat_id, None)
        self._draining.discard(chat_id)
        if held is not None:
            log.warning(
                "lease_lost", chat_id=chat_id, owner=self.owner, epoch=held.epoch, reason=reason
            )

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Take part: retire a killed predecessor of this daemon, then take leases."""
        self.active = True
        for daemon in await self._store.list_daemons():
            same = daemon.session == self.session and daemon.hostname == self.hostname
            if not same or daemon.owner == self.owner:
                continue
            if daemon.pid != self.pid and pid_running(daemon.pid):
                continue  # (pid == ours: a container restarted; the old process is gone)
            released = await self._store.retire_daemon(daemon.owner)
            log.info("lease_predecessor_retired", owner=daemon.owner, channels=len(released))
            for chat_id in released:
                log.info("lease_released", chat_id=chat_id, owner=daemon.owner, reason="restart")
        await self.tick()

    async def run(self, stop: asyncio.Event, done: asyncio.Event | None = None) -> None:
        """Renew (and balance) until ``done`` is set (or cancelled); once ``stop`` is set, only
        renew, so that the leases outlive the drain. A failed renewal is logged; leases lapse
        at their time. ``done`` ends it between two renewals, never in the middle of one."""
        interval = self._settings.lease_renew
        done = done or asyncio.Event()
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=interval)
            if done.is_set():
                return
            try:
                await self.tick(renew_only=stop.is_set())
            except asyncio.CancelledError:
                raise
            except StoreError as exc:
                log.warning("lease_renew_failed", error=str(exc), held=len(self.held))
            except Exception as exc:  # a bug: logged, and renewing goes on
                log.exception("lease_renew_failed", error=str(exc), held=len(self.held))

    async def release_all(self) -> None:
        """A clean stop, after the last cursor commit: every lease released at once and the
        heartbeat removed."""
        if not self.active:
            return
        held = dict(self._held)
        self._held.clear()
        self._draining.clear()
        try:
            released = await self._store.retire_daemon(self.owner)
        except StoreError as exc:
            log.warning(
                "leases_not_released", error=str(exc), expire_in=self._settings.lease_seconds
            )
            return
        for chat_id in released:
            epoch = held[chat_id].epoch if chat_id in held else None
            log.info(
                "lease_released", chat_id=chat_id, owner=self.owner, epoch=epoch, reason="stop"
            )

    # --- one renewal ----------------------------------------------------------------------------

    async def tick(self, *, renew_only: bool = False) -> None:
        lease = self._settings.lease_seconds
        margin = min(lease * MARGIN_SHARE, MAX_MARGIN)
        sent = time.monotonic()
        beat = await self._store.heartbeat(
            self.owner, session=self.session, hostname=self.hostname, pid=self.pid, seconds=lease
        )
        seen, self.live_daemons = self.live_daemons, max(1, beat.live_daemons)
        resumed = []  # believed lapsed (renewals failed), but nobody took them meanwhile
        for chat_id, held in list(self._held.items()):
            if beat.leases.get(chat_id) != held.epoch:
                self.lost(chat_id, "taken over")
                continue
            if held.until <= sent:
                resumed.append(chat_id)
            held.until = sent + lease - margin
        if resumed and self._on_acquired is not None:
            self._on_acquired(resumed)  # what was dropped meanwhile is fetched again
        if renew_only:
            return
        readable = [chat.chat_id for chat in self._allow.chats]
        keep = set(readable)
        await self._release([c for c in self._held if c not in keep], reason="not readable")
        if self.live_daemons > seen:  # a daemon joined: what nobody else took may move now
            for held in self._held.values():
                held.overflow = False
        share = math.ceil(len(readable) / self.live_daemons)
        within = [c for c, h in self._held.items() if not h.overflow]
        excess = len(within) - share
        if excess > 0 and self.live_daemons > 1:
            await self._release(random.sample(within, excess), reason="share")
            within = [c for c, h in self._held.items() if not h.overflow]
        candidates = [c for c in readable if c not in self._held]
        random.shuffle(candidates)
        taken = await self._store.acquire_leases(
            self.owner, candidates, lease, limit=max(0, share - len(within))
        )
        self._took(taken, sent + lease - margin, overflow=False)
        rest = [c for c in candidates if c not in taken]
        if rest:
            extra = await self._store.acquire_leases(self.owner, rest, lease, free_for=lease)
            self._took(extra, sent + lease - margin, overflow=True)
            taken.update(extra)
        if taken and self._on_acquired is not None:
            self._on_acquired(sorted(taken))

    def _took(self, taken: dict[int, int], until: float, *, overflow: bool) -> None:
        for chat_id, epoch in sorted(taken.items()):
            self._held[chat_id] = _Held(epoch, until, overflow)
            log.info(
                "lease_acquired",
                chat_id=chat_id,
                owner=self.owner,
                epoch=epoch,
                beyond_share=overflow,
                daemons=self.live_daemons,
            )

    async def _release(self, chat_ids: Iterable[int], *, reason: str) -> None:
        """Stop processing these chats, store their cursors, then give their leases up."""
        chats = sorted(chat_ids)
        if not chats:
            return
        self._draining.update(chats)
        try:
            if self._before_release is not None:
                await self._before_release()
            released = await self._store.release_leases(self.owner, chats)
        finally:
            for chat_id in chats:
                self._held.pop(chat_id, None)
                self._draining.discard(chat_id)
        for chat_id in released:
            log.info("lease_released", chat_id=chat_id, owner=self.owner, reason=reason)


class FencedCursors:
    """The reconciler's store: a cursor moves only under this daemon's current lease of the
    chat (the epoch is checked in the same transaction); without it the move is skipped, and
    the next holder goes on from the cursor as stored. Everything else is passed through."""

    def __init__(self, store: Store, leases: ChannelLeases) -> None:
        self._store = store
        self._leases = leases

    async def get_cursor(self, chat_id: int) -> int:
        return await self._store.get_cursor(chat_id)

    async def advance_cursor(
        self, chat_id: int, message_id: int, *, last_message_at: datetime | None = None
    ) -> int:
        if not self._leases.active:
            return await self._store.advance_cursor(
                chat_id, message_id, last_message_at=last_message_at
            )
        token = self._leases.token(chat_id)
        if token is not None:
            try:
                return await self._store.advance_cursor(
                    chat_id, message_id, last_message_at=last_message_at, lease=token
                )
            except LeaseLost:
                self._leases.lost(chat_id, "cursor fenced: another daemon holds the channel")
        log.info("cursor_not_moved", chat_id=chat_id, cursor=message_id, reason="lease not held")
        return await self._store.get_cursor(chat_id)

    async def mark_reconciled(self, chat_id: int, *, at: datetime | None = None) -> None:
        await self._store.mark_reconciled(chat_id, at=at)

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
    ) -> WatchedChannel:
        return await self._store.set_channel_state(
            watched_id,
            state,
            detail=detail,
            telegram_id=telegram_id,
            username=username,
            title=title,
            joined=joined,
        )
