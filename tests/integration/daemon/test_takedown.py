"""Takedown re-checks through the daemon and the CLI, against the loopback Telegram server:
a deleted message, a channel made private, a channel gone, a message still up."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import pytest

from monitor.cli import main
from monitor.domain import CheckOutcome, Hit, RemovalStatus
from tests.integration.daemon.harness import Env, eventually
from tests.telegram_server.models import ChannelRecord


@dataclass
class Reported:
    """A listed photo posted in three watched channels (twice in the first), recorded and
    reported. ``hits``: up and deleted (channel one), private (two), gone (three)."""

    hits: dict[str, Hit]
    one: ChannelRecord
    two: ChannelRecord
    three: ChannelRecord

    def message_id(self, name: str) -> int:
        source = self.hits[name].source
        assert source is not None
        assert source.message_id is not None
        return source.message_id


async def hits_in_three_channels(env: Env) -> Reported:
    await env.list_photos(1)
    one = env.world.create_channel("feedone", members=[env.user])
    two = env.world.create_channel("feedtwo", members=[env.user])
    three = env.world.create_channel("feedthree", members=[env.user])
    env.world.post_photo(one, env.listed[1])
    env.world.post_photo(one, env.listed[1])
    env.world.post_photo(two, env.listed[1])
    env.world.post_photo(three, env.listed[1])
    await env.watch("@feedone", "@feedtwo", "@feedthree")
    await env.run_once()
    async with env.store() as store:
        hits = await store.list_hits(oldest_first=True)
        assert len(hits) == 4
        await store.mark_reported(
            [h.id for h in hits], reported_to="Telegram abuse", reference="T-9", actor="park"
        )
    by_chat: dict[int | None, list[Hit]] = {}
    for hit in hits:
        assert hit.source is not None
        by_chat.setdefault(hit.source.chat_id, []).append(hit)
    up, deleted = by_chat[one.marked_id]
    return Reported(
        hits={
            "up": up,
            "deleted": deleted,
            "private": by_chat[two.marked_id][0],
            "gone": by_chat[three.marked_id][0],
        },
        one=one,
        two=two,
        three=three,
    )


async def test_verify_on_demand_finds_every_outcome(env: Env) -> None:
    reported = await hits_in_three_channels(env)
    h = reported.hits
    env.world.delete_messages(reported.one, [reported.message_id("deleted")])
    env.world.make_private(reported.two)
    env.world.remove_channel(reported.three)

    async with env.daemon(live=False) as daemon:
        result = await asyncio.wait_for(daemon.verify_takedowns(everything=True), 60)
    outcomes = {r.sighting_id: r.outcome for r in result.results}
    assert outcomes == {
        h["up"].sighting_id: CheckOutcome.UP,
        h["deleted"].sighting_id: CheckOutcome.DELETED,
        h["private"].sighting_id: CheckOutcome.PRIVATE,
        h["gone"].sighting_id: CheckOutcome.GONE,
    }
    async with env.store() as store:
        status = {t.hit_id: t.status for t in await store.list_takedowns()}
        assert status == {
            h["up"].id: RemovalStatus.UP,
            h["deleted"].id: RemovalStatus.REMOVED,
            h["private"].id: RemovalStatus.INACCESSIBLE,
            h["gone"].id: RemovalStatus.REMOVED,
        }
        evidence = await store.hit_evidence(h["deleted"].id)
        assert [c.outcome for c in evidence.checks] == [CheckOutcome.DELETED]
        assert evidence.takedowns[0].removed_at is not None
        assert "takedown.status" in [a.action for a in evidence.history]
        # Not due again before the interval: a plain pass asks nothing.
        before = env.world.request_count("channels.getMessages")
    async with env.daemon(live=False) as daemon:
        again = await asyncio.wait_for(daemon.verify_takedowns(), 60)
    assert again.results == []
    assert env.world.request_count("channels.getMessages") == before


async def test_the_running_daemon_rechecks_when_due(env: Env) -> None:
    env.configure(takedown={"recheck_interval": 1})
    reported = await hits_in_three_channels(env)
    h = reported.hits
    async with env.running():

        async def removed() -> bool:
            async with env.store() as store:
                [t] = [t for t in await store.list_takedowns() if t.hit_id == h["deleted"].id]
                return t.status is RemovalStatus.REMOVED

        async def up() -> bool:
            async with env.store() as store:
                [t] = [t for t in await store.list_takedowns() if t.hit_id == h["up"].id]
                return t.status is RemovalStatus.UP

        await eventually(up, seconds=10)
        env.world.delete_messages(reported.one, [reported.message_id("deleted")])
        await eventually(removed, seconds=10)
    async with env.store() as store:
        [t] = [t for t in await store.list_takedowns() if t.hit_id == h["deleted"].id]
        assert t.time_to_removal is not None
        checks = await store.takedown_checks(h["deleted"].sighting_id)
        assert checks[0].outcome is CheckOutcome.UP
        assert checks[-1].outcome is CheckOutcome.DELETED
        assert {c.checked_by for c in checks} == {checks[0].checked_by}
        assert checks[0].checked_by.startswith("daemon:")


async def test_takedown_verify_from_the_command_line(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    reported = await hits_in_three_channels(env)
    h = reported.hits
    env.world.delete_messages(reported.one, [reported.message_id("deleted")])

    def call(*args: str) -> int:
        try:
            main(["--config", str(env.config_path), *args])
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    capsys.readouterr()  # what setting up printed
    code = await asyncio.to_thread(call, "takedown", "verify", str(h["deleted"].id), "--json")
    out, err = capsys.readouterr()
    assert code == 0, err
    [line] = out.splitlines()
    assert json.loads(line)["outcome"] == "deleted"
    code = await asyncio.to_thread(
        call, "takedown", "list", "--status", "removed", "--format", "json"
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    [row] = [json.loads(x) for x in out.splitlines()]
    assert row["hit_id"] == h["deleted"].id
    assert row["hours_to_removal"] is not None
    code = await asyncio.to_thread(call, "takedown", "verify")
    out, _ = capsys.readouterr()
    assert code == 0
    assert "3 message(s) checked" in out  # the others were never checked: due
