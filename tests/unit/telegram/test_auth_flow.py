"""auth.login / logout / whoami decisions, with a scripted stand-in for TelegramClient."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from telethon import errors
from telethon.crypto import AuthKey
from telethon.tl import functions, types

from monitor.config import TelegramSettings
from monitor.errors import InputError, SessionRevoked, TelegramError
from monitor.telegram import auth
from monitor.telegram.session import StoreSession
from tests.unit.telegram.fake_session_store import FakeSessionStore

SETTINGS = TelegramSettings(api_id=1, api_hash="b" * 32)


def me(id_: int = 5, *, bot: bool = False) -> types.User:
    return types.User(
        id=id_, is_self=True, access_hash=9, first_name="Ann", username="ann", bot=bot
    )


class ScriptedClient:
    """Answers sign_in calls from a script: each item is a User to return or an exception."""

    def __init__(self, session: StoreSession, script: list[Any]) -> None:
        self.session = session
        self.script: Iterator[Any] = iter(script)
        self.codes_sent = 0
        self.sign_ins: list[dict[str, Any]] = []
        self.requests: list[Any] = []
        self.answers: dict[type, Any] = {}
        self.connected = False

    def is_connected(self) -> bool:
        return self.connected

    async def connect(self) -> None:
        self.connected = True

    async def disconnect(self) -> None:
        self.connected = False

    async def send_code_request(self, phone: str) -> None:
        self.codes_sent += 1
        answer = self.answers.get(functions.auth.SendCodeRequest)
        if isinstance(answer, BaseException):
            raise answer

    async def sign_in(self, phone: str | None = None, **kwargs: Any) -> Any:
        self.sign_ins.append(kwargs)
        step = next(self.script)
        if isinstance(step, BaseException):
            raise step
        return step

    async def __call__(self, request: Any) -> Any:
        self.requests.append(request)
        answer = self.answers.get(type(request))
        if isinstance(answer, BaseException):
            raise answer
        return answer


class answers:
    """A prompt answering with ``values`` in turn; ``seen`` keeps the problems it was told."""

    def __init__(self, *values: str) -> None:
        self.values = iter(values)
        self.seen: list[str | None] = []

    async def __call__(self, problem: str | None) -> str:
        self.seen.append(problem)
        return next(self.values)


async def setup(script: list[Any]) -> tuple[FakeSessionStore, StoreSession, ScriptedClient]:
    store = FakeSessionStore()
    session = await StoreSession.load(store, "default")
    session.set_dc(2, "127.0.0.1", 4430)
    session.auth_key = AuthKey(b"k" * 256)
    return store, session, ScriptedClient(session, script)


async def test_code_then_password_then_recorded() -> None:
    store, _, client = await setup(
        [
            errors.PhoneCodeInvalidError(None),
            errors.PhoneCodeExpiredError(None),
            errors.SessionPasswordNeededError(None),
            errors.PasswordHashInvalidError(None),
            me(),
        ]
    )
    code = answers("111", "222", "333")
    password = answers("bad", "good")
    account = await auth.login(
        client,
        store,
        SETTINGS,
        phone="+1 555 0100",
        code_callback=code,
        password_callback=password,
        actor="analyst",
    )
    assert code.seen == [
        None,
        "that code is wrong",
        "that code has expired; Telegram sent a new one",
    ]
    assert password.seen == [None, "that password is wrong"]
    assert client.codes_sent == 2  # a new code after the expired one
    assert (account.user_id, account.username, account.state) == (5, "ann", "active")
    assert store.rows["default"].auth_key == b"k" * 256  # flushed
    assert ("analyst", "session.active", "default") in store.audit


async def test_three_wrong_codes() -> None:
    store, _, client = await setup([errors.PhoneCodeInvalidError(None)] * 3)
    with pytest.raises(InputError, match="3 times"):
        await auth.login(
            client,
            store,
            SETTINGS,
            phone="+15550100",
            code_callback=answers("1", "2", "3"),
            password_callback=answers(),
            actor="a",
        )


async def test_three_wrong_passwords() -> None:
    wrong = errors.PasswordHashInvalidError(None)
    store, _, client = await setup([errors.SessionPasswordNeededError(None), wrong, wrong, wrong])
    with pytest.raises(InputError, match="wrong 2FA password 3 times"):
        await auth.login(
            client,
            store,
            SETTINGS,
            phone="+15550100",
            code_callback=answers("1"),
            password_callback=answers("a", "b", "c"),
            actor="a",
        )


async def test_invalid_phone_number() -> None:
    store, _, client = await setup([])
    client.answers[functions.auth.SendCodeRequest] = errors.PhoneNumberInvalidError(None)
    with pytest.raises(InputError, match="does not accept this phone number"):
        await auth.login(
            client,
            store,
            SETTINGS,
            phone="+15550100",
            code_callback=answers(),
            password_callback=answers(),
            actor="a",
        )
    with pytest.raises(InputError, match="not a phone number"):
        await auth.login(
            client,
            store,
            SETTINGS,
            phone="call me",
            code_callback=answers(),
            password_callback=answers(),
            actor="a",
        )


async def test_flood_wait_on_send_code_is_a_telegram_error() -> None:
    store, _, client = await setup([])
    client.answers[functions.auth.SendCodeRequest] = errors.FloodWaitError(None, capture=3600)
    with pytest.raises(TelegramError, match="3600 seconds"):
        await auth.login(
            client,
            store,
            SETTINGS,
            phone="+15550100",
            code_callback=answers(),
            password_callback=answers(),
            actor="a",
        )


async def test_bot_login_and_phone_or_token_required() -> None:
    store, _, client = await setup([me(7, bot=True)])
    account = await auth.login(
        client,
        store,
        SETTINGS,
        bot_token="7:abc",
        code_callback=answers(),
        password_callback=answers(),
        actor="a",
    )
    assert account.is_bot
    assert client.sign_ins == [{"bot_token": "7:abc"}]
    with pytest.raises(InputError):
        await auth.login(
            client,
            store,
            SETTINGS,
            phone="+1",
            bot_token="x",
            code_callback=answers(),
            password_callback=answers(),
            actor="a",
        )


async def test_whoami_records_a_revoked_session() -> None:
    store, _, client = await setup([me()])
    await auth.login(
        client,
        store,
        SETTINGS,
        bot_token="t",
        code_callback=answers(),
        password_callback=answers(),
        actor="a",
    )
    client.answers[functions.users.GetUsersRequest] = errors.AuthKeyDuplicatedError(None)
    with pytest.raises(SessionRevoked, match="duplicated"):
        await auth.whoami(client, store, SETTINGS)
    row = store.rows["default"]
    assert (row.state, row.state_reason) == ("revoked", "duplicated")
    client.answers[functions.users.GetUsersRequest] = [me()]
    account = await auth.whoami(client, store, SETTINGS)
    assert account.state == "active"  # the key works again: recorded


async def test_whoami_network_error_is_not_a_revocation() -> None:
    store, _, client = await setup([me()])
    await auth.login(
        client,
        store,
        SETTINGS,
        bot_token="t",
        code_callback=answers(),
        password_callback=answers(),
        actor="a",
    )
    client.answers[functions.users.GetUsersRequest] = ConnectionError("reset")
    with pytest.raises(TelegramError, match=r"cannot reach Telegram at 127\.0\.0\.1:4430") as info:
        await auth.whoami(client, store, SETTINGS)
    assert not isinstance(info.value, SessionRevoked)
    assert store.rows["default"].state == "active"


async def test_whoami_without_login() -> None:
    store, _, client = await setup([])
    with pytest.raises(TelegramError, match="not logged in"):
        await auth.whoami(client, store, SETTINGS)
    assert not client.requests


async def test_logout_tolerates_a_dead_key_but_not_an_unreachable_server() -> None:
    store, _, client = await setup([me()])
    await auth.login(
        client,
        store,
        SETTINGS,
        bot_token="t",
        code_callback=answers(),
        password_callback=answers(),
        actor="a",
    )
    client.answers[functions.auth.LogOutRequest] = OSError("unreachable")
    with pytest.raises(TelegramError, match="cannot reach"):
        await auth.logout(client, store, SETTINGS, actor="a")
    assert store.rows["default"].auth_key is not None  # nothing deleted
    client.answers[functions.auth.LogOutRequest] = errors.SessionRevokedError(None)
    told = await auth.logout(client, store, SETTINGS, actor="a")
    row = store.rows["default"]
    assert (told, row.auth_key, row.state) == (False, None, "logged_out")


def test_mask_phone() -> None:
    assert auth.mask_phone("+49 151 23456789") == "+49•••••••••89"
    assert "23456" not in auth.mask_phone("+4915123456789")
    assert auth.mask_phone("123") == "+•••"
