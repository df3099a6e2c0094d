"""Takedown re-checks: which reported messages to ask Telegram about, and keeping the answers.

The daemon runs a pass every little while (messages become due ``recheck_interval`` after their
last check); ``monitor takedown verify`` runs one on demand. Asking Telegram is the ``check``
callable (``monitor.telegram.recheck``), so this module knows nothing of Telethon.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from monitor.config import TakedownSettings
from monitor.domain import RecheckResult, RecheckTarget
from monitor.logs import get_logger

log = get_logger(__name__)

Check = Callable[[Sequence[RecheckTarget]], Awaitable[list[RecheckResult]]]


class RecheckStore(Protocol):
    async def due_rechecks(
        self,
        *,
        interval: timedelta,
        max_age: timedelta,
        now: datetime | None = None,
        limit: int = 1000,
        hit_ids: Sequence[int] = (),
    ) -> list[RecheckTarget]: ...

    async def record_checks(self, results: Sequence[RecheckResult], *, checked_by: str) -> int: ...


@dataclass
class PassResult:
    """What one re-check pass did."""

    results: list[RecheckResult] = field(default_factory=list)
    targets: dict[int, RecheckTarget] = field(default_factory=dict)  # by sighting id
    changed: int = 0  # takedowns whose status changed

    @property
    def outcomes(self) -> Counter[str]:
        return Counter(r.outcome.value for r in self.results)


async def recheck_pass(
    store: RecheckStore,
    check: Check,
    settings: TakedownSettings,
    *,
    actor: str,
    hit_ids: Sequence[int] = (),
    everything: bool = False,
) -> PassResult:
    """Re-check the messages that are due (or those of ``hit_ids``; or, with ``everything``,
    every reported message not known removed, however recently checked) and keep the results.

    Works through the due messages ``recheck_batch`` at a time until none is left, so a pass
    after a long outage catches up; each batch is committed on its own.
    """
    interval = timedelta(seconds=0 if everything or hit_ids else settings.recheck_interval)
    max_age = timedelta(days=settings.recheck_days)
    done = PassResult()
    seen: set[int] = set()
    while True:
        targets = [
            t
            for t in await store.due_rechecks(
                interval=interval, max_age=max_age, limit=settings.recheck_batch, hit_ids=hit_ids
            )
            if t.sighting_id not in seen
        ]
        if not targets:
            break
        seen.update(t.sighting_id for t in targets)
        done.targets.update((t.sighting_id, t) for t in targets)
        results = await check(targets)
        done.changed += await store.record_checks(results, checked_by=actor)
        done.results += results
        if hit_ids:
            break  # those messages, once
    if done.results:
        log.info(
            "takedown_recheck_done",
            messages=len(done.results),
            changed=done.changed,
            **dict(done.outcomes),
        )
    return done
