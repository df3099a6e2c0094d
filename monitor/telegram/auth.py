"""Signing in, out, and asking who the session is signed in as.

- ``login``: a phone number (code sent by Telegram, then the 2FA password if the account has
  one) or a bot token. A wrong or expired code, or a wrong password, is asked again up to
  ``ATTEMPTS`` times. The account is recorded in the store and the session flushed.
- ``logout``: ``auth.logOut`` when the key still works, then the session's rows are deleted
  (also when Telegram has already revoked the key).
- ``whoami``: asks Telegram (``users.getUsers([self])``, which, unlike ``get_me()``, does not
  swallow auth errors); a dead session is recorded as "revoked" and raises ``SessionRevoked``.

The callbacks ask a human: ``code_callback(problem)`` / ``password_callback(problem)`` get
``None`` the first time and a short description of what was wrong with the previous answer
after that. Nothing here prints; nothing logs a phone number in full, a code, a password or a key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from telethon import TelegramClient
from telethon import errors as tg_errors
from telethon import utils as tg_utils
from telethon.tl import functions, types

from monitor.config import TelegramSettings
from monitor.domain import TelegramAccount
from monitor.errors import InputError, MonitorError, SessionRevoked, TelegramError
from monitor.logs import get_logger
from monitor.telegram.client import connect, server_address
from monitor.telegram.errors import (
    SessionEnded,
    fatal_auth_reason,
    revoked_error,
    to_monitor_error,
)
from monitor.telegram.session import SessionStore, StoreSession

log = get_logger(__name__)

ATTEMPTS = 3
Ask = Callable[[str | None], Awaitable[str]]

NOT_LOGGED_IN = "not logged in: run `monitor login`"


async def login(
    client: TelegramClient,
    store: SessionStore,
    settings: TelegramSettings,
    *,
    phone: str | None = None,
    bot_token: str | None = None,
    code_callback: Ask,
    password_callback: Ask,
    actor: str,
) -> TelegramAccount:
    """Sign in with ``phone`` (code, then 2FA password) or ``bot_token``; record the account."""
    if bool(phone) == bool(bot_token):
        raise InputError("sign in with either a phone number or a bot token")
    name = settings.session
    previous = await store.get_account(name)
    try:
        await connect(client)
        if bot_token:
            user = await _sign_in_bot(client, bot_token)
        else:
            assert phone is not None
            user = await _sign_in_phone(client, phone, code_callback, password_callback)
    except MonitorError:
        raise
    except Exception as exc:
        raise to_monitor_error(exc, address=server_address(client), session=name) from None
    session = _store_session(client)
    if previous is not None and previous.user_id not in (None, user.id) and session is not None:
        # Another account signed in on this session: its cached access hashes and update state
        # belong to the old account. Start the session's rows afresh.
        await session.destroy(actor=actor)
        session.reset()
        session.process_entities([user])
    if session is not None:
        await session.flush()
    account = await _record(store, name, user, actor=actor)
    log.info(
        "telegram_signed_in",
        session_name=name,
        user_id=user.id,
        bot=bool(user.bot),
        actor=actor,
    )
    return account


async def logout(
    client: TelegramClient, store: SessionStore, settings: TelegramSettings, *, actor: str
) -> bool:
    """Log out at Telegram if the key still works, then delete the session's rows.

    Returns whether Telegram was told (False: the key was already dead). Telegram being
    unreachable is a ``TelegramError`` and nothing is deleted (the key would stay valid there).
    """
    name = settings.session
    session = _store_session(client)
    told = False
    try:
        if session is None or session.auth_key is not None:  # else: nothing to tell Telegram
            await connect(client)
            await client(functions.auth.LogOutRequest())
            told = True
    except SessionRevoked as exc:  # from connect: the key is dead already
        log.info("telegram_logout_key_already_dead", session_name=name, reason=_reason_of(exc))
    except MonitorError:
        raise
    except Exception as exc:
        reason = fatal_auth_reason(exc)
        if reason is None:
            raise to_monitor_error(exc, address=server_address(client), session=name) from None
        log.info("telegram_logout_key_already_dead", session_name=name, reason=reason)
    if session is not None:
        # Disconnect first: Telethon saves its state on disconnect, which must not re-create
        # the rows deleted next.
        session.stop_saving()
        await client.disconnect()
        await session.destroy(actor=actor)
    else:
        await client.disconnect()
        await store.delete_session(name, actor=actor)
    log.info("telegram_logged_out", session_name=name, told_telegram=told, actor=actor)
    return told


async def whoami(
    client: TelegramClient,
    store: SessionStore,
    settings: TelegramSettings,
    *,
    actor: str = "telegram",
) -> TelegramAccount:
    """Who the session is signed in as, asked of Telegram; the store is updated to match.

    No stored login: ``TelegramError`` ("not logged in"). A dead session: recorded as revoked
    (with the reason), then ``SessionRevoked``.
    """
    name = settings.session
    account = await store.get_account(name)
    session = _store_session(client)
    has_key = session is None or session.auth_key is not None
    if account is None or account.user_id is None or account.state == "logged_out" or not has_key:
        if account is not None and account.state == "revoked":
            raise revoked_error(name, account.state_reason or "revoked")
        raise TelegramError(NOT_LOGGED_IN)
    try:
        await connect(client)
        users = await client(functions.users.GetUsersRequest([types.InputUserSelf()]))
    except SessionRevoked as exc:  # from connect (e.g. the server forgot the key)
        await store.set_session_state(name, "revoked", reason=_reason_of(exc), actor=actor)
        raise
    except MonitorError:
        raise
    except Exception as exc:
        reason = fatal_auth_reason(exc)
        if reason is None:
            raise to_monitor_error(exc, address=server_address(client), session=name) from None
        await store.set_session_state(name, "revoked", reason=reason, actor=actor)
        log.warning("telegram_session_revoked", session_name=name, reason=reason)
        raise revoked_error(name, reason) from None
    user = users[0] if users else None
    if user is None or isinstance(user, types.UserEmpty):
        raise TelegramError("Telegram did not return the signed-in account")
    if account.state != "active":
        await store.set_session_state(name, "active", reason=None, actor=actor)
    return await _record(store, name, user, actor=actor, state=None)


# --- signing in ------------------------------------------------------------------------------


async def _sign_in_bot(client: TelegramClient, token: str) -> Any:
    try:
        return await client.sign_in(bot_token=token)
    except tg_errors.AccessTokenInvalidError:
        raise InputError("Telegram does not accept this bot token") from None
    except tg_errors.AccessTokenExpiredError:
        raise InputError("this bot token was revoked: get a new one from @BotFather") from None


async def _sign_in_phone(
    client: TelegramClient, phone: str, ask_code: Ask, ask_password: Ask
) -> Any:
    number = tg_utils.parse_phone(phone)
    if not number:
        raise InputError("not a phone number: give it in international format, e.g. +4915123456")
    await _send_code(client, number)
    problem: str | None = None
    for _ in range(ATTEMPTS):
        code = (await ask_code(problem)).strip()
        if not code:
            problem = "no code was entered"
            continue
        try:
            return await client.sign_in(number, code=code)
        except (tg_errors.PhoneCodeInvalidError, tg_errors.PhoneCodeEmptyError):
            problem = "that code is wrong"
        except tg_errors.PhoneCodeExpiredError:
            await _send_code(client, number)
            problem = "that code has expired; Telegram sent a new one"
        except tg_errors.SessionPasswordNeededError:
            return await _check_password(client, ask_password)
        except tg_errors.PhoneNumberUnoccupiedError:
            raise InputError(
                "no Telegram account uses this phone number (accounts cannot be created here)"
            ) from None
    raise InputError(f"wrong or expired code {ATTEMPTS} times: run `monitor login` again")


async def _send_code(client: TelegramClient, number: str) -> None:
    try:
        await client.send_code_request(number)
    except tg_errors.PhoneNumberInvalidError:
        raise InputError("Telegram does not accept this phone number") from None
    except tg_errors.PhoneNumberBannedError:
        raise InputError("Telegram has banned this phone number") from None


async def _check_password(client: TelegramClient, ask_password: Ask) -> Any:
    problem: str | None = None
    for _ in range(ATTEMPTS):
        password = await ask_password(problem)
        if not password:
            problem = "no password was entered"
            continue
        try:
            return await client.sign_in(password=password)
        except tg_errors.PasswordHashInvalidError:
            problem = "that password is wrong"
    raise InputError(f"wrong 2FA password {ATTEMPTS} times: run `monitor login` again")


# --- recording -------------------------------------------------------------------------------


async def _record(
    store: SessionStore,
    name: str,
    user: Any,
    *,
    actor: str,
    state: str | None = "active",
) -> TelegramAccount:
    await store.set_session_account(
        name,
        user_id=int(user.id),
        is_bot=bool(getattr(user, "bot", False)),
        username=getattr(user, "username", None) or None,
        display_name=tg_utils.get_display_name(user) or None,
    )
    if state is not None:
        await store.set_session_state(name, state, reason=None, actor=actor)
    account = await store.get_account(name)
    if account is None:  # pragma: no cover - the store just wrote it
        raise TelegramError(f"session {name!r} vanished from the store")
    return account


def _store_session(client: TelegramClient) -> StoreSession | None:
    session = client.session
    return session if isinstance(session, StoreSession) else None


def _reason_of(exc: SessionRevoked) -> str:
    return exc.reason if isinstance(exc, SessionEnded) else "revoked"


def mask_phone(phone: str) -> str:
    """``+4915123456`` -> ``+49•••••56``: enough to recognise, not the number."""
    digits = tg_utils.parse_phone(phone) or "".join(c for c in phone if c.isdigit())
    if len(digits) <= 4:
        return "+" + "•" * len(digits)
    return f"+{digits[:2]}{'•' * (len(digits) - 4)}{digits[-2:]}"
