"""An in-memory ``SessionStore`` for tests of the SQL-backed Telethon session.

It behaves like ``monitor.store.Store`` where that matters: any write creates the session row
(state "logged_out") if missing; a new auth key makes the session "active"; ``load_session`` is
``None`` without an auth key; ``delete_session`` clears the key, the update states and the entity
cache and marks the row "logged_out" (who it was signed in as is kept). Every call is recorded
(``calls``) so tests can check that only what changed is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitor.domain import SessionData, TelegramAccount
from monitor.telegram.session import EntityRow


@dataclass
class _Row:
    dc_id: int = 0
    server_address: str = ""
    port: int = 0
    auth_key: bytes | None = None
    takeout_id: int | None = None
    state: str = "logged_out"
    state_reason: str | None = None
    user_id: int | None = None
    is_bot: bool = False
    username: str | None = None
    display_name: str | None = None
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class StoreFailure(Exception):
    """Raised by a method listed in ``FakeSessionStore.failing``."""


class FakeSessionStore:
    def __init__(self) -> None:
        self.rows: dict[str, _Row] = {}
        self.states: dict[str, dict[int, tuple[int, int, int, int]]] = {}
        self.entities: dict[str, dict[int, EntityRow]] = {}
        self.calls: list[tuple[str, Any]] = []
        self.audit: list[tuple[str, str, str]] = []  # (actor, action, session)
        self.failing: dict[str, BaseException] = {}

    def _call(self, method: str, detail: Any = None) -> None:
        self.calls.append((method, detail))
        if method in self.failing:
            raise self.failing[method]

    def count(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)

    def _row(self, name: str) -> _Row:
        return self.rows.setdefault(name, _Row())

    async def load_session(self, name: str) -> SessionData | None:
        self._call("load_session", name)
        row = self.rows.get(name)
        if row is None or row.auth_key is None:
            return None
        return SessionData(
            name=name,
            dc_id=row.dc_id,
            server_address=row.server_address,
            port=row.port,
            auth_key=row.auth_key,
            takeout_id=row.takeout_id,
            update_states=dict(self.states.get(name, {})),
            entities=tuple(self.entities.get(name, {}).values()),
            account=self._account(name, row),
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
        self._call("save_session_auth", (dc_id, server_address, port, takeout_id))
        row = self._row(name)
        if auth_key is not None and auth_key != row.auth_key:
            row.state, row.state_reason = "active", None
        row.dc_id, row.server_address, row.port = dc_id, server_address, port
        row.auth_key, row.takeout_id = auth_key, takeout_id

    async def save_update_states(
        self, name: str, states: Mapping[int, tuple[int, int, int, int]]
    ) -> None:
        self._call("save_update_states", dict(states))
        self._row(name)
        self.states.setdefault(name, {}).update(states)

    async def save_entities(self, name: str, rows: Sequence[EntityRow]) -> None:
        self._call("save_entities", list(rows))
        self._row(name)
        table = self.entities.setdefault(name, {})
        for row in rows:
            table[row[0]] = row

    async def set_session_account(
        self,
        name: str,
        *,
        user_id: int,
        is_bot: bool,
        username: str | None,
        display_name: str | None,
    ) -> None:
        self._call("set_session_account", user_id)
        row = self._row(name)
        row.user_id, row.is_bot, row.username, row.display_name = (
            user_id,
            is_bot,
            username,
            display_name,
        )

    async def get_account(self, name: str) -> TelegramAccount | None:
        self._call("get_account", name)
        row = self.rows.get(name)
        return None if row is None else self._account(name, row)

    async def set_session_state(
        self, name: str, state: str, *, reason: str | None, actor: str
    ) -> None:
        self._call("set_session_state", (state, reason))
        row = self._row(name)
        row.state, row.state_reason = state, reason
        self.audit.append((actor, f"session.{state}", name))

    async def delete_session(self, name: str, *, actor: str) -> None:
        self._call("delete_session", name)
        row = self.rows.get(name)
        if row is None:
            return
        row.auth_key, row.takeout_id = None, None
        row.state, row.state_reason = "logged_out", "logged out"
        self.states.pop(name, None)
        self.entities.pop(name, None)
        self.audit.append((actor, "session.logout", name))

    @staticmethod
    def _account(name: str, row: _Row) -> TelegramAccount:
        return TelegramAccount(
            session=name,
            state=row.state,
            state_reason=row.state_reason,
            user_id=row.user_id,
            is_bot=row.is_bot,
            username=row.username,
            display_name=row.display_name,
            dc_id=row.dc_id,
            server_address=row.server_address,
            updated_at=row.updated_at,
        )
