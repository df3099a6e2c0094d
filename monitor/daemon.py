"""The composition root and lifecycle of the Telegram daemon: build, start, run, drain, stop.

::

    live events ──┐                       ┌─> workers (concurrency) ─> policy ─> cache | download
                  ├─> bounded queue ──────┤       ─> hash (process pool) ─> match ─> record
    reconciler ───┘  (back-pressure;      └─> cursor tracker ─> cursors (only from history)
                      live items first)
                                                                 alerts outbox ─> dispatcher

* One catch-all per incoming update (``_on_update``) and one per work item (``_work``): a failure
  is logged with the chat and message ids and counted; it never stops the daemon.
* Fatal auth errors (revoked, duplicated or unregistered key, deactivated account) end in the
  recorded "revoked" state, a system alert and exit code 8, never a reconnect loop.
* A lost connection is retried with backoff for as long as it takes, then a reconciler pass
  fills what was missed.
* SIGINT/SIGTERM (``request_stop``) stop intake, let in-flight work finish within
  ``drain_timeout``, store cursors, release the channel leases, and return 0.
* Channel leases (``monitor.telegram.leases``): live events, queued items and reconciler passes
  of a channel are processed only while this daemon holds its lease, so several daemons can
  share one store; cursors move only under the current lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from telethon import errors, events, functions, types

from monitor.alerts import AlertDispatcher, build_senders
from monitor.config import Settings
from monitor.domain import (
    ChannelRef,
    Match,
    RecheckResult,
    RecheckTarget,
    RecordResult,
    RefKind,
    SightingSource,
    Signals,
    Tier,
    jsonable,
)
from monitor.errors import MonitorError, NotFound, StoreError, TelegramError
from monitor.evidence_keeper import EvidenceKeeper
from monitor.http_endpoints import EndpointServer
from monitor.logs import get_logger
from monitor.matching import Matcher
from monitor.matching.matcher import release_free_memory
from monitor.observability import serve_endpoints
from monitor.pipeline import Hasher, Pipeline
from monitor.runtime import (
    INCREMENTAL_CHANGES,
    apply_list_changes,
    current_actor,
    load_matcher,
    pending_list_changes,
    read_list_changes,
)
from monitor.store import Store
from monitor.takedown import PassResult, recheck_pass
from monitor.telegram.channels import AllowList, access_outcome
from monitor.telegram.client import crypto_backend
from monitor.telegram.errors import SessionEnded, fatal_auth_reason, revoked_error
from monitor.telegram.flood import FloodControl, FloodWaitTooLong
from monitor.telegram.leases import ChannelLeases, FencedCursors
from monitor.telegram.media import media_ref
from monitor.telegram.processor import MessageProcessor, WorkItem
from monitor.telegram.recheck import recheck_messages
from monitor.telegram.reconciler import Reconciler
from monitor.telegram.sources import Chat, chat_id_of

log = get_logger(__name__)

# Unexpected failures of one message before it is given up (recorded as such) so the cursor can
# move on. Transient failures (network, database, flood waits) are never given up.
MAX_ATTEMPTS = 3
CURSOR_COMMIT_INTERVAL = 1.0
# Seconds the background loops get to end by themselves at a stop before they are cancelled.
STOP_GRACE = 10.0
# Longest sleep between looks for reported messages due a re-check.
TAKEDOWN_POLL = 60.0


class AlertingRecorder:
    """Records sightings with an alert queued for each new hit, in the same transaction."""

    def __init__(self, store: Store, targets: Sequence[str], min_tier: Tier) -> None:
        self._store = store
        self._targets = tuple(targets)
        self._min_tier = min_tier

    async def record_sighting(
        self, source: SightingSource, signals: Signals, matches: Sequence[Match]
    ) -> RecordResult:
        return await self._store.record_sighting(
            source,
            signals,
            matches,
            alert_targets=self._targets,
            alert_min_tier=self._min_tier,
        )


# glibc's mallopt parameter for the number of malloc arenas (malloc.h).
_M_ARENA_MAX = -8
MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas for the threads created from now on. glibc gives threads
    that allocate at the same time arenas of their own (up to 8 per core) and keeps what was
    freed in each; the SQLite driver runs a thread per pooled connection, so a reconciler pass
    that opens a few more connections left the daemon's resident memory tens of MiB higher
    for good (measured: +65 MiB at the first pass over 16,000 messages; with two arenas the
    same run stays flat). True if the cap was set (glibc on Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # not glibc (musl has no mallopt): nothing to tune
        return False


class WorkQueue:
    """Messages waiting for a worker: live events (new and edited messages) and history (the
    reconciler's passes, backfill) in two bounded queues, each in arrival order. Workers take
    live items first, so a pass over thousands of messages since the cursor (most of them
    handled live already) never holds up what is being posted now; a worker that asks for
    history first keeps the passes moving under a sustained live load. ``put`` waits while
    the item's queue is full (back-pressure)."""

    def __init__(self, size: int) -> None:
        self._live: asyncio.Queue[WorkItem] = asyncio.Queue(maxsize=size)
        self._history: asyncio.Queue[WorkItem] = asyncio.Queue(maxsize=size)
        self._ready = asyncio.Event()  # set when an item may be waiting
        self._unfinished = 0  # put and not yet done
        self._idle = asyncio.Event()
        self._idle.set()

    def _queue_of(self, item: WorkItem) -> asyncio.Queue[WorkItem]:
        return self._live if item.origin in ("live", "edit") else self._history

    async def put(self, item: WorkItem) -> None:
        self._unfinished += 1
        self._idle.clear()
        try:
            await self._queue_of(item).put(item)
        except BaseException:
            self._finished()
            raise
        self._ready.set()

    async def get(self, *, history_first: bool = False) -> WorkItem:
        order = (self._history, self._live) if history_first else (self._live, self._history)
        while True:
            for queue in order:
                if not queue.empty():
                    return queue.get_nowait()
            self._ready.clear()
            await self._ready.wait()

    def task_done(self, item: WorkItem) -> None:
        self._queue_of(item).task_done()
        self._finished()

    def _finished(self) -> None:
        self._unfinished -= 1
        if self._unfinished == 0:
            self._idle.set()

    def qsize(self) -> int:
        return self._live.qsize() + self._history.qsize()

    def depths(self) -> dict[str, int]:
        """Items waiting, by queue (metrics)."""
        return {"live": self._live.qsize(), "history": self._history.qsize()}

    def empty(self) -> bool:
        return self._live.empty() and self._history.empty()

    async def join(self) -> None:
        """Until every item put has been worked on (``task_done``)."""
        await self._idle.wait()


class LiveMatcher:
    """The matcher in use, kept up to date with the hash lists in the store.

    A change is applied in a worker thread, to the matcher in place (only the entries that
    changed), or by a rebuild when it is large (a new list of millions). Either way there is
    one matcher in memory, never two (two 10-million-entry matchers would need 2.4 GB):
    matching waits meanwhile (``settled``), and the work queue holds the messages.
    """

    def __init__(self, matcher: Matcher, fingerprint: object) -> None:
        self.current = matcher
        self.fingerprint = fingerprint
        self._settled = asyncio.Event()
        self._settled.set()

    def match(self, signals: Signals) -> list[Match]:
        return self.current.match(signals)

    async def settled(self) -> None:
        """Until no change is being applied. Returns only while none is, so a caller that
        matches right after (with no await in between) never meets a matcher being changed."""
        while not self._settled.is_set():
            await self._settled.wait()

    @property
    def paused(self) -> bool:
        """A change is being applied: matching waits."""
        return not self._settled.is_set()

    def pause(self) -> None:
        self._settled.clear()

    def resume(self) -> None:
        self._settled.set()

    @contextlib.asynccontextmanager
    async def changing(self) -> AsyncIterator[None]:
        self.pause()
        try:
            yield
        finally:
            self.resume()


@dataclass(frozen=True, slots=True)
class RunSummary:
    counters: dict[str, int]
    channels: int


class Daemon:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: Any,
        hasher: Hasher,
        matcher: Matcher,
        *,
        session_flush: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        tg = settings.telegram
        self.settings = settings
        self.store = store
        self.client = client
        self.counters: Counter[str] = Counter()
        self.stop = asyncio.Event()
        self.ready = asyncio.Event()  # set once live events are being received
        self.endpoints: EndpointServer | None = None  # /metrics, /readyz while running
        self._intake_closed = False
        self._fatal: BaseException | None = None
        self._session_flush = session_flush
        self._actor = f"daemon:{current_actor()}"
        self.queue = WorkQueue(tg.queue_size)
        self.flood = FloodControl(
            store, tg.session, max_wait=tg.max_flood_wait, stop=self.stop, counters=self.counters
        )
        self.allow = AllowList(client, store, tg, self.flood, actor=self._actor)
        self.matcher = LiveMatcher(matcher, None)
        alerts = settings.alerts
        self.dispatcher = AlertDispatcher(
            store,
            build_senders(alerts, timezone=settings.reports.timezone, chat_send=self._chat_send),
            alerts,
        )
        recorder = AlertingRecorder(store, alerts.targets, Tier(alerts.min_tier))
        # [evidence] enabled: the media of each new hit is sealed right after its commit.
        self.evidence = EvidenceKeeper.from_settings(
            settings, self.counters, audit=store, actor=self._actor
        )
        self.pipeline = Pipeline(self.matcher, recorder, evidence=self.evidence)
        self.processor = MessageProcessor(
            client,
            store,
            hasher,
            self.pipeline,
            tg.media,
            self.counters,
            # Hits wake the dispatcher to send their alerts now; with no target there is
            # nothing to send (each wake costs a look at the outbox).
            on_hit=self.dispatcher.wake if alerts.targets else None,
        )
        # Several daemons may share the store: each channel is processed by its lease holder.
        self.leases = ChannelLeases(
            store,
            tg,
            self.allow,
            on_acquired=lambda _chats: self._reconcile_now.set(),
            before_release=lambda: self.reconciler.commit_cursors(),
        )
        self.reconciler = Reconciler(
            client,
            FencedCursors(store, self.leases),
            self.allow,
            self._enqueue,
            tg,
            self.flood,
            self.stop,
            self.counters,
            holds=self.leases.holds,
        )
        self._reconcile_now = asyncio.Event()
        self._failures: Counter[tuple[int, int]] = Counter()
        self._alert_chat: Any = None

    # --- lifecycle ----------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop intake and drain (SIGINT/SIGTERM)."""
        if not self.stop.is_set():
            log.info("stop_requested")
        self.stop.set()

    async def run(self, *, once: bool = False) -> RunSummary:
        """Run until stopped (or, with ``once``, one reconciler pass over every channel).
        Raises ``SessionRevoked`` (exit 8) or ``TelegramError`` (exit 7) on fatal errors."""
        serving = contextlib.nullcontext(None) if once else serve_endpoints(self)
        async with serving as self.endpoints, self._running("once" if once else "daemon"):
            if once:
                await self._run_once()
            else:
                await self._run_forever()
        return RunSummary(dict(self.counters), len(self.allow.chats))

    async def backfill(
        self, ref: ChannelRef, since: datetime, until: datetime | None = None
    ) -> int:
        """Process every message of an allow-listed chat posted from ``since`` (to ``until``).
        Returns the messages with media handed on."""
        count = 0
        async with self._running("backfill"):
            chat = self._find_chat(ref)
            count = await self.reconciler.backfill(chat, since, until)
            await self._drain(limit=None)
            await self.dispatcher.run_once()
        return count

    async def verify_takedowns(
        self, hit_ids: Sequence[int] = (), *, everything: bool = False
    ) -> PassResult:
        """Re-check reported messages now: those of ``hit_ids``, or every one not known
        removed (``everything``), or those due. Connects, checks, records, disconnects."""
        result = PassResult()
        async with self._running("verify"):
            result = await self.recheck_takedowns(hit_ids, everything=everything)
        return result

    async def recheck_takedowns(
        self, hit_ids: Sequence[int] = (), *, everything: bool = False
    ) -> PassResult:
        """One re-check pass on a connected client (see ``monitor.takedown.recheck_pass``)."""
        return await recheck_pass(
            self.store,
            self._check_messages,
            self.settings.takedown,
            actor=self._actor,
            hit_ids=hit_ids,
            everything=everything,
        )

    async def _check_messages(self, targets: Sequence[RecheckTarget]) -> list[RecheckResult]:
        return await recheck_messages(self.client, targets, flood=self.flood)

    def _find_chat(self, ref: ChannelRef) -> Chat:
        for entry in self.allow.entries:
            same = (
                entry.ref == str(ref)
                or (ref.kind is RefKind.USERNAME and (entry.username or "").lower() == ref.value)
                or (ref.kind is RefKind.ID and entry.telegram_id == int(ref.value))
            )
            if not same:
                continue
            chat = self.allow.allows(entry.telegram_id)
            if chat is None:
                raise TelegramError(
                    f"{ref} is on the allow-list but not readable: {entry.state.value}"
                    + (f" ({entry.state_detail})" if entry.state_detail else "")
                )
            return chat
        raise NotFound(f"{ref} is not on the allow-list: add it with `monitor channels add {ref}`")

    @contextlib.asynccontextmanager
    async def _running(self, mode: str) -> AsyncIterator[None]:
        """Connected, allow-list resolved, workers running; on exit everything stopped,
        cursors stored, the session saved, and a fatal error raised as its exit code."""
        try:
            limit_malloc_arenas()  # before the workers open their connections (threads)
            if self.evidence is not None:
                await self.evidence.prepare()
            await self._connect()
            self.matcher.fingerprint = await self._lists_fingerprint()
            entries = await self.allow.refresh(everything=True)
            log.info(
                "daemon_started",
                mode=mode,
                channels_watched=len(self.allow.chats),
                channels_listed=len(entries),
                alert_targets=list(self.settings.alerts.targets),
            )
            if not entries:
                log.warning("allow_list_empty", hint="add channels: monitor channels add @name")
            count = self.settings.telegram.concurrency
            workers = [
                # The last worker takes history first: a reconciler pass keeps moving even
                # while live posts keep every other worker busy.
                asyncio.create_task(
                    self._worker(history_first=count > 1 and i == count - 1),
                    name=f"worker-{i}",
                )
                for i in range(count)
            ]
            try:
                yield
            finally:
                await self._shutdown_workers(workers)
        except BaseException as exc:
            self._fatal = self._fatal or exc
        finally:
            await self._close()
        if self._fatal is not None:
            await self._raise_fatal(self._fatal)

    async def _run_once(self) -> None:
        await self.reconciler.reconcile_all()
        await self._drain(limit=None)
        await self.reconciler.commit_cursors()
        await self.recheck_takedowns()
        await self.dispatcher.run_once()
        if self.evidence is not None:
            await self.evidence.purge()

    async def _run_forever(self) -> None:
        self.client.add_event_handler(self._on_update, events.NewMessage())
        self.client.add_event_handler(self._on_update, events.MessageEdited())
        self._hook_reconnects()
        await self.leases.start()
        leases_done = asyncio.Event()
        leases = asyncio.create_task(self.leases.run(self.stop, leases_done), name="leases")
        tasks = [
            asyncio.create_task(self._reconcile_loop(), name="reconcile"),
            asyncio.create_task(self._commit_loop(), name="cursors"),
            asyncio.create_task(self.dispatcher.run(self.stop), name="alerts"),
            asyncio.create_task(self._connection_loop(), name="connection"),
            asyncio.create_task(self._takedown_loop(), name="takedowns"),
        ]
        if self.evidence is not None:
            tasks.append(asyncio.create_task(self.evidence.purge_loop(self.stop), name="evidence"))
        self.ready.set()
        try:
            await self.stop.wait()
        finally:
            # Stop intake: no new updates, no new history pages; then drain what is queued.
            self._intake_closed = True
            self.client.remove_event_handler(self._on_update)
            # The loops end at their next look at `stop`; they are cancelled only if they do
            # not within STOP_GRACE. A task cancelled in the middle of a database write can
            # leave its SQLite connection holding the write lock (aiosqlite), which would block
            # the drain's writes and the final cursor commit.
            await _stop_tasks([t for t in tasks if t.get_name() != "alerts"], STOP_GRACE)
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._fatal is None:
                await self._drain(limit=self.settings.telegram.drain_timeout)
            await self.reconciler.commit_cursors()
            # Leases were renewed through the drain; released after the last cursor commit.
            leases_done.set()
            await _stop_tasks([leases], STOP_GRACE)
            await self.leases.release_all()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.dispatcher.run_once(), timeout=5)

    async def _drain(self, *, limit: float | None) -> None:
        async def drained() -> None:
            await self.queue.join()
            await self.reconciler.idle()

        try:
            await asyncio.wait_for(drained(), limit)
        except TimeoutError:
            log.warning("drain_timeout", queued=self.queue.qsize(), seconds=limit)

    async def _shutdown_workers(self, workers: list[asyncio.Task[None]]) -> None:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        with contextlib.suppress(StoreError):
            await self.reconciler.commit_cursors()

    async def _connect(self) -> None:
        """Connect and make sure the session is signed in. ``is_user_authorized`` and
        ``get_me`` swallow auth errors, so the account is asked for explicitly: a revoked key
        must end in the revoked state, not in "not logged in"."""
        server = self.settings.telegram.server
        name = self.settings.telegram.session
        where = f"{server.host}:{server.port}" if server.host else "Telegram"
        account = await self.store.get_account(name)
        if account is not None and account.state == "revoked":
            raise revoked_error(name, account.state_reason or "revoked")
        if account is None or account.state != "active" or account.user_id is None:
            raise TelegramError(f"session {name!r} is not logged in: run `monitor login`")
        if account.is_bot:
            # Bots may not request history (BOT_METHOD_INVALID): live updates only.
            log.warning(
                "bot_account",
                hint="a bot cannot read history: reconciliation and backfill need a user account",
            )
        try:
            await self.client.connect()
            await self._ask_self()
        except Exception as exc:
            reason = fatal_auth_reason(exc)
            if reason:
                await self._mark_revoked(reason)
                raise revoked_error(self.settings.telegram.session, reason) from None
            if isinstance(exc, OSError | ConnectionError | TimeoutError):
                raise TelegramError(f"cannot reach {where}: {exc}") from None
            raise
        log.info("telegram_connected", server=where, session=name, crypto=crypto_backend())

    async def _close(self) -> None:
        # Disconnecting hands Telethon's last update state and entities to the session; then
        # the session is written to the store.
        with contextlib.suppress(Exception):
            await self.client.disconnect()
        if self._session_flush is not None:
            try:
                await self._session_flush()
            except Exception as exc:  # the session's update state is an optimisation
                log.error("session_not_saved", error=str(exc))
        log.info("daemon_stopped", **{k: v for k, v in sorted(self.counters.items())})

    async def _raise_fatal(self, exc: BaseException) -> None:
        reason = exc.reason if isinstance(exc, SessionEnded) else fatal_auth_reason(exc)
        if reason:
            await self._mark_revoked(reason)
            raise revoked_error(self.settings.telegram.session, reason) from None
        if isinstance(exc, FloodWaitTooLong):
            await self.dispatcher.send_system("flood_wait_too_long", str(exc))
            raise exc
        if isinstance(exc, MonitorError):
            raise exc
        raise exc

    async def _mark_revoked(self, reason: str) -> None:
        log.error("session_revoked", reason=reason, session=self.settings.telegram.session)
        try:
            await self.store.set_session_state(
                self.settings.telegram.session, "revoked", reason=reason, actor=self._actor
            )
        except StoreError as exc:
            log.error("session_state_not_saved", error=str(exc))
        await self.dispatcher.send_system(
            "session_revoked",
            f"session {self.settings.telegram.session!r}: {reason}; the daemon stopped. "
            "Run `monitor login` to sign in again.",
        )

    def _set_fatal(self, exc: BaseException) -> None:
        if self._fatal is None:
            self._fatal = exc
        self.stop.set()

    # --- intake -------------------------------------------------------------------------------

    async def _on_update(self, event: Any) -> None:
        """The one catch-all for incoming updates: new and edited messages."""
        message = getattr(event, "message", None)
        chat_id = chat_id_of(message)
        try:
            if self._intake_closed:
                return
            chat = self.allow.allows(chat_id)
            if chat is None:
                self.counters["updates_ignored"] += 1
                return
            if not self.leases.holds(chat.chat_id):  # another daemon's channel
                self.counters["updates_not_leased"] += 1
                return
            if message is not None:  # always, for a watched chat
                self.reconciler.lag.seen(chat.chat_id, message.id, message.date)
            if media_ref(message) is None:
                return
            edited = isinstance(event, events.MessageEdited.Event)
            self.counters["updates_edited" if edited else "updates_new"] += 1
            await self._enqueue(WorkItem(message, chat, "edit" if edited else "live"))
        except Exception as exc:
            self.counters["update_errors"] += 1
            log.exception(
                "update_failed",
                chat_id=chat_id,
                message_id=getattr(message, "id", None),
                error=str(exc),
            )

    async def _enqueue(self, item: WorkItem) -> None:
        await self.queue.put(item)

    # --- work ---------------------------------------------------------------------------------

    async def _worker(self, *, history_first: bool = False) -> None:
        while True:
            item = await self.queue.get(history_first=history_first)
            try:
                await self._work(item)
            finally:
                self.queue.task_done(item)

    async def _work(self, item: WorkItem) -> None:
        """The one catch-all per work item."""
        message_id = item.message.id
        ok = False
        with structlog.contextvars.bound_contextvars(
            chat_id=item.chat.chat_id, message_id=message_id, origin=item.origin
        ):
            try:
                if item.origin != "backfill" and not self.leases.holds(item.chat.chat_id):
                    self.counters["items_dropped_unleased"] += 1  # the lease was lost
                    return
                while True:
                    try:
                        await self.processor.process(item)
                        ok = True
                        log.debug("message_processed")
                        self._failures.pop((item.chat.chat_id, message_id), None)
                        break
                    except errors.FloodWaitError as exc:
                        await self.flood.wait(exc, chat_id=item.chat.chat_id)
                        if self.stop.is_set():  # stopping: the next pass fetches it again
                            break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                ok = await self._failed(item, exc)
            finally:
                if item.tracker is not None:
                    item.tracker.finished(message_id, ok=ok)

    async def _failed(self, item: WorkItem, exc: Exception) -> bool:
        """Handle a failed item; True if it is done with anyway (so the cursor may pass it)."""
        if fatal_auth_reason(exc) or isinstance(exc, FloodWaitTooLong):
            self._set_fatal(exc)
            return False
        outcome = access_outcome(exc)
        if outcome is not None:
            log.warning("channel_lost", state=outcome[0].value, detail=outcome[1])
            self.allow.forget(item.chat.chat_id)
            with contextlib.suppress(StoreError):
                await self.store.set_channel_state(
                    item.chat.watched_id, outcome[0], detail=outcome[1]
                )
            return False
        self.counters["message_errors"] += 1
        if isinstance(exc, StoreError | errors.RPCError | OSError | ConnectionError | TimeoutError):
            log.warning("message_failed", error=str(exc), retry="next reconciler pass")
            return False
        key = (item.chat.chat_id, item.message.id)
        self._failures[key] += 1
        if self._failures[key] < MAX_ATTEMPTS:
            log.exception("message_failed", error=str(exc), attempt=self._failures[key])
            return False
        log.exception("message_given_up", error=str(exc), attempts=self._failures[key])
        try:
            await self.processor.record_failure(item, f"{type(exc).__name__}: {exc}")
        except Exception as err:
            log.error("failure_not_recorded", error=str(err))
            return False
        del self._failures[key]
        return True

    # --- background loops ---------------------------------------------------------------------

    async def _reconcile_loop(self) -> None:
        interval = self.settings.telegram.reconcile_interval
        first = True
        while not self.stop.is_set():
            self._reconcile_now.clear()  # a wake during the pass asks for another one
            try:
                if not first:
                    await self.allow.refresh()
                    await self._refresh_matcher()
                first = False
                await self.reconciler.reconcile_all()
                log.info("reconcile_pass_done", **_public(self.counters))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if fatal_auth_reason(exc) or isinstance(exc, FloodWaitTooLong):
                    self._set_fatal(exc)
                    return
                self.counters["reconcile_pass_errors"] += 1
                log.exception("reconcile_pass_failed", error=str(exc))
            await _until(self._reconcile_now, self.stop, interval)

    async def _takedown_loop(self) -> None:
        """Re-check reported messages as they fall due; a failed pass is logged and retried."""
        poll = min(float(self.settings.takedown.recheck_interval), TAKEDOWN_POLL)
        while not self.stop.is_set():
            try:
                await self.recheck_takedowns()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if isinstance(exc, SessionEnded) or fatal_auth_reason(exc):
                    self._set_fatal(exc)
                    return
                self.counters["takedown_recheck_errors"] += 1
                log.exception("takedown_recheck_failed", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=poll)

    async def _commit_loop(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=CURSOR_COMMIT_INTERVAL)
            if self.stop.is_set():
                return  # the final commit comes after the drain
            try:
                await self.reconciler.commit_cursors()
            except Exception as exc:
                self.counters["cursor_commit_errors"] += 1
                log.error("cursor_commit_failed", error=str(exc))

    def _hook_reconnects(self) -> None:
        """Reconcile whenever Telethon has reconnected by itself: pushes sent while the
        connection was down are lost, and Telethon does not ask for them (its reconnect
        handler only sends a keep-alive request). Telethon 1.x has no public hook for this;
        without the private attribute the periodic reconciler still fills the gap."""
        sender = getattr(self.client, "_sender", None)
        original = getattr(sender, "_auto_reconnect_callback", None)
        if sender is None or original is None:
            log.warning("reconnect_hook_unavailable")
            return

        async def reconnected() -> None:
            self.counters["reconnects"] += 1
            log.info("telegram_reconnected", by="telethon")
            self._reconcile_now.set()
            await original()

        sender._auto_reconnect_callback = reconnected

    async def _connection_loop(self) -> None:
        """When Telethon gives up reconnecting, reconnect here with backoff for as long as it
        takes, then reconcile."""
        while not self.stop.is_set():
            disconnected = self.client.disconnected
            stopped = asyncio.ensure_future(self.stop.wait())
            await asyncio.wait({disconnected, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if self.stop.is_set():
                return
            error = None
            with contextlib.suppress(BaseException):
                error = disconnected.exception()
            if error is not None and fatal_auth_reason(error):
                self._set_fatal(error)
                return
            self.counters["disconnects"] += 1
            log.warning("telegram_disconnected", error=str(error) if error else None)
            if await self._reconnect():
                self.counters["reconnects"] += 1
                log.info("telegram_reconnected", by="daemon")
                self._hook_reconnects()
                self._reconcile_now.set()

    async def _ask_self(self) -> None:
        """Ask Telegram who we are: raises the auth error that ``is_user_authorized`` and
        ``get_me`` swallow (a revoked key must not look like "not logged in")."""
        await self.client(functions.users.GetUsersRequest([types.InputUserSelf()]))

    async def _reconnect(self) -> bool:
        delay = 1.0
        while not self.stop.is_set():
            try:
                await self.client.connect()
                await self._ask_self()
                return True
            except Exception as exc:
                if fatal_auth_reason(exc):
                    self._set_fatal(exc)
                    return False
                log.warning("telegram_reconnect_failed", error=str(exc), retry_in=delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), timeout=delay)
                delay = min(delay * 2, 60.0)
        return False

    async def _lists_fingerprint(self) -> object:
        # Every import or withdrawal that changes a bank moves its updated_at: no need to
        # count ten million entries to see a change.
        banks = await self.store.list_banks(counts=False)
        return tuple((b.name, b.enabled, b.updated_at, b.thresholds) for b in banks)

    async def _refresh_matcher(self) -> None:
        """Pick up hash lists imported, withdrawn or re-thresholded while running."""
        fingerprint = await self._lists_fingerprint()
        if fingerprint == self.matcher.fingerprint:
            return
        started = time.monotonic()
        pending = await pending_list_changes(self.store, self.matcher.current)
        if pending is not None and pending <= INCREMENTAL_CHANGES:
            banks, entries, mark = await read_list_changes(self.store, self.matcher.current)
            async with self.matcher.changing():
                changed = await asyncio.to_thread(
                    apply_list_changes, self.matcher.current, banks, entries, mark
                )
            how = "in_place"
        else:
            # Let go of the old matcher first: one in memory at a time. Matching stays paused
            # until a rebuild succeeds (a failed one is tried again at the next pass): nothing
            # is ever matched against a half-loaded or empty index.
            self.matcher.pause()
            self.matcher.current = Matcher()
            release_free_memory()
            try:
                self.matcher.current = await load_matcher(self.store)
            except BaseException as exc:
                log.error(
                    "hash_lists_reload_failed",
                    error=str(exc),
                    matching="paused until the lists load",
                )
                raise
            self.matcher.resume()
            changed = pending if pending is not None else -1
            how = "rebuilt"
        self.matcher.fingerprint = fingerprint
        log.info(
            "hash_lists_reloaded",
            how=how,
            entries_changed=changed,
            seconds=round(time.monotonic() - started, 3),
            **jsonable(self.matcher.current.stats()),
        )

    # --- alerts through the account ------------------------------------------------------------

    async def _chat_send(self, text: str) -> None:
        target = self.settings.alerts.chat
        if self._alert_chat is None:
            ref: Any = target
            if target.lstrip("-").isdigit():
                ref = int(target)
            self._alert_chat = await self.client.get_input_entity(ref)
        await self.client.send_message(self._alert_chat, text, link_preview=False)


async def _stop_tasks(tasks: Sequence[asyncio.Task[Any]], grace: float) -> None:
    """Let ``tasks`` end by themselves within ``grace`` seconds; cancel those still running."""
    if not tasks:
        return
    _, running = await asyncio.wait(tasks, timeout=grace)
    for task in running:
        log.warning("task_cancelled_at_stop", task=task.get_name(), grace=grace)
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _until(event: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    """Wait until ``event`` or ``stop`` is set, or ``seconds`` have passed."""
    waits = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


def _public(counters: Counter[str]) -> dict[str, int]:
    return {k: v for k, v in sorted(counters.items())}


__all__ = ["Daemon", "RunSummary"]
