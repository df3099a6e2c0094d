"""The daemon's side of channel leases (``monitor.telegram.leases``) on a real store (SQLite and
PostgreSQL): fair shares, giving up the excess, taking over, keeping what nobody else takes,
retiring a killed predecessor, losing a lease, the cursor fence, and the clean release."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from monitor.config import TelegramSettings
from monitor.store import Store
from monitor.telegram.leases import ChannelLeases, FencedCursors
from monitor.telegram.sources import Chat
from tests.integration.store.test_leases import expire, expire_daemons

CHATS = [-1001000000004, -1001000000003, -1001000000002, -1001000000001]  # ascending
SETTINGS = TelegramSettings(session="alpha", lease_seconds=60.0)


@dataclass
class Allowed:
    """The part of the allow-list leases read: the chats this account can read."""

    ids: list[int]
    chats: list[Chat] = field(init=False)

    def __post_init__(self) -> None:
        self.set(self.ids)

    def set(self, ids: list[int]) -> None:
        self.chats = [Chat(i, None, None, None, n) for n, i in enumerate(ids, 1)]


def daemon(
    store: Store, session: str, chats: list[int] = CHATS, *, pid: int = 1000, **kw: Any
) -> tuple[ChannelLeases, Allowed, list[list[int]]]:
    allow = Allowed(list(chats))
    acquired: list[list[int]] = []
    leases = ChannelLeases(
        store,
        TelegramSettings(session=session, lease_seconds=60.0),
        allow,  # type: ignore[arg-type]
        on_acquired=acquired.append,
        hostname=f"host-{session}",
        pid=pid,
        **kw,
    )
    return leases, allow, acquired


async def held_by(store: Store) -> dict[int, str]:
    return {
        lease.chat_id: (lease.owner or "").split("@")[0]
        for lease in await store.list_leases()
        if lease.held
    }


async def test_until_started_every_channel_is_ours(store: Store) -> None:
    leases, _, _ = daemon(store, "alpha")
    assert leases.holds(CHATS[0])
    assert leases.token(CHATS[0]) is None
    cursors = FencedCursors(store, leases)
    assert await cursors.advance_cursor(CHATS[0], 5) == 5  # unfenced: one-off commands
    await leases.release_all()
    assert await store.list_leases() == []


async def test_one_daemon_takes_everything_and_releases_it_on_stop(store: Store) -> None:
    alpha, _, acquired = daemon(store, "alpha")
    await alpha.start()
    assert alpha.held == CHATS
    assert acquired == [CHATS]
    assert all(alpha.holds(c) for c in CHATS)
    assert not alpha.holds(-1009999999999)
    assert alpha.token(CHATS[0]) is not None
    await alpha.release_all()
    assert await held_by(store) == {}
    assert await store.list_daemons() == []
    assert not alpha.holds(CHATS[0])


async def test_a_second_daemon_gets_its_share_and_the_first_gives_it_up(store: Store) -> None:
    committed: list[str] = []

    async def commit() -> None:
        committed.append("commit")

    alpha, _, _ = daemon(store, "alpha", before_release=commit)
    beta, _, beta_acquired = daemon(store, "beta")
    await alpha.start()
    await beta.start()  # two alive now, but alpha holds everything
    assert alpha.held == CHATS
    assert beta.held == []
    await alpha.tick()  # two alive: alpha keeps its share, gives up the rest
    assert len(alpha.held) == 2
    assert committed == ["commit"]  # cursors stored before the leases went
    await beta.tick()
    assert sorted(alpha.held + beta.held) == CHATS
    assert len(beta.held) == 2
    assert beta_acquired == [beta.held]
    owners = await held_by(store)
    assert sorted(owners.values()) == ["alpha", "alpha", "beta", "beta"]
    # Balanced: further renewals change nothing.
    await alpha.tick()
    await beta.tick()
    assert await held_by(store) == owners


async def test_a_dead_daemons_channels_are_taken_over(store: Store) -> None:
    alpha, _, _ = daemon(store, "alpha")
    beta, _, beta_acquired = daemon(store, "beta")
    await alpha.start()
    await beta.start()
    await alpha.tick()
    await beta.tick()
    alphas = alpha.held
    tokens = {c: alpha.token(c) for c in alphas}
    # alpha stops renewing (killed); its leases and heartbeat run out.
    await expire(store)
    await expire_daemons(store)
    await beta.tick()
    assert beta.held == CHATS
    assert beta_acquired[-1] == alphas
    for chat in alphas:
        new = beta.token(chat)
        old = tokens[chat]
        assert new is not None
        assert old is not None
        assert new.epoch == old.epoch + 1
    # alpha wakes from a pause still believing in its leases: a cursor move is fenced off...
    assert alpha.holds(alphas[0])
    assert await FencedCursors(store, alpha).advance_cursor(alphas[0], 50) == 0
    assert not alpha.holds(alphas[0])  # ...and it learnt that it lost the lease
    assert await FencedCursors(store, beta).advance_cursor(alphas[0], 50) == 50
    # Its next renewal finds the other leases gone too.
    await alpha.tick(renew_only=True)
    assert alpha.held == []
    assert not any(alpha.holds(c) for c in CHATS)


async def test_what_no_other_daemon_can_read_is_taken_beyond_the_share(store: Store) -> None:
    alpha, _, _ = daemon(store, "alpha")
    beta, _, _ = daemon(store, "beta", chats=CHATS[:1])  # beta can read one channel only
    await alpha.start()
    await beta.start()
    await alpha.tick()  # two alive: share 2, gives two up
    await beta.tick()  # beta takes its one (if free), within its share of 1
    assert len(alpha.held) + len(beta.held) < len(CHATS)
    # Nobody took the rest for a whole lease period: alpha takes them beyond its share...
    await expire(store)
    await beta.tick()
    await alpha.tick()
    assert sorted(alpha.held + beta.held) == CHATS
    beyond = alpha.held
    # ...and keeps them (no giving up and taking back in turn).
    await alpha.tick()
    await beta.tick()
    assert alpha.held == beyond


async def test_channels_no_longer_readable_are_released(store: Store) -> None:
    alpha, allow, _ = daemon(store, "alpha")
    await alpha.start()
    allow.set(CHATS[:2])  # two channels removed from the allow-list or lost
    await alpha.tick()
    assert alpha.held == CHATS[:2]
    assert sorted(await held_by(store)) == sorted(CHATS[:2])


async def test_a_restart_retires_the_killed_predecessor_at_once(store: Store) -> None:
    old, _, _ = daemon(store, "alpha", pid=_dead_pid())
    await old.start()
    new, _, _ = daemon(store, "alpha", pid=os.getpid())
    await new.start()
    assert new.held == CHATS  # not waiting for the old leases to run out
    assert [d.owner for d in await store.list_daemons()] == [new.owner]


async def test_a_restart_leaves_running_daemons_alone(store: Store) -> None:
    # The same session on another host, and on this host in a process that still runs.
    elsewhere, _, _ = daemon(store, "alpha", chats=CHATS[:2], pid=_dead_pid())
    elsewhere.hostname = "host-elsewhere"
    running, _, _ = daemon(store, "alpha", chats=CHATS[2:], pid=os.getppid())
    await elsewhere.start()
    await running.start()
    theirs = {c: elsewhere.owner for c in elsewhere.held} | {c: running.owner for c in running.held}
    new, _, _ = daemon(store, "alpha", pid=os.getpid())
    await new.start()
    owners = {lease.chat_id: lease.owner for lease in await store.list_leases() if lease.held}
    assert {c: owners[c] for c in theirs} == theirs
    daemons = {d.owner for d in await store.list_daemons()}
    assert daemons == {elsewhere.owner, running.owner, new.owner}


def _dead_pid() -> int:
    """A process id with no process (a child that has exited and been reaped)."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid
