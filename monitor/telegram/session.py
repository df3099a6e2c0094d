"""A Telethon session kept in the monitor's SQL store.

``StoreSession`` holds the auth key, the DC and server, the takeout id, the entity cache
(ids, access hashes, usernames) and the update state (account and per-channel pts) in memory,
as Telethon's ``MemorySession`` does, and writes what changed to the store, so that the daemon
restarts signed in, resolves known channels without asking Telegram, and catches up from the
pts it had (mautrix's ``PgSession`` is the model).

Telethon calls every session method synchronously (and warns about async sessions), so:

- changes are only marked dirty; ``await session.flush()`` writes them (entities in one batch,
  only rows that changed; update states only when pts/qts/seq or the account date changed);
- ``save()`` (Telethon calls it after a key exchange, a DC switch, and from its keep-alive loop
  every minute), ``close()`` (on disconnect) and setting ``auth_key`` or ``takeout_id`` schedule a
  flush on the running loop. A failed background flush is logged (never with the key) and its
  data stays dirty for the next flush; ``flush()`` raises what it cannot write;
- ``delete()`` (Telethon's ``log_out()``) forgets the session here and schedules the deletion of
  its rows; ``await session.destroy(actor=...)`` deletes them and waits.

Two protections: an empty account state (pts 0, what Telethon saves when it never learned the
state, e.g. a client that is not signed in) never replaces a known one; and a session opened with
``persist_updates=False`` (one-shot commands that may run beside the daemon) never writes update
state at all, so it cannot move the daemon's pts.

The auth key is a secret: it is never logged, and ``repr()`` only says whether there is one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from telethon import utils as tg_utils
from telethon.crypto import AuthKey
from telethon.sessions import MemorySession
from telethon.sessions.memory import _SentFileType
from telethon.tl import types as tg_types

from monitor.domain import SessionData, TelegramAccount
from monitor.errors import MonitorError, StoreError
from monitor.logs import get_logger

log = get_logger(__name__)

EntityRow = tuple[int, int, str | None, str | None, str | None, int | None]
StateRow = tuple[int, int, int, int]  # pts, qts, date (unix seconds), seq
NO_PTS = 0  # Telethon's NO_SEQ: "no state known"
ACCOUNT = 0  # entity id of the account-wide update state

# Telethon's own bookkeeping row: the self user saved as InputPeerUser(0, access_hash=<own id>).
SELF_ENTITY_ID = 0


class SessionStore(Protocol):
    """What ``StoreSession`` needs of the store (``monitor.store.Store`` provides it)."""

    async def load_session(self, name: str) -> SessionData | None: ...

    async def save_session_auth(
        self,
        name: str,
        *,
        dc_id: int,
        server_address: str,
        port: int,
        auth_key: bytes | None,
        takeout_id: int | None,
    ) -> None: ...

    async def save_update_states(
        self, name: str, states: Mapping[int, tuple[int, int, int, int]]
    ) -> None: ...

    async def save_entities(self, name: str, rows: Sequence[EntityRow]) -> None: ...

    async def set_session_account(
        self,
        name: str,
        *,
        user_id: int,
        is_bot: bool,
        username: str | None,
        display_name: str | None,
    ) -> None: ...

    async def get_account(self, name: str) -> TelegramAccount | None: ...

    async def set_session_state(
        self, name: str, state: str, *, reason: str | None, actor: str
    ) -> None: ...

    async def delete_session(self, name: str, *, actor: str) -> None: ...


_AuthRow = tuple[int, str, int, bytes | None, int | None]
# Entity values kept per id: (access hash, username, phone, name, date).
_Entity = tuple[int, str | None, str | None, str | None, int | None]


class StoreSession(MemorySession):  # type: ignore[misc]  # telethon is untyped
    """A Telethon session whose state lives in the SQL store. Build it with ``load``."""

    def __init__(
        self,
        store: SessionStore,
        name: str,
        data: SessionData | None = None,
        *,
        persist_updates: bool = True,
    ) -> None:
        super().__init__()
        self._store = store
        self.name = name
        self.persist_updates = persist_updates
        self._entity_rows: dict[int, _Entity] = {}
        self._dirty_entities: set[int] = set()
        self._saved_auth: _AuthRow | None = None
        self._saved_states: dict[int, StateRow] = {}
        self._lock = asyncio.Lock()
        self._flush_task: asyncio.Task[None] | None = None
        self._flush_again = False
        self._delete_task: asyncio.Task[None] | None = None
        self._deleted = False
        self.last_error: BaseException | None = None  # of the last failed background flush
        if data is not None:
            self._load(data)

    @classmethod
    async def load(
        cls, store: SessionStore, name: str, *, persist_updates: bool = True
    ) -> StoreSession:
        """The session called ``name``: as stored, or a new empty one (written on first flush)."""
        return cls(store, name, await store.load_session(name), persist_updates=persist_updates)

    def _load(self, data: SessionData) -> None:
        self._dc_id = data.dc_id
        self._server_address = data.server_address
        self._port = data.port
        self._auth_key = AuthKey(data.auth_key) if data.auth_key else None
        self._takeout_id = data.takeout_id
        self._saved_auth = _fingerprint(self._auth_row())
        for entity_id, (pts, qts, date, seq) in data.update_states.items():
            self._update_states[entity_id] = _state(pts, qts, date, seq)
            self._saved_states[entity_id] = (pts, qts, date, seq)
        for id_, hash_, username, phone, name, seen in data.entities:
            self._entity_rows[id_] = (hash_, username, phone, name, seen)

    def __repr__(self) -> str:
        key = "set" if self._auth_key else "none"
        return (
            f"StoreSession(name={self.name!r}, dc_id={self._dc_id}, "
            f"server={self._server_address}:{self._port}, auth_key=<{key}>)"
        )

    __str__ = __repr__

    # --- what Telethon calls: DC, key, takeout -------------------------------------------------

    def set_dc(self, dc_id: int, server_address: str, port: int) -> None:
        # Like MemorySession: the key stays (Telethon clears it itself when it switches DC).
        super().set_dc(dc_id, server_address, port)

    @property
    def auth_key(self) -> Any:
        return self._auth_key

    @auth_key.setter
    def auth_key(self, value: Any) -> None:
        # Telethon sets the sender's AuthKey object here after a key exchange (and None before a
        # DC switch); the object may later be changed in place, so what is compared at flush
        # time is its bytes, not the object.
        self._auth_key = value
        self._schedule_flush()

    @property
    def takeout_id(self) -> int | None:
        return self._takeout_id

    @takeout_id.setter
    def takeout_id(self, value: int | None) -> None:
        self._takeout_id = value
        self._schedule_flush()

    def clone(self, to_instance: Any = None) -> Any:
        # Telethon clones the session only for CDN connections and then points the clone at the
        # CDN's DC: that must never touch the stored session, so the clone lives in memory.
        return to_instance or MemorySession()

    # --- update state ------------------------------------------------------------------------

    def get_update_state(self, entity_id: int) -> Any:
        return self._update_states.get(entity_id)

    def set_update_state(self, entity_id: int, state: Any) -> None:
        if entity_id == ACCOUNT and state.pts == NO_PTS:
            known = self._update_states.get(ACCOUNT)
            if known is not None and known.pts != NO_PTS:
                return  # never replace a known account state with "nothing known"
        self._update_states[entity_id] = state

    def get_update_states(self) -> list[tuple[int, Any]]:
        return list(self._update_states.items())

    # --- entity cache ------------------------------------------------------------------------

    def process_entities(self, tlo: Any) -> None:
        rows = self._entities_to_rows(tlo)
        if not rows:
            return
        now = int(time.time())
        for id_, hash_, username, phone, name in rows:
            known = self._entity_rows.get(id_)
            if known is not None and known[:4] == (hash_, username, phone, name):
                continue
            self._entity_rows[id_] = (hash_, username, phone, name, now)
            self._dirty_entities.add(id_)

    def get_entity_rows_by_phone(self, phone: str) -> tuple[int, int] | None:
        return next(((i, e[0]) for i, e in self._entity_rows.items() if e[2] == phone), None)

    def get_entity_rows_by_username(self, username: str) -> tuple[int, int] | None:
        found = [(e[4] or 0, i) for i, e in self._entity_rows.items() if e[1] == username]
        if not found:
            return None
        found.sort()
        # Usernames move between accounts: the newest row has it, older rows lose it.
        for _, stale in found[:-1]:
            hash_, _username, phone, name, date = self._entity_rows[stale]
            self._entity_rows[stale] = (hash_, None, phone, name, date)
            self._dirty_entities.add(stale)
        newest = found[-1][1]
        return newest, self._entity_rows[newest][0]

    def get_entity_rows_by_name(self, name: str) -> tuple[int, int] | None:
        return next(((i, e[0]) for i, e in self._entity_rows.items() if e[3] == name), None)

    def get_entity_rows_by_id(self, id: int, exact: bool = True) -> tuple[int, int] | None:
        if exact:
            ids: tuple[int, ...] = (id,)
        else:
            ids = (
                tg_utils.get_peer_id(tg_types.PeerUser(id)),
                tg_utils.get_peer_id(tg_types.PeerChat(id)),
                tg_utils.get_peer_id(tg_types.PeerChannel(id)),
            )
        for candidate in ids:
            entity = self._entity_rows.get(candidate)
            if entity is not None:
                return candidate, entity[0]
        return None

    def entity_count(self) -> int:
        return len(self._entity_rows)

    # get_input_entity: MemorySession's, on the lookups above.

    # Sent files: Telethon 1.45 never calls cache_file/get_file (it does not reuse uploads), and
    # the monitor does not upload media; they work, in memory only. MemorySession.get_file
    # builds InputPhoto/InputDocument without the file_reference the current layer requires.
    def get_file(self, md5_digest: bytes, file_size: int, cls: Any) -> Any:
        found = self._files.get((md5_digest, file_size, _SentFileType.from_type(cls)))
        return None if found is None else cls(*found, file_reference=b"")

    # --- lifecycle Telethon drives ---------------------------------------------------------------

    def save(self) -> None:
        self._schedule_flush()

    def close(self) -> None:
        # Called on disconnect, right after Telethon handed over its last states and entities.
        self._schedule_flush()

    def delete(self) -> None:
        """Telethon's ``log_out()``: the session is invalid; delete its rows (in the background)."""
        if self._deleted:
            return
        self.stop_saving()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: nothing is written any more; ``destroy`` deletes
            return
        self._delete_task = loop.create_task(self._delete_in_background())

    @classmethod
    def list_sessions(cls) -> list[str]:
        # Not used by Telethon; sessions are rows of the store (``telegram_sessions``).
        return []

    # --- writing -----------------------------------------------------------------------------

    async def flush(self) -> None:
        """Write everything that changed. Raises ``StoreError`` if the store refuses it."""
        pending = [t for t in (self._flush_task, self._delete_task) if t is not None]
        current = asyncio.current_task()
        waiting = [t for t in pending if t is not current and not t.done()]
        if waiting:
            await asyncio.wait(waiting)
        if self._delete_task is not None and self._delete_task.done():
            task, self._delete_task = self._delete_task, None
            if not task.cancelled() and task.exception() is not None:
                raise _as_store_error(task.exception())  # type: ignore[arg-type]
        await self._flush_now()

    async def destroy(self, *, actor: str) -> None:
        """Log the session out in the store (``delete_session``: the key, update states and
        entity cache are deleted) and write nothing more from here (until ``reset``)."""
        self.stop_saving()
        if self._flush_task is not None and not self._flush_task.done():
            await asyncio.wait([self._flush_task])
        async with self._lock:
            try:
                await self._store.delete_session(self.name, actor=actor)
            except MonitorError:
                raise
            except Exception as exc:
                raise _as_store_error(exc) from None

    @property
    def deleted(self) -> bool:
        return self._deleted

    def reset(self) -> None:
        """Forget the entity cache and the update state (another account signed in here).

        Call ``destroy`` first to remove the stored rows; the next flush writes anew.
        """
        self._entity_rows.clear()
        self._dirty_entities.clear()
        self._update_states.clear()
        self._saved_states.clear()
        self._saved_auth = None
        self._deleted = False

    def stop_saving(self) -> None:
        """Write nothing more (the rows are about to be deleted); ``reset`` undoes it."""
        self._deleted = True
        self._dirty_entities.clear()

    def _schedule_flush(self) -> None:
        if self._deleted:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not inside the client's loop: the owner flushes later
            return
        if self._flush_task is not None and not self._flush_task.done():
            self._flush_again = True
            return
        self._flush_task = loop.create_task(
            self._flush_in_background(), name=f"telegram-session-flush:{self.name}"
        )

    async def _flush_in_background(self) -> None:
        while True:
            self._flush_again = False
            try:
                await self._flush_now()
            except Exception as exc:
                self.last_error = exc
                log.error(
                    "telegram_session_save_failed",
                    session_name=self.name,
                    error=describe_error(exc),
                    note="kept in memory; written at the next flush",
                )
                return
            self.last_error = None
            if not self._flush_again:
                return

    async def _delete_in_background(self) -> None:
        try:
            async with self._lock:
                await self._store.delete_session(self.name, actor="telegram")
        except Exception as exc:
            log.error(
                "telegram_session_delete_failed",
                session_name=self.name,
                error=describe_error(exc),
            )
            raise

    async def _flush_now(self) -> None:
        async with self._lock:
            if self._deleted:
                return
            try:
                await self._write()
            except MonitorError:
                raise
            except Exception as exc:
                raise _as_store_error(exc) from None

    async def _write(self) -> None:
        auth = self._auth_row()
        if auth is None:
            return  # not pointed at any server yet: nothing worth a row
        if _fingerprint(auth) != self._saved_auth:
            dc_id, server_address, port, key, takeout_id = auth
            await self._store.save_session_auth(
                self.name,
                dc_id=dc_id,
                server_address=server_address,
                port=port,
                auth_key=key,
                takeout_id=takeout_id,
            )
            self._saved_auth = _fingerprint(auth)
        if self.persist_updates:
            changed = self._changed_states()
            if changed:
                await self._store.save_update_states(self.name, changed)
                self._saved_states.update(changed)
        if self._dirty_entities:
            ids, self._dirty_entities = self._dirty_entities, set()
            rows = [(i, *self._entity_rows[i]) for i in sorted(ids) if i in self._entity_rows]
            try:
                await self._store.save_entities(self.name, rows)
            except BaseException:
                self._dirty_entities |= ids
                raise

    def _auth_row(self) -> _AuthRow | None:
        if not self._server_address or self._port is None:
            return None
        key = self._auth_key.key if self._auth_key else None
        return (self._dc_id, self._server_address, self._port, key, self._takeout_id)

    def _changed_states(self) -> dict[int, StateRow]:
        changed: dict[int, StateRow] = {}
        for entity_id, state in self._update_states.items():
            row = _state_row(state)
            saved = self._saved_states.get(entity_id)
            if saved is None or _comparable(entity_id, saved) != _comparable(entity_id, row):
                changed[entity_id] = row
        return changed


def _fingerprint(row: _AuthRow | None) -> _AuthRow | None:
    # What was last written, remembered with a digest of the key rather than the key itself.
    if row is None:
        return None
    dc_id, server_address, port, key, takeout_id = row
    digest = hashlib.sha256(key).digest() if key else None
    return (dc_id, server_address, port, digest, takeout_id)


def _state(pts: int, qts: int, date: int, seq: int) -> Any:
    when = dt.datetime.fromtimestamp(date, tz=dt.UTC)
    return tg_types.updates.State(pts=pts, qts=qts, date=when, seq=seq, unread_count=0)


def _state_row(state: Any) -> StateRow:
    date = state.date
    seconds = int(date.timestamp()) if isinstance(date, dt.datetime) else int(date or 0)
    return (int(state.pts), int(state.qts), seconds, int(state.seq))


def _comparable(entity_id: int, row: StateRow) -> StateRow:
    # Telethon stamps channel states with "now" every time it saves them ("any datetime works;
    # channels don't need it"): a channel state only changed if its pts did.
    pts, qts, _date, seq = row
    return row if entity_id == ACCOUNT else (pts, qts, 0, seq)


# Byte strings in exception text (SQLAlchemy shows statement parameters): may hold the key.
_BYTES_LITERAL = re.compile(r"""b(['"])(?:\\.|(?!\1).)*(?:\1|$)""")
_HEX_RUN = re.compile(r"(?:\\x[0-9a-fA-F]{2}){4,}|[0-9a-fA-F]{64,}")


def describe_error(exc: BaseException) -> str:
    """One line about ``exc`` that cannot carry the auth key (byte strings are cut out)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    text = _HEX_RUN.sub("[bytes]", _BYTES_LITERAL.sub("b'[bytes]'", text))
    if len(text) > 300:
        text = text[:300] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _as_store_error(exc: BaseException) -> MonitorError:
    if isinstance(exc, MonitorError):
        return exc
    return StoreError(f"cannot save the Telegram session: {describe_error(exc)}")
