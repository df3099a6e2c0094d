"""Telethon's exceptions sorted into the monitor's: fatal auth errors, flood waits, the rest."""

from __future__ import annotations

import pickle

import pytest
from telethon import errors
from telethon.tl import functions, types

from monitor.errors import ConfigError, SessionRevoked, TelegramError
from monitor.telegram.errors import (
    FATAL_AUTH_ERRORS,
    SessionEnded,
    fatal_auth_reason,
    to_monitor_error,
)


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (errors.AuthKeyUnregisteredError(None), "unregistered"),
        (errors.AuthKeyDuplicatedError(None), "duplicated"),
        (errors.UserDeactivatedError(None), "deactivated"),
        (errors.UserDeactivatedBanError(None), "banned"),
        (errors.SessionRevokedError(None), "revoked"),
        (errors.SessionExpiredError(None), "expired"),
        (errors.AuthKeyNotFound(), "auth key not found"),
        (errors.AuthKeyInvalidError(None), "unauthorized"),
        (errors.UnauthorizedError(None, "SOMETHING_NEW"), "unauthorized"),
        (errors.rpc_message_to_error(types.RpcError(401, "SESSION_REVOKED"), None), "revoked"),
    ],
)
def test_fatal_auth_errors(exc: BaseException, reason: str) -> None:
    assert fatal_auth_reason(exc) == reason
    assert isinstance(exc, FATAL_AUTH_ERRORS)
    mapped = to_monitor_error(exc, session="default")
    assert isinstance(mapped, SessionRevoked)
    assert mapped.exit_code == 8
    assert f"({reason})" in str(mapped)
    assert "monitor login" in str(mapped)


@pytest.mark.parametrize(
    "exc",
    [
        errors.SessionPasswordNeededError(None),  # a 401, but a step of signing in
        errors.FloodWaitError(None, capture=30),
        errors.PhoneCodeInvalidError(None),
        errors.ChannelPrivateError(None),
        errors.FilerefUpgradeNeededError(None),  # a 406 that is not about the key
        ConnectionError("down"),
        ValueError("x"),
    ],
)
def test_not_fatal(exc: BaseException) -> None:
    assert fatal_auth_reason(exc) is None


def test_flood_wait_names_the_seconds_and_request() -> None:
    exc = errors.FloodWaitError(functions.contacts.ResolveUsernameRequest("feed"), capture=420)
    mapped = to_monitor_error(exc)
    assert type(mapped) is TelegramError
    assert "420 seconds" in str(mapped)
    assert "contacts.ResolveUsername" in str(mapped) or "ResolveUsername" in str(mapped)


def test_rpc_error_keeps_code_and_message() -> None:
    exc = errors.rpc_message_to_error(types.RpcError(400, "CHANNEL_INVALID"), None)
    mapped = to_monitor_error(exc)
    assert type(mapped) is TelegramError
    assert "400 CHANNEL_INVALID" in str(mapped)


@pytest.mark.parametrize("exc", [ConnectionRefusedError(111, "refused"), TimeoutError(), OSError()])
def test_network_errors_name_the_server(exc: BaseException) -> None:
    mapped = to_monitor_error(exc, address="127.0.0.1:4430")
    assert type(mapped) is TelegramError
    assert str(mapped).startswith("cannot reach Telegram at 127.0.0.1:4430")
    assert mapped.exit_code == 7


def test_monitor_errors_pass_through() -> None:
    exc = ConfigError("telegram.api_id", "missing")
    assert to_monitor_error(exc) is exc


def test_session_ended_pickles_and_keeps_its_reason() -> None:
    exc = SessionEnded("default", "duplicated")
    again = pickle.loads(pickle.dumps(exc))  # noqa: S301 (our own bytes)
    assert (again.session, again.reason, str(again)) == ("default", "duplicated", str(exc))
