"""Hash lists changed while the daemon runs: applied to the one matcher in memory (in place, or
rebuilt after letting the old one go), with matching paused meanwhile and never resumed on a
half-loaded index."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

import monitor.daemon as daemon_module
from monitor.daemon import LiveMatcher
from monitor.domain import Match, RecordResult, SightingSource, Signals, SourceKind
from monitor.hashing import compute_signals
from monitor.matching import Matcher
from monitor.pipeline import Pipeline
from tests.integration.daemon.harness import Env, photo


async def test_a_small_change_is_applied_in_place_and_a_large_one_rebuilds(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    await env.list_photos(1)
    async with env.daemon(live=False) as daemon:
        daemon.matcher.fingerprint = await daemon._lists_fingerprint()
        before = daemon.matcher.current
        await daemon._refresh_matcher()  # nothing changed
        assert daemon.matcher.current is before

        await env.list_photos(2)
        await daemon._refresh_matcher()
        assert daemon.matcher.current is before  # in place, no second matcher
        assert before.stats().entries == 2
        signals = compute_signals(photo(2), env.settings.hashing)
        assert [m.case_id for m in daemon.matcher.match(signals)] == ["case-2"]

        monkeypatch.setattr(daemon_module, "INCREMENTAL_CHANGES", 0)
        await env.list_photos(3)
        await daemon._refresh_matcher()
        assert daemon.matcher.current is not before  # rebuilt
        assert daemon.matcher.current.stats().entries == 3
        async with env.store() as store:
            assert daemon.matcher.current.event_mark == await store.last_entry_event()
        await asyncio.wait_for(daemon.matcher.settled(), 1)


async def test_a_failed_rebuild_keeps_matching_paused_until_one_succeeds(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    await env.list_photos(1)
    async with env.daemon(live=False) as daemon:
        daemon.matcher.fingerprint = await daemon._lists_fingerprint()
        monkeypatch.setattr(daemon_module, "INCREMENTAL_CHANGES", 0)
        real_load = daemon_module.load_matcher

        async def failing_load(store: object) -> Matcher:
            raise OSError("database went away")

        monkeypatch.setattr(daemon_module, "load_matcher", failing_load)
        await env.list_photos(2)
        with pytest.raises(OSError, match="database went away"):
            await daemon._refresh_matcher()
        waiting = asyncio.ensure_future(daemon.matcher.settled())
        await asyncio.sleep(0.05)
        assert not waiting.done()  # nothing is matched against the emptied index

        monkeypatch.setattr(daemon_module, "load_matcher", real_load)
        await daemon._refresh_matcher()  # the next pass tries again (the lists still differ)
        await asyncio.wait_for(waiting, 1)
        assert daemon.matcher.current.stats().entries == 2


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    async def record_sighting(
        self, source: SightingSource, signals: Signals, matches: Sequence[Match]
    ) -> RecordResult:
        self.calls.append(tuple(m.bank for m in matches))
        return RecordResult(sighting_id=1, media_id=1, sighting_created=True, hits=(), new_hits=())


async def test_the_pipeline_waits_while_the_lists_are_being_changed() -> None:
    live = LiveMatcher(Matcher(), None)
    recorder = _Recorder()
    pipeline = Pipeline(live, recorder)
    source = SightingSource(SourceKind.FILE, "file:/x")
    signals = Signals(sha256="11" * 32, md5="22" * 16, size_bytes=1)
    live.pause()
    task = asyncio.ensure_future(pipeline.handle(source, signals))
    await asyncio.sleep(0.05)
    assert not task.done()
    assert recorder.calls == []
    live.resume()
    await asyncio.wait_for(task, 1)
    assert recorder.calls == [()]
    async with live.changing():
        again = asyncio.ensure_future(pipeline.handle(source, signals))
        await asyncio.sleep(0.05)
        assert not again.done()
    await asyncio.wait_for(again, 1)
