"""What the Telegram side keeps: the allow-list, per-channel cursors, flood waits, sessions.

Sessions hold Telethon's auth key, a secret: it is stored, loaded and cleared here, and never
written to the audit log (whose details carry only names, states and reasons).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.domain import (
    ChannelRef,
    ChannelState,
    RefKind,
    SessionData,
    TelegramAccount,
    WatchedChannel,
)
from monitor.errors import InputError, NotFound
from monitor.store._base import CHUNK, StoreBase, chunks
from monitor.store.leases import LeaseToken, check_lease
from monitor.store.models import (
    SESSION_STATES,
    Base,
    ChannelRow,
    FloodWaitRow,
    TelegramEntityRow,
    TelegramSessionRow,
    TelegramUpdateStateRow,
    WatchedChannelRow,
    utcnow,
)
from monitor.store.results import FloodWaitSummary
from monitor.telegram.refs import parse_ref

ORIGINS = ("config", "cli")
# Who changes an entry's state in the audit log: the daemon, not a person.
SYSTEM_ACTOR = "monitor"

EntityRow = tuple[int, int, str | None, str | None, str | None, int | None]


class TelegramMixin(StoreBase):
    # --- the allow-list ---------------------------------------------------------------------

    async def add_watched_channel(
        self, ref: ChannelRef, *, origin: str, actor: str
    ) -> tuple[WatchedChannel, bool]:
        """Put ``ref`` on the allow-list (state pending until the daemon resolves it).

        Idempotent on the normalised ref. True when this created the entry or re-enabled a
        removed one (which then takes ``origin``); an entry already enabled is left as it is.
        """
        _check_origin(origin)
        async with self._tx(write=True) as conn:
            watched_id, changed = await self._add_watched(conn, ref, origin, actor, utcnow())
            return await self._watched(conn, watched_id), changed

    async def remove_watched_channel(self, ref: str, *, actor: str) -> WatchedChannel:
        """Take an entry off the allow-list (disabled; its history stays).

        ``ref`` is matched as a reference (any form ``parse_ref`` reads, e.g. ``t.me/name``),
        then as the @username or the Telegram id of a resolved entry, then as its title (any
        case). An entry already removed is returned as it is. ``NotFound`` if nothing matches.
        """
        async with self._tx(write=True) as conn:
            row = await self._find_watched(conn, ref)
            if row.enabled:
                await conn.execute(
                    update(WatchedChannelRow)
                    .where(WatchedChannelRow.id == row.id)
                    .values(enabled=False, updated_at=utcnow())
                )
                await self._audit(
                    conn,
                    actor,
                    "channel.remove",
                    row.ref,
                    {"origin": row.origin, "state": row.state, "telegram_id": row.telegram_id},
                )
            return await self._watched(conn, row.id)

    async def list_watched_channels(
        self, *, include_disabled: bool = False
    ) -> list[WatchedChannel]:
        """The allow-list in the order entries were added, with each channel's cursor."""
        stmt = _watched_query().order_by(WatchedChannelRow.id)
        if not include_disabled:
            stmt = stmt.where(WatchedChannelRow.enabled.is_(True))
        async with self._tx(write=False) as conn:
            return [_watched_channel(row._mapping) for row in await conn.execute(stmt)]

    async def get_watched_channel(self, watched_id: int) -> WatchedChannel:
        async with self._tx(write=False) as conn:
            return await self._watched(conn, watched_id)

    async def sync_config_channels(
        self, refs: Sequence[ChannelRef], *, actor: str
    ) -> tuple[list[WatchedChannel], list[WatchedChannel]]:
        """Make the allow-list agree with the config file's ``telegram.channels``.

        Adds (or re-enables) every ref, and disables the entries that came from the config and
        are no longer in it. Entries added with ``monitor channels add`` are left alone. Returns
        (added or re-enabled, disabled); one transaction, audited.
        """
        now = utcnow()
        wanted = {str(ref): ref for ref in refs}
        async with self._tx(write=True) as conn:
            added: list[int] = []
            for ref in wanted.values():
                watched_id, changed = await self._add_watched(conn, ref, "config", actor, now)
                if changed:
                    added.append(watched_id)
            stale = (
                await conn.execute(
                    select(WatchedChannelRow.id, WatchedChannelRow.ref)
                    .where(
                        WatchedChannelRow.origin == "config",
                        WatchedChannelRow.enabled.is_(True),
                    )
                    .order_by(WatchedChannelRow.id)
                )
            ).all()
            disabled: list[int] = []
            for row in stale:
                if row.ref in wanted:
                    continue
                await conn.execute(
                    update(WatchedChannelRow)
                    .where(WatchedChannelRow.id == row.id)
                    .values(enabled=False, updated_at=now)
                )
                await self._audit(
                    conn, actor, "channel.remove", row.ref, {"reason": "no longer in the config"}
                )
                disabled.append(row.id)
            return (
                [await self._watched(conn, i) for i in added],
                [await self._watched(conn, i) for i in disabled],
            )

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
        """Record what resolving or joining an entry found. ``detail`` replaces the old one.

        ``telegram_id`` (Bot-API form) marks the entry resolved; ``joined`` marks it joined.
        ``username`` and ``title``, when given, replace the known ones, here and on the
        channel's row. A change of state is audited (``channel.state``) with the detail.
        """
        now = utcnow()
        async with self._tx(write=True) as conn:
            row = (
                await conn.execute(
                    select(WatchedChannelRow).where(WatchedChannelRow.id == watched_id)
                )
            ).first()
            if row is None:
                raise NotFound(f"no allow-list entry with id {watched_id}")
            values: dict[str, Any] = {
                "state": state.value,
                "state_detail": detail,
                "updated_at": now,
            }
            if telegram_id is not None:
                values.update(telegram_id=telegram_id, resolved_at=now)
            if username is not None:
                values["username"] = username
            if title is not None:
                values["title"] = title
            if joined:
                values["joined_at"] = now
            await conn.execute(
                update(WatchedChannelRow).where(WatchedChannelRow.id == watched_id).values(values)
            )
            chat_id = telegram_id if telegram_id is not None else row.telegram_id
            if chat_id is not None:
                await self._ensure_channel(conn, chat_id, now, username=username, title=title)
            if row.state != state.value:
                await self._audit(
                    conn,
                    SYSTEM_ACTOR,
                    "channel.state",
                    row.ref,
                    {
                        "old": row.state,
                        "new": state.value,
                        "detail": detail,
                        "telegram_id": chat_id,
                    },
                )
            return await self._watched(conn, watched_id)

    async def _add_watched(
        self, conn: AsyncConnection, ref: ChannelRef, origin: str, actor: str, now: datetime
    ) -> tuple[int, bool]:
        key = str(ref)
        watched_id: int | None = (
            await conn.execute(
                self._insert_or_ignore(WatchedChannelRow, "ref")
                .values(
                    ref=key,
                    ref_kind=ref.kind.value,
                    origin=origin,
                    enabled=True,
                    state=ChannelState.PENDING.value,
                    added_by=actor,
                    added_at=now,
                    updated_at=now,
                )
                .returning(WatchedChannelRow.id)
            )
        ).scalar_one_or_none()
        if watched_id is not None:
            await self._audit(
                conn, actor, "channel.add", key, {"origin": origin, "kind": ref.kind.value}
            )
            return watched_id, True
        row = (
            await conn.execute(
                select(WatchedChannelRow.id, WatchedChannelRow.enabled).where(
                    WatchedChannelRow.ref == key
                )
            )
        ).one()
        if row.enabled:
            return int(row.id), False
        reenabled = await conn.execute(
            update(WatchedChannelRow)
            .where(WatchedChannelRow.id == row.id, WatchedChannelRow.enabled.is_(False))
            .values(enabled=True, origin=origin, added_by=actor, updated_at=now)
        )
        if not reenabled.rowcount:  # re-enabled by someone else meanwhile
            return int(row.id), False
        await self._audit(
            conn,
            actor,
            "channel.add",
            key,
            {"origin": origin, "kind": ref.kind.value, "reenabled": True},
        )
        return int(row.id), True

    async def chat_ids_for(self, text: str) -> list[int]:
        """The Telegram chat ids (Bot-API form) ``text`` names: an id, @username, t.me link,
        an allow-list reference, or an exact title (case-insensitive) of a channel seen or
        watched. ``NotFound`` if none; a title shared by several channels names them all."""
        wanted = text.strip()
        try:
            parsed: ChannelRef | None = parse_ref(wanted)
        except InputError:
            parsed = None
        if parsed is not None and parsed.kind is RefKind.ID:
            return [int(parsed.value)]
        seen = [func.lower(ChannelRow.title) == wanted.lower()]
        watched = [func.lower(WatchedChannelRow.title) == wanted.lower()]
        if parsed is not None:
            watched.append(WatchedChannelRow.ref == str(parsed))
            if parsed.kind is RefKind.USERNAME:
                seen.append(func.lower(ChannelRow.username) == parsed.value)
                watched.append(func.lower(WatchedChannelRow.username) == parsed.value)
        async with self._tx(write=False) as conn:
            found = set(
                (await conn.execute(select(ChannelRow.telegram_id).where(or_(*seen)))).scalars()
            )
            found.update(
                i
                for i in (
                    await conn.execute(select(WatchedChannelRow.telegram_id).where(or_(*watched)))
                ).scalars()
                if i is not None
            )
        if not found:
            raise NotFound(f"no channel seen or watched matches {wanted!r}")
        return sorted(found)

    async def _find_watched(self, conn: AsyncConnection, text: str) -> Any:
        """The entry ``text`` names (enabled entries first); ``NotFound`` naming it otherwise."""
        wanted = text.strip()
        try:
            parsed: ChannelRef | None = parse_ref(wanted)
        except InputError:
            parsed = None
        conditions = []
        if parsed is not None:
            conditions.append(WatchedChannelRow.ref == str(parsed))
            if parsed.kind is RefKind.USERNAME:
                conditions.append(func.lower(WatchedChannelRow.username) == parsed.value)
            elif parsed.kind is RefKind.ID:
                conditions.append(WatchedChannelRow.telegram_id == int(parsed.value))
        if wanted:
            conditions.append(func.lower(WatchedChannelRow.title) == wanted.lower())
        rows = []
        if conditions:
            stmt = select(WatchedChannelRow).where(or_(*conditions)).order_by(WatchedChannelRow.id)
            rows = list(await conn.execute(stmt))
        if not rows:
            raise NotFound(f"no allow-list entry matches {wanted!r}")
        # Best the exact reference, if enabled; then the one enabled entry that matches; then a
        # removed entry (removing it again changes nothing).
        exact = [r for r in rows if parsed is not None and r.ref == str(parsed)]
        if exact and exact[0].enabled:
            return exact[0]
        enabled = [r for r in rows if r.enabled]
        if len(enabled) > 1:
            raise InputError(
                f"{wanted!r} matches several allow-list entries "
                f"({', '.join(r.ref for r in enabled)}); name one by its reference"
            )
        if enabled:
            return enabled[0]
        return exact[0] if exact else rows[-1]

    async def _watched(self, conn: AsyncConnection, watched_id: int) -> WatchedChannel:
        row = (
            await conn.execute(_watched_query().where(WatchedChannelRow.id == watched_id))
        ).first()
        if row is None:
            raise NotFound(f"no allow-list entry with id {watched_id}")
        return _watched_channel(row._mapping)

    # --- cursors ----------------------------------------------------------------------------

    async def get_cursor(self, chat_id: int) -> int:
        """The last message id processed in order in this chat (Bot-API id); 0 if none."""
        async with self._tx(write=False) as conn:
            cursor = (
                await conn.execute(
                    select(ChannelRow.cursor).where(ChannelRow.telegram_id == chat_id)
                )
            ).scalar()
        return int(cursor or 0)

    async def advance_cursor(
        self,
        chat_id: int,
        message_id: int,
        *,
        last_message_at: datetime | None = None,
        lease: LeaseToken | None = None,
    ) -> int:
        """Move the chat's cursor forward to ``message_id``; never back, also when several
        processes advance it at once. Returns the cursor as stored afterwards. With ``lease``,
        only while that lease is the chat's current one (``LeaseLost`` otherwise)."""
        now = utcnow()
        async with self._tx(write=True) as conn:
            if lease is not None:
                if lease.chat_id != chat_id:
                    raise InputError(f"the lease of chat {lease.chat_id} given for chat {chat_id}")
                await check_lease(conn, lease)
            await self._ensure_channel(conn, chat_id, now)
            await conn.execute(
                update(ChannelRow)
                .where(ChannelRow.telegram_id == chat_id, ChannelRow.cursor < message_id)
                .values(cursor=message_id, updated_at=now)
            )
            if last_message_at is not None:
                await conn.execute(
                    update(ChannelRow)
                    .where(
                        ChannelRow.telegram_id == chat_id,
                        or_(
                            ChannelRow.last_message_at.is_(None),
                            ChannelRow.last_message_at < last_message_at,
                        ),
                    )
                    .values(last_message_at=last_message_at)
                )
            cursor = (
                await conn.execute(
                    select(ChannelRow.cursor).where(ChannelRow.telegram_id == chat_id)
                )
            ).scalar_one()
        return int(cursor)

    async def mark_reconciled(self, chat_id: int, *, at: datetime | None = None) -> None:
        """Note that a reconciler pass over this chat finished (at ``at``, default now)."""
        now = utcnow()
        async with self._tx(write=True) as conn:
            await self._ensure_channel(conn, chat_id, now)
            await conn.execute(
                update(ChannelRow)
                .where(ChannelRow.telegram_id == chat_id)
                .values(last_reconciled_at=at or now)
            )

    async def _ensure_channel(
        self,
        conn: AsyncConnection,
        chat_id: int,
        now: datetime,
        *,
        username: str | None = None,
        title: str | None = None,
    ) -> None:
        """The ``channels`` row of ``chat_id``, created if missing; username and title, when
        given, replace the known ones."""
        inserted = (
            await conn.execute(
                self._insert_or_ignore(ChannelRow, "telegram_id")
                .values(
                    telegram_id=chat_id,
                    username=username,
                    title=title,
                    cursor=0,
                    created_at=now,
                    updated_at=now,
                )
                .returning(ChannelRow.id)
            )
        ).scalar_one_or_none()
        changes: dict[str, Any] = {}
        if username is not None:
            changes["username"] = username
        if title is not None:
            changes["title"] = title
        if inserted is None and changes:
            await conn.execute(
                update(ChannelRow)
                .where(ChannelRow.telegram_id == chat_id)
                .values(updated_at=now, **changes)
            )

    # --- flood waits ------------------------------------------------------------------------

    async def record_flood_wait(
        self,
        session: str,
        method: str,
        seconds: int,
        *,
        chat_id: int | None = None,
        at: datetime | None = None,
    ) -> None:
        """Keep one FLOOD_WAIT Telegram imposed (``method``: the request's name)."""
        async with self._tx(write=True) as conn:
            await conn.execute(
                insert(FloodWaitRow).values(
                    at=at or utcnow(),
                    session=session,
                    method=method[:100],
                    seconds=seconds,
                    chat_id=chat_id,
                )
            )

    async def flood_wait_summary(self, *, since: datetime | None = None) -> list[FloodWaitSummary]:
        """Flood waits per chat (``chat_id`` None: not tied to a chat), most waited first."""
        total = func.sum(FloodWaitRow.seconds)
        stmt = select(
            FloodWaitRow.chat_id,
            func.count(FloodWaitRow.id).label("n"),
            total.label("total"),
            func.max(FloodWaitRow.seconds).label("longest"),
            func.max(FloodWaitRow.at).label("last_at"),
        ).group_by(FloodWaitRow.chat_id)
        if since is not None:
            stmt = stmt.where(FloodWaitRow.at >= since)
        stmt = stmt.order_by(total.desc(), FloodWaitRow.chat_id)
        async with self._tx(write=False) as conn:
            return [
                FloodWaitSummary(
                    chat_id=row.chat_id,
                    count=int(row.n),
                    total_seconds=int(row.total),
                    longest_seconds=int(row.longest),
                    last_at=row.last_at,
                )
                for row in await conn.execute(stmt)
            ]

    # --- sessions ---------------------------------------------------------------------------

    async def load_session(self, name: str) -> SessionData | None:
        """Everything Telethon needs to resume session ``name``; None if it has no auth key."""
        async with self._tx(write=False) as conn:
            row = (
                await conn.execute(
                    select(TelegramSessionRow).where(TelegramSessionRow.name == name)
                )
            ).first()
            if row is None or row.auth_key is None:
                return None
            states = {
                int(s.entity_id): (int(s.pts), int(s.qts), int(s.date), int(s.seq))
                for s in await conn.execute(
                    select(TelegramUpdateStateRow).where(TelegramUpdateStateRow.session == name)
                )
            }
            entities = tuple(
                (int(e.id), int(e.hash), e.username, e.phone, e.name, e.date)
                for e in await conn.execute(
                    select(
                        TelegramEntityRow.id,
                        TelegramEntityRow.hash,
                        TelegramEntityRow.username,
                        TelegramEntityRow.phone,
                        TelegramEntityRow.name,
                        TelegramEntityRow.date,
                    )
                    .where(TelegramEntityRow.session == name)
                    .order_by(TelegramEntityRow.id)
                )
            )
        return SessionData(
            name=name,
            dc_id=int(row.dc_id or 0),
            server_address=row.server_address or "",
            port=int(row.port or 0),
            auth_key=bytes(row.auth_key),
            takeout_id=row.takeout_id,
            update_states=states,
            entities=entities,
            account=_account(row._mapping),
        )

    async def save_session_auth(
        self,
        name: str,
        *,
        dc_id: int,
        server_address: str,
        port: int,
        auth_key: bytes | None,
        takeout_id: int | None,
    ) -> None:
        """Store the data centre and auth key of session ``name`` (created if new).

        A new auth key makes the session ``active``; saving the key it already has keeps the
        state (a session marked revoked stays revoked when Telethon saves it once more).
        """
        now = utcnow()
        async with self._tx(write=True) as conn:
            await self._ensure_session(conn, name, now)
            current = (
                await conn.execute(
                    select(TelegramSessionRow.auth_key).where(TelegramSessionRow.name == name)
                )
            ).scalar()
            values: dict[str, Any] = {
                "dc_id": dc_id,
                "server_address": server_address,
                "port": port,
                "auth_key": auth_key,
                "takeout_id": takeout_id,
                "updated_at": now,
            }
            if auth_key is not None and (current is None or bytes(current) != auth_key):
                values.update(state="active", state_reason=None)
            await conn.execute(
                update(TelegramSessionRow).where(TelegramSessionRow.name == name).values(values)
            )

    async def save_update_states(
        self, name: str, states: Mapping[int, tuple[int, int, int, int]]
    ) -> None:
        """Store Telethon's update states: entity id -> (pts, qts, date, seq)."""
        if not states:
            return
        rows = [
            {
                "session": name,
                "entity_id": entity_id,
                "pts": pts,
                "qts": qts,
                "date": date,
                "seq": seq,
            }
            for entity_id, (pts, qts, date, seq) in sorted(states.items())
        ]
        async with self._tx(write=True) as conn:
            await self._ensure_session(conn, name, utcnow())
            await self._upsert(
                conn,
                TelegramUpdateStateRow,
                ("session", "entity_id"),
                rows,
                ("pts", "qts", "date", "seq"),
            )

    async def save_entities(self, name: str, rows: Sequence[EntityRow]) -> None:
        """Store Telethon's entity cache rows: (id, access hash, username, phone, name, date).

        Rows replace the stored ones with the same id; the last of duplicates wins.
        """
        if not rows:
            return
        latest: dict[int, EntityRow] = {}
        for row in rows:
            latest[row[0]] = row
        values = [
            {
                "session": name,
                "id": entity_id,
                "hash": access_hash,
                "username": username,
                "phone": phone,
                "name": display,
                "date": date,
            }
            for entity_id, access_hash, username, phone, display, date in (
                latest[k] for k in sorted(latest)
            )
        ]
        async with self._tx(write=True) as conn:
            await self._ensure_session(conn, name, utcnow())
            await self._upsert(
                conn,
                TelegramEntityRow,
                ("session", "id"),
                values,
                ("hash", "username", "phone", "name", "date"),
            )

    async def set_session_account(
        self,
        name: str,
        *,
        user_id: int,
        is_bot: bool,
        username: str | None,
        display_name: str | None,
    ) -> None:
        """Note who session ``name`` is signed in as."""
        now = utcnow()
        async with self._tx(write=True) as conn:
            await self._ensure_session(conn, name, now)
            await conn.execute(
                update(TelegramSessionRow)
                .where(TelegramSessionRow.name == name)
                .values(
                    user_id=user_id,
                    is_bot=is_bot,
                    username=username,
                    display_name=display_name,
                    updated_at=now,
                )
            )

    async def get_account(self, name: str) -> TelegramAccount | None:
        """Who session ``name`` is (or was) signed in as, and its state; None if unknown."""
        async with self._tx(write=False) as conn:
            row = (
                await conn.execute(
                    select(TelegramSessionRow).where(TelegramSessionRow.name == name)
                )
            ).first()
        return None if row is None else _account(row._mapping)

    async def set_session_state(
        self, name: str, state: str, *, reason: str | None, actor: str
    ) -> None:
        """Mark session ``name`` active, revoked or logged out (audited as ``session.<state>``)."""
        if state not in SESSION_STATES:
            raise InputError(f"unknown session state {state!r}; known: {', '.join(SESSION_STATES)}")
        now = utcnow()
        async with self._tx(write=True) as conn:
            await self._ensure_session(conn, name, now)
            old = (
                await conn.execute(
                    select(TelegramSessionRow.state).where(TelegramSessionRow.name == name)
                )
            ).scalar_one()
            await conn.execute(
                update(TelegramSessionRow)
                .where(TelegramSessionRow.name == name)
                .values(state=state, state_reason=reason, updated_at=now)
            )
            await self._audit(conn, actor, f"session.{state}", name, {"old": old, "reason": reason})

    async def delete_session(self, name: str, *, actor: str) -> None:
        """Log session ``name`` out: its auth key, update states and entity cache are deleted
        (who it was signed in as is kept), audited as ``session.logout``. Nothing happens for
        a session that was never stored."""
        now = utcnow()
        async with self._tx(write=True) as conn:
            found = (
                await conn.execute(
                    update(TelegramSessionRow)
                    .where(TelegramSessionRow.name == name)
                    .values(
                        auth_key=None,
                        takeout_id=None,
                        state="logged_out",
                        state_reason="logged out",
                        updated_at=now,
                    )
                )
            ).rowcount
            if not found:
                return
            await conn.execute(
                delete(TelegramUpdateStateRow).where(TelegramUpdateStateRow.session == name)
            )
            await conn.execute(delete(TelegramEntityRow).where(TelegramEntityRow.session == name))
            await self._audit(conn, actor, "session.logout", name, {})

    async def _ensure_session(self, conn: AsyncConnection, name: str, now: datetime) -> None:
        await conn.execute(
            self._insert_or_ignore(TelegramSessionRow, "name").values(
                name=name,
                is_bot=False,
                state="logged_out",
                created_at=now,
                updated_at=now,
            )
        )

    async def _upsert(
        self,
        conn: AsyncConnection,
        table: type[Base],
        keys: Sequence[str],
        rows: Sequence[dict[str, Any]],
        columns: Sequence[str],
    ) -> None:
        """``INSERT ... ON CONFLICT (keys) DO UPDATE SET columns``, in chunks of rows."""
        stmt: Insert
        if self.dialect == "postgresql":
            pg = pg_insert(table)
            stmt = pg.on_conflict_do_update(
                index_elements=list(keys), set_={c: pg.excluded[c] for c in columns}
            )
        else:
            lite = sqlite_insert(table)
            stmt = lite.on_conflict_do_update(
                index_elements=list(keys), set_={c: lite.excluded[c] for c in columns}
            )
        # One statement per chunk, executed for many parameter sets (the driver's executemany).
        for chunk in chunks(rows, CHUNK):
            await conn.execute(stmt, list(chunk))


def _check_origin(origin: str) -> None:
    if origin not in ORIGINS:
        raise InputError(f"unknown allow-list origin {origin!r}; known: {', '.join(ORIGINS)}")


def _watched_query() -> Any:
    return select(
        WatchedChannelRow,
        ChannelRow.cursor.label("cursor"),
        ChannelRow.last_message_at.label("last_message_at"),
        ChannelRow.last_reconciled_at.label("last_reconciled_at"),
    ).outerjoin(ChannelRow, ChannelRow.telegram_id == WatchedChannelRow.telegram_id)


def _watched_channel(row: RowMapping) -> WatchedChannel:
    return WatchedChannel(
        id=row["id"],
        ref=row["ref"],
        ref_kind=RefKind(row["ref_kind"]),
        origin=row["origin"],
        enabled=bool(row["enabled"]),
        state=ChannelState(row["state"]),
        state_detail=row["state_detail"],
        telegram_id=row["telegram_id"],
        username=row["username"],
        title=row["title"],
        cursor=int(row["cursor"] or 0),
        last_message_at=row["last_message_at"],
        last_reconciled_at=row["last_reconciled_at"],
        added_by=row["added_by"],
        added_at=row["added_at"],
        resolved_at=row["resolved_at"],
        joined_at=row["joined_at"],
    )


def _account(row: RowMapping) -> TelegramAccount:
    return TelegramAccount(
        session=row["name"],
        state=row["state"],
        state_reason=row["state_reason"],
        user_id=row["user_id"],
        is_bot=bool(row["is_bot"]),
        username=row["username"],
        display_name=row["display_name"],
        dc_id=row["dc_id"],
        server_address=row["server_address"],
        updated_at=row["updated_at"],
    )
