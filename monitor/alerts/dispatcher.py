"""Deliver the alert outbox: every pending (hit, target) row, with retries and backoff.

The store writes one ``alert_deliveries`` row per (hit, target) in the transaction that records
the hit, so an alert cannot be lost once the hit is committed. The dispatcher claims the rows
that are due (``claim_alerts``), sends each through its target's sender, and records the outcome:

* sent: ``mark_alert_sent``;
* failed, retryable: ``mark_alert_failed`` with the next attempt after
  ``min(retry_max, retry_initial * 2**attempts)`` seconds plus up to 10% jitter, or after the
  receiver's ``retry_after`` when it gave one;
* failed for good (not retryable, ``max_attempts`` reached, no sender for the target, or a hit
  weaker than ``min_tier``): ``mark_alert_failed`` with ``next_attempt_at=None``.

Targets are independent: each is worked through by its own task, so a slow or failing webhook
delays neither the bot nor the chat. A target that keeps failing with retryable errors (three in
a row) or that asked for ``retry_after`` is held back as a whole for a while, rather than every
one of its pending alerts spending an attempt on a receiver that is down; its deliveries keep
their place and go out as soon as it answers again. Within a target, new alerts go before
retries, so one alert the receiver keeps refusing does not hold the others back.

Several daemons on one store each run a dispatcher; the claim keeps them from sending one
delivery twice. A claim holds its deliveries for ``claim_hold`` seconds (a few send limits), and
no send outlives it: each send is cut off after ``send_limit`` (a few ``alerts.timeout``s: the
HTTP timeout applies per connect, write and read, and sends through the account have none of
their own), and a target starts no send that could not end before its claim does. Deliveries
claimed but not attempted (the target was held back, the dispatcher stopped, the claim ran short)
are handed back at once; those of a dispatcher that died come back when the claim ends.

Log events: ``alert_sent``, ``alert_failed`` (will be retried), ``alert_gave_up``, each with the
delivery and hit ids, the target and the attempt number; never a URL, token or secret.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from monitor.alerts.errors import AlertFailed
from monitor.alerts.senders import Closable, Sender
from monitor.config import AlertSettings
from monitor.domain import AlertDelivery, Tier
from monitor.logs import get_logger, redact_text

log = get_logger(__name__)

MIN_RETRY_DELAY = 1.0  # seconds: the shortest retry_after honoured (a receiver may say 0)
JITTER = 0.1  # up to this fraction of the backoff is added at random
HOLD_AFTER = 3  # retryable failures in a row after which a target is held back
SYSTEM_ATTEMPTS = 3  # tries of a system alert per sender
SYSTEM_DELAYS = (0.5, 2.0)  # seconds between them
SYSTEM_MAX_WAIT = 5.0  # longest retry_after honoured for a system alert
SEND_LIMIT_TIMEOUTS = 3  # a send is cut off after this many alerts.timeouts
CLAIM_SENDS = 3  # a claim holds its deliveries for this many send limits...
CLAIM_MARGIN = 10.0  # ...and a send starts only this many seconds, or more, before it ends


class AlertOutbox(Protocol):
    """What the dispatcher needs of the store."""

    async def claim_alerts(
        self,
        *,
        now: datetime,
        limit: int,
        hold_seconds: float,
        skip_targets: Collection[str] = (),
    ) -> list[AlertDelivery]: ...

    async def release_alerts(self, claimed: Sequence[AlertDelivery], *, at: datetime) -> int: ...

    async def mark_alert_sent(self, delivery_id: int, *, at: datetime | None = None) -> None: ...

    async def mark_alert_failed(
        self, delivery_id: int, error: str, *, next_attempt_at: datetime | None
    ) -> None: ...


def tier_alerted(tier: Tier, min_tier: str) -> bool:
    """Whether a hit of ``tier`` is alerted when the weakest tier alerted is ``min_tier``."""
    return tier.rank <= Tier(min_tier).rank


@dataclass(slots=True)
class _TargetState:
    streak: int = 0  # retryable failures in a row
    hold_until: datetime | None = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AlertDispatcher:
    """Sends due alert deliveries. ``run`` loops; ``run_once`` makes one pass (tests, CLI).

    ``clock`` gives the current time (aware UTC), ``sleep`` waits between the quick retries of
    system alerts, ``jitter`` returns a number in [0, 1) scaling the random part of backoffs.
    """

    def __init__(
        self,
        store: AlertOutbox,
        senders: Mapping[str, Sender],
        settings: AlertSettings,
        *,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._senders = dict(senders)
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._wakeup = asyncio.Event()
        self._targets: dict[str, _TargetState] = {}

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self._senders)

    @property
    def send_limit(self) -> float:
        """Seconds after which a send is abandoned (and counted a retryable failure)."""
        return SEND_LIMIT_TIMEOUTS * self._settings.timeout

    @property
    def claim_hold(self) -> float:
        """Seconds a claim holds its deliveries from other dispatchers."""
        return CLAIM_SENDS * self.send_limit + CLAIM_MARGIN

    def wake(self) -> None:
        """Make a running ``run`` look for due alerts now (call it after committing a hit)."""
        self._wakeup.set()

    async def run_once(self, *, limit: int = 100) -> int:
        """Send the due deliveries (at most ``limit``); return how many were sent.

        Targets are worked through concurrently. Store errors propagate, after every target's
        work in this pass has ended. Not to be called while ``run`` is running.
        """
        groups = self._group(await self._claim(limit, skip=()))
        results = await asyncio.gather(
            *(self._drain(target, items) for target, items in groups.items()),
            return_exceptions=True,
        )
        sent = 0
        error: BaseException | None = None
        for result in results:
            if isinstance(result, BaseException):
                error = error or result
            else:
                sent += result
        if error is not None:
            raise error
        return sent

    async def run(
        self,
        stop: asyncio.Event,
        *,
        interval: float = 2.0,
        error_delay: float = 10.0,
        limit: int = 100,
    ) -> None:
        """Deliver alerts until ``stop`` is set: every ``interval`` seconds, and at ``wake()``.

        Each target's deliveries are sent by a task of its own, so a slow target does not hold
        up the others. A store error is logged and the loop tries again after ``error_delay``.
        ``limit``: deliveries claimed per pass (none for a target held back or still busy).
        On stop, each target finishes the delivery in flight (waited for up to the alert
        timeout plus a second, then abandoned: it stays pending and is due again when its claim
        ends), starts no other and hands the rest of its claim back.
        """
        tasks: dict[str, asyncio.Task[int]] = {}
        log.info("alert_dispatcher_started", targets=list(self._senders))
        try:
            while not stop.is_set():
                self._wakeup.clear()
                for target in [t for t, task in tasks.items() if task.done()]:
                    self._reap(target, tasks.pop(target))
                delay = interval
                try:
                    claimed = await self._claim(limit, skip=tasks)  # not for targets still busy
                except Exception as exc:
                    log.error("alert_store_error", error=redact_text(str(exc)))
                    delay = error_delay
                else:
                    for target, items in self._group(claimed).items():
                        task = asyncio.create_task(self._drain(target, items, stop))
                        task.add_done_callback(self._drained)
                        tasks[target] = task
                await self._wait(stop, delay)
        except BaseException:  # cancelled: abandon the deliveries in flight (they stay pending)
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            raise
        if tasks:
            # Each target finishes the delivery in flight, which its timeout bounds.
            _, late = await asyncio.wait(tasks.values(), timeout=self._settings.timeout + 1.0)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        for target, task in tasks.items():
            self._reap(target, task)
        log.info("alert_dispatcher_stopped")

    async def send_system(self, event: str, detail: str) -> dict[str, bool]:
        """Send a daemon-level alert through every sender, best effort; never raises.

        Each sender gets a few quick tries. Returns target -> whether it was delivered.
        """
        targets = list(self._senders)
        results = await asyncio.gather(
            *(self._system_one(t, event, detail) for t in targets), return_exceptions=True
        )
        return {t: r is True for t, r in zip(targets, results, strict=True)}

    async def aclose(self) -> None:
        """Close the senders that hold connections."""
        for sender in self._senders.values():
            if isinstance(sender, Closable):
                try:
                    await sender.aclose()
                except Exception as exc:
                    log.warning("alert_sender_close_failed", error=redact_text(str(exc)))

    # --- one target -----------------------------------------------------------------------

    async def _claim(self, limit: int, *, skip: Iterable[str]) -> list[AlertDelivery]:
        """Claim due deliveries, none for the targets in ``skip`` or held back."""
        now = self._clock()
        held = {
            target
            for target, state in self._targets.items()
            if state.hold_until is not None and now < state.hold_until
        }
        return await self._store.claim_alerts(
            now=now, limit=limit, hold_seconds=self.claim_hold, skip_targets=held.union(skip)
        )

    def _group(self, claimed: Iterable[AlertDelivery]) -> dict[str, list[AlertDelivery]]:
        groups: dict[str, list[AlertDelivery]] = {}
        for delivery in claimed:
            groups.setdefault(delivery.target, []).append(delivery)
        for items in groups.values():
            items.sort(key=lambda d: d.attempts > 0)  # stable: new alerts before retries
        return groups

    async def _drain(
        self, target: str, deliveries: list[AlertDelivery], stop: asyncio.Event | None = None
    ) -> int:
        """Send ``deliveries`` (all for ``target``, claimed) one after another; return how many
        went. Those not attempted are handed back."""
        sender = self._senders.get(target)
        sent = 0
        for i, delivery in enumerate(deliveries):
            if (stop is not None and stop.is_set()) or self._claim_too_short(delivery):
                await self._release(deliveries[i:])
                break
            if sender is None:
                await self._give_up(delivery, f"no sender configured for target {target!r}")
                continue
            if not tier_alerted(delivery.hit.tier, self._settings.min_tier):
                await self._give_up(
                    delivery, f"tier {delivery.hit.tier.value} is below alerts.min_tier"
                )
                continue
            if await self._deliver(sender, delivery):
                sent += 1
            else:
                state = self._targets.get(target)
                if state is not None and state.hold_until is not None:
                    await self._release(deliveries[i + 1 :])  # held back: the rest go later
                    break
        return sent

    def _claim_too_short(self, delivery: AlertDelivery) -> bool:
        """Whether a send started now could outlast the delivery's claim."""
        until = delivery.next_attempt_at
        if until is None:
            return False
        left = (until - self._clock()).total_seconds()
        return left < self.send_limit + CLAIM_MARGIN

    async def _release(self, deliveries: Sequence[AlertDelivery]) -> None:
        if deliveries:
            await self._store.release_alerts(deliveries, at=self._clock())

    async def _deliver(self, sender: Sender, delivery: AlertDelivery) -> bool:
        attempt = delivery.attempts + 1
        state = self._targets.setdefault(delivery.target, _TargetState())
        try:
            await asyncio.wait_for(sender.send_hit(delivery.hit), self.send_limit)
        except AlertFailed as exc:
            failure = exc
        except TimeoutError:
            failure = AlertFailed(f"sending took longer than {self.send_limit:g}s", True)
        except Exception as exc:  # a sender bug must not stop the others
            detail = redact_text(str(exc))[:200]
            failure = AlertFailed(f"{type(exc).__name__}: {detail}", True)
        else:
            state.streak = 0
            state.hold_until = None
            await self._store.mark_alert_sent(delivery.id, at=self._clock())
            log.info(
                "alert_sent",
                delivery_id=delivery.id,
                hit_id=delivery.hit.id,
                target=delivery.target,
                attempt=attempt,
            )
            return True
        if not failure.retryable or attempt >= self._settings.max_attempts:
            await self._give_up(delivery, failure.message, attempt=attempt)
            return False
        now = self._clock()
        delay = self._backoff(delivery.attempts, failure.retry_after)
        await self._store.mark_alert_failed(
            delivery.id, failure.message, next_attempt_at=now + timedelta(seconds=delay)
        )
        log.warning(
            "alert_failed",
            delivery_id=delivery.id,
            hit_id=delivery.hit.id,
            target=delivery.target,
            attempt=attempt,
            error=failure.message,
            retry_in=round(delay, 1),
        )
        state.streak += 1
        if failure.retry_after is not None:
            state.hold_until = now + timedelta(seconds=max(failure.retry_after, MIN_RETRY_DELAY))
        elif state.streak >= HOLD_AFTER:
            hold = self._backoff(state.streak - HOLD_AFTER, None)
            state.hold_until = now + timedelta(seconds=hold)
        return False

    async def _give_up(
        self, delivery: AlertDelivery, error: str, *, attempt: int | None = None
    ) -> None:
        await self._store.mark_alert_failed(delivery.id, error, next_attempt_at=None)
        log.error(
            "alert_gave_up",
            delivery_id=delivery.id,
            hit_id=delivery.hit.id,
            target=delivery.target,
            attempt=delivery.attempts + 1 if attempt is None else attempt,
            error=error,
        )

    def _backoff(self, attempts: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(retry_after, MIN_RETRY_DELAY)
        s = self._settings
        base = min(s.retry_max, s.retry_initial * 2.0 ** min(max(attempts, 0), 64))
        return base + base * JITTER * self._jitter()

    def _drained(self, task: asyncio.Task[int]) -> None:
        # A target's batch is done: look again at once, there may be more. Not after an error,
        # which would only repeat it at full speed.
        if not task.cancelled() and task.exception() is None:
            self._wakeup.set()

    def _reap(self, target: str, task: asyncio.Task[int]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("alert_store_error", target=target, error=redact_text(str(exc)))

    async def _wait(self, stop: asyncio.Event, seconds: float) -> None:
        if stop.is_set() or self._wakeup.is_set():
            return
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wakeup.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    # --- system alerts ----------------------------------------------------------------------

    async def _system_one(self, target: str, event: str, detail: str) -> bool:
        sender = self._senders[target]
        for attempt in range(1, SYSTEM_ATTEMPTS + 1):
            try:
                await sender.send_system(event, detail)
            except AlertFailed as exc:
                failure = exc
            except Exception as exc:
                failure = AlertFailed(f"{type(exc).__name__}: {redact_text(str(exc))[:200]}", True)
            else:
                log.info("system_alert_sent", target=target, alert_event=event, attempt=attempt)
                return True
            too_long = failure.retry_after is not None and failure.retry_after > SYSTEM_MAX_WAIT
            last = attempt == SYSTEM_ATTEMPTS or not failure.retryable or too_long
            log.warning(
                "system_alert_failed",
                target=target,
                alert_event=event,
                attempt=attempt,
                error=failure.message,
                gave_up=last,
            )
            if last:
                return False
            delay = SYSTEM_DELAYS[min(attempt - 1, len(SYSTEM_DELAYS) - 1)]
            if failure.retry_after is not None:
                delay = max(delay, failure.retry_after)
            await self._sleep(delay)
        return False
