"""Channel leases: which daemon processes which channel when several share one store.

A lease is a row of ``channel_leases``: held while ``owner`` is set and ``expires_at`` lies in
the future. Every take, renewal and release is one conditional statement (compare-and-set on
owner, epoch and expiry) evaluated with the DATABASE's clock (``statement_timestamp()`` on
PostgreSQL, ``strftime('now')`` on SQLite), never a host's: hosts' clocks differ, the database
has one. Two daemons can therefore never both hold a channel: PostgreSQL re-checks the
condition of an UPDATE that waited for another writer's row lock on the row as committed, and
SQLite has one writer at a time.

``epoch`` grows with every new holder and is the fencing token: a cursor moves only for the
holder of the current epoch (:func:`check_lease`, used by ``advance_cursor``), so a daemon that
lost its lease (a long pause, an outage) cannot move a cursor afterwards.

``daemons`` holds each running daemon's heartbeat, renewed with its leases, so that every daemon
knows how many share the channels (:meth:`LeasesMixin.heartbeat`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from monitor.errors import StoreError
from monitor.store._base import IN_CHUNK, StoreBase, chunks
from monitor.store.models import ChannelLeaseRow, DaemonRow

# SQLite keeps timestamps as text in this form (what ``UTCDateTime`` writes), so that times the
# database computes compare correctly, as text, with times written from Python.
SQLITE_TIME = "%Y-%m-%d %H:%M:%f000"


class LeaseLost(StoreError):
    """The lease presented is no longer held: another daemon took the channel over."""


@dataclass(frozen=True, slots=True)
class LeaseToken:
    """What the holder of a channel's lease proves itself with."""

    chat_id: int
    owner: str
    epoch: int


@dataclass(frozen=True, slots=True)
class ChannelLease:
    chat_id: int
    owner: str | None  # the holder, or the last one (None: released or never held)
    epoch: int
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime
    held: bool  # by ``owner``, now (the database's now)


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    owner: str
    session: str
    hostname: str
    pid: int
    started_at: datetime
    renewed_at: datetime
    expires_at: datetime
    alive: bool  # its heartbeat has not expired (the database's now)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What one renewal found: the leases still held (chat id -> epoch) and how many daemons,
    this one included, are alive."""

    leases: dict[int, int]
    live_daemons: int


class LeasesMixin(StoreBase):
    # --- the database's clock ---------------------------------------------------------------

    def _db_now(self, offset: float = 0.0) -> ColumnElement[Any]:
        """The database's current time plus ``offset`` seconds, as an SQL expression."""
        if self.dialect == "postgresql":
            now: ColumnElement[Any] = func.statement_timestamp()
            return now + literal(timedelta(seconds=offset)) if offset else now
        if offset:
            return func.strftime(SQLITE_TIME, "now", f"{offset:+.6f} seconds")
        return func.strftime(SQLITE_TIME, "now")

    # --- daemons ----------------------------------------------------------------------------

    async def heartbeat(
        self, owner: str, *, session: str, hostname: str, pid: int, seconds: float
    ) -> Heartbeat:
        """One transaction: register or renew daemon ``owner`` for ``seconds``, renew every
        lease it still holds for as long, and count the live daemons; then forget those whose
        heartbeat expired. A lease another daemon took over is not among those returned."""
        async with self._tx(write=True) as conn:
            values = {
                "owner": owner,
                "session": session,
                "hostname": hostname,
                "pid": pid,
                "started_at": self._db_now(),
                "renewed_at": self._db_now(),
                "expires_at": self._db_now(seconds),
            }
            renewal = {"renewed_at": self._db_now(), "expires_at": self._db_now(seconds)}
            stmt: Any
            if self.dialect == "postgresql":
                stmt = pg_insert(DaemonRow).values(values)
            else:
                stmt = sqlite_insert(DaemonRow).values(values)
            await conn.execute(stmt.on_conflict_do_update(index_elements=["owner"], set_=renewal))
            rows = await conn.execute(
                update(ChannelLeaseRow)
                .where(ChannelLeaseRow.owner == owner)
                .values(renewal)
                .returning(ChannelLeaseRow.chat_id, ChannelLeaseRow.epoch)
            )
            leases = {int(r.chat_id): int(r.epoch) for r in rows}
            live = (
                await conn.execute(
                    select(func.count())
                    .select_from(DaemonRow)
                    .where(DaemonRow.expires_at > self._db_now())
                )
            ).scalar_one()
        async with self._tx(write=True) as conn:
            await conn.execute(delete(DaemonRow).where(DaemonRow.expires_at <= self._db_now()))
        return Heartbeat(leases, int(live))

    async def list_daemons(self) -> list[DaemonInfo]:
        """Every daemon with a heartbeat row, oldest first."""
        alive = (DaemonRow.expires_at > self._db_now()).label("alive")
        async with self._tx(write=False) as conn:
            rows = await conn.execute(
                select(DaemonRow, alive).order_by(DaemonRow.started_at, DaemonRow.owner)
            )
            return [
                DaemonInfo(
                    owner=r.owner,
                    session=r.session,
                    hostname=r.hostname,
                    pid=int(r.pid),
                    started_at=r.started_at,
                    renewed_at=r.renewed_at,
                    expires_at=r.expires_at,
                    alive=bool(r.alive),
                )
                for r in rows
            ]

    async def retire_daemon(self, owner: str) -> list[int]:
        """Daemon ``owner`` is gone (stopped cleanly, or known dead): every lease it holds is
        released and its heartbeat deleted, in one transaction. Returns the chats released."""
        async with self._tx(write=True) as conn:
            released = await self._release(conn, owner, None)
            await conn.execute(delete(DaemonRow).where(DaemonRow.owner == owner))
        return released

    # --- leases -----------------------------------------------------------------------------

    async def acquire_leases(
        self,
        owner: str,
        chat_ids: Sequence[int],
        seconds: float,
        *,
        limit: int | None = None,
        free_for: float = 0.0,
    ) -> dict[int, int]:
        """Take, in the order given, up to ``limit`` of ``chat_ids`` whose lease is free (never
        held, released or expired; with ``free_for``, at least that many seconds ago), for
        ``seconds``. Each take is a new epoch, also of a lease ``owner`` held before and let
        expire. Returns chat id -> the new epoch."""
        wanted = list(dict.fromkeys(chat_ids))
        taken: dict[int, int] = {}
        if not wanted or (limit is not None and limit <= 0):
            return taken
        # Released and never-held leases count as free from when that happened.
        free = ChannelLeaseRow.expires_at <= self._db_now(-free_for)
        if free_for <= 0:
            free = or_(ChannelLeaseRow.owner.is_(None), free)
        # A row for every chat first (free since now), so that taking is one UPDATE. Rows in
        # ascending order, and each take its own transaction: two daemons taking at once never
        # wait for each other's rows in opposite orders (a deadlock on PostgreSQL).
        async with self._tx(write=True) as conn:
            for chunk in chunks(sorted(wanted), IN_CHUNK):
                now = self._db_now()
                await conn.execute(
                    self._insert_or_ignore(ChannelLeaseRow, "chat_id").values(
                        [
                            {
                                "chat_id": chat_id,
                                "owner": None,
                                "epoch": 0,
                                "acquired_at": now,
                                "renewed_at": now,
                                "expires_at": now,
                            }
                            for chat_id in chunk
                        ]
                    )
                )
        pending = wanted
        while pending and (limit is None or len(taken) < limit):
            size = IN_CHUNK if limit is None else min(IN_CHUNK, limit - len(taken))
            batch, pending = pending[:size], pending[size:]
            async with self._tx(write=True) as conn:
                rows = await conn.execute(
                    update(ChannelLeaseRow)
                    .where(ChannelLeaseRow.chat_id.in_(batch), free)
                    .values(
                        owner=owner,
                        epoch=ChannelLeaseRow.epoch + 1,
                        acquired_at=self._db_now(),
                        renewed_at=self._db_now(),
                        expires_at=self._db_now(seconds),
                    )
                    .returning(ChannelLeaseRow.chat_id, ChannelLeaseRow.epoch)
                )
                taken.update({int(r.chat_id): int(r.epoch) for r in rows})
        return taken

    async def renew_leases(
        self, owner: str, tokens: Iterable[LeaseToken], seconds: float
    ) -> dict[int, int]:
        """Extend the leases ``owner`` holds at these epochs by ``seconds`` from now. Returns
        the chats still held (chat id -> epoch); a lease taken over in between is not renewed.
        A lease that expired but that nobody took meanwhile is renewed: nobody else held it."""
        held = {t.chat_id: t.epoch for t in tokens if t.owner == owner}
        renewed: dict[int, int] = {}
        if not held:
            return renewed
        async with self._tx(write=True) as conn:
            for chunk in chunks(sorted(held), IN_CHUNK):
                rows = await conn.execute(
                    update(ChannelLeaseRow)
                    .where(ChannelLeaseRow.chat_id.in_(chunk), ChannelLeaseRow.owner == owner)
                    .values(renewed_at=self._db_now(), expires_at=self._db_now(seconds))
                    .returning(ChannelLeaseRow.chat_id, ChannelLeaseRow.epoch)
                )
                renewed.update(
                    {int(r.chat_id): int(r.epoch) for r in rows if held[r.chat_id] == r.epoch}
                )
        return renewed

    async def release_leases(self, owner: str, chat_ids: Iterable[int]) -> list[int]:
        """Give up these leases if ``owner`` holds them: free at once for another daemon.
        Returns the chats released."""
        async with self._tx(write=True) as conn:
            return await self._release(conn, owner, list(chat_ids))

    async def _release(
        self, conn: AsyncConnection, owner: str, chat_ids: list[int] | None
    ) -> list[int]:
        released: list[int] = []
        groups = [None] if chat_ids is None else list(chunks(chat_ids, IN_CHUNK))
        for chunk in groups:
            stmt = update(ChannelLeaseRow).where(ChannelLeaseRow.owner == owner)
            if chunk is not None:
                stmt = stmt.where(ChannelLeaseRow.chat_id.in_(chunk))
            rows = await conn.execute(
                stmt.values(owner=None, expires_at=self._db_now()).returning(
                    ChannelLeaseRow.chat_id
                )
            )
            released.extend(int(r.chat_id) for r in rows)
        return sorted(released)

    async def list_leases(self) -> list[ChannelLease]:
        """Every channel's lease, by chat id, with whether it is held now."""
        held = (
            ChannelLeaseRow.owner.is_not(None) & (ChannelLeaseRow.expires_at > self._db_now())
        ).label("held")
        async with self._tx(write=False) as conn:
            rows = await conn.execute(
                select(ChannelLeaseRow, held).order_by(ChannelLeaseRow.chat_id)
            )
            return [
                ChannelLease(
                    chat_id=int(r.chat_id),
                    owner=r.owner,
                    epoch=int(r.epoch),
                    acquired_at=r.acquired_at,
                    renewed_at=r.renewed_at,
                    expires_at=r.expires_at,
                    held=bool(r.held),
                )
                for r in rows
            ]


async def check_lease(conn: AsyncConnection, token: LeaseToken) -> None:
    """Inside a writing transaction: ``LeaseLost`` unless ``token`` is the chat's current lease.
    On PostgreSQL the lease row is share-locked until the transaction ends, so a takeover waits
    for what this transaction writes under the lease (SQLite has one writer at a time)."""
    found = (
        await conn.execute(
            select(ChannelLeaseRow.chat_id)
            .where(
                ChannelLeaseRow.chat_id == token.chat_id,
                ChannelLeaseRow.owner == token.owner,
                ChannelLeaseRow.epoch == token.epoch,
            )
            .with_for_update(read=True)
        )
    ).first()
    if found is None:
        raise LeaseLost(
            f"the lease of chat {token.chat_id} (epoch {token.epoch}) is no longer held by "
            f"{token.owner}"
        )
