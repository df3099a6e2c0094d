from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from structlog.testing import capture_logs

from monitor.alerts import AlertDispatcher, AlertFailed, tier_alerted
from monitor.config import AlertSettings
from monitor.domain import Hit, Tier
from monitor.errors import StoreError
from tests.unit.alerts.helpers import FakeClock, FakeOutbox, make_delivery, make_hit

SETTINGS = AlertSettings(
    webhook_url="https://hooks.example/x", max_attempts=5, retry_initial=5.0, retry_max=60.0
)


class FakeSender:
    """Raises the scripted errors in turn (None: success), then succeeds."""

    def __init__(self, *script: Exception | None, gate: asyncio.Event | None = None) -> None:
        self.script = list(script)
        self.gate = gate
        self.hits: list[int] = []
        self.calls = 0
        self.system: list[tuple[str, str]] = []
        self.closed = False

    async def send_hit(self, hit: Hit) -> None:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        error = self.script.pop(0) if self.script else None
        if error is not None:
            raise error
        self.hits.append(hit.id)

    async def send_system(self, event: str, detail: str) -> None:
        self.calls += 1
        error = self.script.pop(0) if self.script else None
        if error is not None:
            raise error
        self.system.append((event, detail))

    async def aclose(self) -> None:
        self.closed = True


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def retryable(message: str = "webhook answered 503", **kw: float) -> AlertFailed:
    return AlertFailed(message, True, retry_after=kw.get("retry_after"))


def dispatcher(
    outbox: FakeOutbox,
    senders: dict[str, FakeSender],
    settings: AlertSettings = SETTINGS,
    clock: FakeClock | None = None,
    sleep: Sleeps | None = None,
) -> AlertDispatcher:
    return AlertDispatcher(
        outbox,
        senders,
        settings,
        clock=clock or FakeClock(),
        sleep=sleep or Sleeps(),
        jitter=lambda: 0.0,
    )


async def test_success_path() -> None:
    clock = FakeClock()
    outbox = FakeOutbox(make_delivery(1, "webhook"), make_delivery(2, "bot"))
    hook, bot = FakeSender(), FakeSender()
    with capture_logs() as logs:
        sent = await dispatcher(outbox, {"webhook": hook, "bot": bot}, clock=clock).run_once()
    assert sent == 2
    assert hook.hits == [101]
    assert bot.hits == [102]
    assert outbox.status(1) == "sent"
    assert outbox.rows[1].sent_at == clock.now
    sent_logs = [e for e in logs if e["event"] == "alert_sent"]
    assert {(e["hit_id"], e["target"], e["attempt"]) for e in sent_logs} == {
        (101, "webhook", 1),
        (102, "bot", 1),
    }
    assert await dispatcher(outbox, {"webhook": hook, "bot": bot}).run_once() == 0


async def test_backoff_grows_to_retry_max_then_gives_up() -> None:
    clock = FakeClock()
    outbox = FakeOutbox(make_delivery(1))
    settings = replace(SETTINGS, max_attempts=7)
    hook = FakeSender(*(retryable() for _ in range(10)))
    d = dispatcher(outbox, {"webhook": hook}, settings, clock=clock)
    delays = []
    with capture_logs() as logs:
        for _ in range(7):
            assert await d.run_once() == 0
            _, _, next_at = outbox.failures[-1]
            if next_at is None:
                break
            delays.append((next_at - clock.now).total_seconds())
            assert await d.run_once() == 0  # not due yet: nothing happens
            clock.advance_to(next_at)
    assert delays == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]
    assert hook.calls == 7
    assert outbox.status(1) == "failed"
    assert outbox.rows[1].attempts == 7
    gave_up = [e for e in logs if e["event"] == "alert_gave_up"]
    assert len(gave_up) == 1
    assert gave_up[0]["attempt"] == 7
    assert gave_up[0]["hit_id"] == 101
    failed = [e for e in logs if e["event"] == "alert_failed"]
    assert [e["attempt"] for e in failed] == [1, 2, 3, 4, 5, 6]
    assert all(e["error"] == "webhook answered 503" for e in failed)


async def test_jitter_is_small_and_added() -> None:
    clock = FakeClock()
    outbox = FakeOutbox(make_delivery(1, attempts=2))
    d = AlertDispatcher(
        outbox, {"webhook": FakeSender(retryable())}, SETTINGS, clock=clock, jitter=lambda: 0.99
    )
    await d.run_once()
    _, _, next_at = outbox.failures[-1]
    assert next_at is not None
    assert 20.0 < (next_at - clock.now).total_seconds() < 22.0


async def test_retry_after_is_honoured_and_holds_the_target() -> None:
    clock = FakeClock()
    outbox = FakeOutbox(make_delivery(1), make_delivery(2), make_delivery(3, "bot"))
    hook = FakeSender(retryable("webhook answered 429", retry_after=30.0))
    bot = FakeSender()
    d = dispatcher(outbox, {"webhook": hook, "bot": bot}, clock=clock)
    assert await d.run_once() == 1  # the bot's
    assert outbox.failures == [(1, "webhook answered 429", clock.now + timedelta(seconds=30))]
    assert outbox.rows[2].attempts == 0  # not tried while the webhook asked to wait
    assert hook.calls == 1
    clock.advance(10)
    assert await d.run_once() == 0
    assert hook.calls == 1
    clock.advance(21)
    assert await d.run_once() == 2
    assert sorted(hook.hits) == [101, 102]


async def test_non_retryable_gives_up_at_once_and_others_continue() -> None:
    outbox = FakeOutbox(make_delivery(1), make_delivery(2))
    hook = FakeSender(AlertFailed("webhook answered 400", False))
    with capture_logs() as logs:
        assert await dispatcher(outbox, {"webhook": hook}).run_once() == 1
    assert outbox.failures == [(1, "webhook answered 400", None)]
    assert outbox.status(1) == "failed"
    assert outbox.status(2) == "sent"
    (gave_up,) = [e for e in logs if e["event"] == "alert_gave_up"]
    assert gave_up["attempt"] == 1
    assert gave_up["target"] == "webhook"


async def test_retryable_failure_does_not_stop_the_rest_of_the_target() -> None:
    outbox = FakeOutbox(make_delivery(1), make_delivery(2), make_delivery(3))
    hook = FakeSender(retryable())
    assert await dispatcher(outbox, {"webhook": hook}).run_once() == 2
    assert [outbox.status(i) for i in (1, 2, 3)] == ["pending", "sent", "sent"]


async def test_a_target_failing_again_and_again_is_held_back() -> None:
    clock = FakeClock()
    outbox = FakeOutbox(*(make_delivery(i) for i in range(1, 11)))
    hook = FakeSender(*(retryable() for _ in range(20)))
    d = dispatcher(outbox, {"webhook": hook}, clock=clock)
    assert await d.run_once() == 0
    assert hook.calls == 3  # then held: the other seven keep their attempts
    assert sum(row.attempts for row in outbox.rows.values()) == 3
    assert await d.run_once() == 0
    assert hook.calls == 3
    clock.advance(5)  # the hold (retry_initial) is over: one more try, held for longer
    assert await d.run_once() == 0
    assert hook.calls == 4
    clock.advance(9)
    assert await d.run_once() == 0
    assert hook.calls == 4
    clock.advance(1)
    hook.script = []  # the receiver is back: everything goes
    assert await d.run_once() == 10
    assert hook.calls == 14


async def test_new_alerts_go_before_retries() -> None:
    outbox = FakeOutbox(make_delivery(1, attempts=3), make_delivery(2))
    hook = FakeSender()
    await dispatcher(outbox, {"webhook": hook}).run_once()
    assert hook.hits == [102, 101]


async def test_unknown_target_is_marked_failed() -> None:
    outbox = FakeOutbox(make_delivery(1, "chat"), make_delivery(2, "webhook"))
    hook = FakeSender()
    with capture_logs() as logs:
        assert await dispatcher(outbox, {"webhook": hook}).run_once() == 1
    assert outbox.failures == [(1, "no sender configured for target 'chat'", None)]
    assert outbox.status(1) == "failed"
    assert any(e["event"] == "alert_gave_up" and e["target"] == "chat" for e in logs)


async def test_hits_below_min_tier_are_not_sent() -> None:
    settings = replace(SETTINGS, min_tier="near-exact")
    outbox = FakeOutbox(
        make_delivery(1, hit=make_hit(1, tier=Tier.MATCH)),
        make_delivery(2, hit=make_hit(2, tier=Tier.EXACT)),
    )
    hook = FakeSender()
    assert await dispatcher(outbox, {"webhook": hook}, settings).run_once() == 1
    assert hook.hits == [2]
    assert outbox.status(1) == "failed"
    assert tier_alerted(Tier.EXACT, "match")
    assert tier_alerted(Tier.NEAR_EXACT, "near-exact")
    assert not tier_alerted(Tier.MATCH, "exact")


async def test_a_sender_bug_is_a_retryable_failure() -> None:
    outbox = FakeOutbox(make_delivery(1), make_delivery(2, "bot"))
    broken = FakeSender(KeyError("oops"))
    bot = FakeSender()
    assert await dispatcher(outbox, {"webhook": broken, "bot": bot}).run_once() == 1
    (failure,) = outbox.failures
    assert failure[0] == 1
    assert failure[1] == "KeyError: 'oops'"
    assert failure[2] is not None


async def test_a_failing_target_does_not_block_another() -> None:
    outbox = FakeOutbox(make_delivery(1, "webhook"), make_delivery(2, "bot"))
    hook = FakeSender(retryable("webhook timed out after 10s"))
    bot = FakeSender()
    assert await dispatcher(outbox, {"webhook": hook, "bot": bot}).run_once() == 1
    assert bot.hits == [102]


async def test_a_hanging_target_does_not_delay_another_in_run() -> None:
    outbox = FakeOutbox(make_delivery(1, "webhook"))
    gate = asyncio.Event()
    hook = FakeSender(gate=gate)
    bot = FakeSender()
    d = dispatcher(outbox, {"webhook": hook, "bot": bot})
    stop = asyncio.Event()
    runner = asyncio.create_task(d.run(stop, interval=30.0))
    await wait_for(lambda: hook.calls == 1)
    outbox.add(make_delivery(2, "bot"))
    d.wake()
    await wait_for(lambda: bot.hits == [102])
    assert hook.hits == []
    gate.set()
    await wait_for(lambda: hook.hits == [101])
    stop.set()
    await asyncio.wait_for(runner, 1.0)
    assert outbox.status(1) == "sent"


async def test_wake_makes_run_send_promptly() -> None:
    outbox = FakeOutbox()
    hook = FakeSender()
    d = dispatcher(outbox, {"webhook": hook})
    stop = asyncio.Event()
    runner = asyncio.create_task(d.run(stop, interval=60.0))
    await asyncio.sleep(0.01)
    outbox.add(make_delivery(1))
    d.wake()
    await wait_for(lambda: hook.hits == [101], within=0.5)
    outbox.add(make_delivery(2))
    d.wake()
    await wait_for(lambda: hook.hits == [101, 102], within=0.5)
    stop.set()
    await asyncio.wait_for(runner, 1.0)


async def test_run_survives_store_errors() -> None:
    outbox = FakeOutbox(make_delivery(1))
    outbox.fail_claim = [StoreError("database unavailable"), StoreError("database unavailable")]
    hook = FakeSender()
    d = dispatcher(outbox, {"webhook": hook})
    stop = asyncio.Event()
    with capture_logs() as logs:
        runner = asyncio.create_task(d.run(stop, interval=0.01, error_delay=0.01))
        await wait_for(lambda: hook.hits == [101])
        stop.set()
        await asyncio.wait_for(runner, 1.0)
    errors = [e for e in logs if e["event"] == "alert_store_error"]
    assert len(errors) == 2
    assert errors[0]["error"] == "database unavailable"


async def test_run_once_propagates_store_errors() -> None:
    outbox = FakeOutbox(make_delivery(1))
    outbox.fail_claim = [StoreError("database unavailable")]
    with pytest.raises(StoreError):
        await dispatcher(outbox, {"webhook": FakeSender()}).run_once()


async def test_stop_lets_the_delivery_in_flight_finish() -> None:
    outbox = FakeOutbox(make_delivery(1), make_delivery(2))
    gate = asyncio.Event()
    hook = FakeSender(gate=gate)
    d = dispatcher(outbox, {"webhook": hook})
    stop = asyncio.Event()
    runner = asyncio.create_task(d.run(stop, interval=30.0))
    await wait_for(lambda: hook.calls == 1)
    stop.set()
    gate.set()
    await asyncio.wait_for(runner, 1.0)
    assert outbox.status(1) == "sent"
    assert outbox.status(2) == "pending"  # not started after stop...
    assert outbox.released == [2]  # ...and handed back, due at once for another daemon


async def test_cancelling_run_abandons_deliveries_in_flight() -> None:
    outbox = FakeOutbox(make_delivery(1))
    hook = FakeSender(gate=asyncio.Event())
    d = dispatcher(outbox, {"webhook": hook})
    runner = asyncio.create_task(d.run(asyncio.Event(), interval=30.0))
    await wait_for(lambda: hook.calls == 1)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert outbox.status(1) == "pending"


async def test_system_alerts_are_best_effort() -> None:
    sleeps = Sleeps()
    flaky = FakeSender(retryable(), retryable())
    refused = FakeSender(AlertFailed("Bot API error 403: Forbidden: bot was kicked", False))
    broken = FakeSender(*(RuntimeError("boom") for _ in range(5)))
    limited = FakeSender(retryable(retry_after=3600.0))
    d = dispatcher(
        FakeOutbox(),
        {"webhook": flaky, "bot": refused, "chat": broken, "other": limited},
        sleep=sleeps,
    )
    with capture_logs() as logs:
        result = await d.send_system("session_revoked", "AuthKeyUnregistered")
    assert result == {"webhook": True, "bot": False, "chat": False, "other": False}
    assert flaky.system == [("session_revoked", "AuthKeyUnregistered")]
    assert flaky.calls == 3
    assert refused.calls == 1
    assert broken.calls == 3
    assert limited.calls == 1  # a long wait is not worth it for a system alert
    assert sorted(sleeps.calls) == [0.5, 0.5, 2.0, 2.0]
    assert any(e["event"] == "system_alert_sent" for e in logs)


async def test_system_alert_with_no_senders() -> None:
    assert await dispatcher(FakeOutbox(), {}).send_system("daemon_stopped", "x") == {}


async def test_aclose_closes_senders() -> None:
    hook = FakeSender()
    d = dispatcher(FakeOutbox(), {"webhook": hook})
    await d.aclose()
    assert hook.closed


# --- claims: several dispatchers on one outbox -----------------------------------------------


async def test_deliveries_are_claimed_for_the_hold() -> None:
    clock = FakeClock()
    outbox = FakeOutbox(make_delivery(1), make_delivery(2, "bot"))
    hook = FakeSender(retryable())
    d = dispatcher(outbox, {"webhook": hook, "bot": FakeSender()}, clock=clock)
    assert d.claim_hold > d.send_limit >= SETTINGS.timeout
    assert await d.run_once() == 1
    assert outbox.claims == [[1, 2]]
    # The failure's backoff replaced the claim; the sent one is no longer pending.
    assert outbox.rows[1].next_attempt_at == clock.now + timedelta(seconds=5)


async def test_a_claimed_delivery_is_not_taken_by_a_second_dispatcher() -> None:
    clock = FakeClock()
    outbox = FakeOutbox(make_delivery(1))
    gate = asyncio.Event()
    first_hook, second_hook = FakeSender(gate=gate), FakeSender()
    first = dispatcher(outbox, {"webhook": first_hook}, clock=clock)
    second = dispatcher(outbox, {"webhook": second_hook}, clock=clock)
    sending = asyncio.create_task(first.run_once())
    await wait_for(lambda: first_hook.calls == 1)
    assert await second.run_once() == 0
    assert second_hook.calls == 0
    gate.set()
    assert await sending == 1
    assert first_hook.hits == [101]


async def test_the_claim_of_a_dispatcher_that_died_ends_after_the_hold() -> None:
    clock = FakeClock()
    outbox = FakeOutbox(make_delivery(1))
    dead = dispatcher(outbox, {"webhook": FakeSender()}, clock=clock)
    assert [d.id for d in await dead._claim(10, skip=())] == [1]  # claimed, never sent
    hook = FakeSender()
    other = dispatcher(outbox, {"webhook": hook}, clock=clock)
    assert await other.run_once() == 0
    clock.advance(other.claim_hold)
    assert await other.run_once() == 1
    assert hook.hits == [101]


async def test_a_target_held_back_is_not_claimed_and_hands_back_the_rest() -> None:
    clock = FakeClock()
    outbox = FakeOutbox(*(make_delivery(i) for i in range(1, 5)), make_delivery(5, "bot"))
    hook = FakeSender(retryable(retry_after=30.0))
    d = dispatcher(outbox, {"webhook": hook, "bot": FakeSender()}, clock=clock)
    assert await d.run_once() == 1
    assert outbox.released == [2, 3, 4]
    assert all(outbox.rows[i].next_attempt_at == clock.now for i in (2, 3, 4))
    outbox.add(make_delivery(6, "bot"))
    assert await d.run_once() == 1
    assert outbox.claims[-1] == [6]  # none of the webhook's while it is held back


async def test_no_send_starts_that_could_outlast_its_claim() -> None:
    clock = FakeClock()
    outbox = FakeOutbox(*(make_delivery(i) for i in range(1, 6)))
    d = dispatcher(outbox, {}, clock=clock)

    class SlowSender(FakeSender):
        async def send_hit(self, hit: Hit) -> None:
            clock.advance(d.send_limit)  # each send takes as long as it may
            await super().send_hit(hit)

    slow = SlowSender()
    d = dispatcher(outbox, {"webhook": slow}, clock=clock)
    assert await d.run_once() == 3  # a fourth could end after the claim
    assert outbox.released == [4, 5]
    assert await d.run_once() == 2
    assert slow.hits == [101, 102, 103, 104, 105]


async def test_a_send_is_cut_off_at_the_send_limit() -> None:
    settings = replace(SETTINGS, timeout=0.01)
    outbox = FakeOutbox(make_delivery(1))
    d = dispatcher(outbox, {"webhook": FakeSender(gate=asyncio.Event())}, settings)
    assert await d.run_once() == 0
    [(delivery_id, error, next_at)] = outbox.failures
    assert delivery_id == 1
    assert error == f"sending took longer than {d.send_limit:g}s"
    assert next_at is not None  # retryable


async def test_run_claims_nothing_for_a_target_still_busy() -> None:
    outbox = FakeOutbox(make_delivery(1))
    gate = asyncio.Event()
    hook = FakeSender(gate=gate)
    d = dispatcher(outbox, {"webhook": hook, "bot": FakeSender()})
    stop = asyncio.Event()
    runner = asyncio.create_task(d.run(stop, interval=30.0))
    await wait_for(lambda: hook.calls == 1)
    outbox.add(make_delivery(2))
    d.wake()
    await wait_for(lambda: len(outbox.claims) >= 2)
    assert all(2 not in ids for ids in outbox.claims)
    gate.set()
    await wait_for(lambda: hook.hits == [101, 102])
    stop.set()
    await asyncio.wait_for(runner, 1.0)


async def wait_for(condition: object, within: float = 1.0) -> None:
    assert callable(condition)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)
