"""Telethon's exceptions, sorted into what the monitor does about them.

Fatal auth errors end the session for good: the key is revoked, duplicated (used from two places
at once), unknown to the server, or the account is gone. They become ``SessionRevoked`` (exit 8),
an alert and a "revoked" state in the store, never a reconnect loop. Everything else Telegram
says becomes a ``TelegramError`` (exit 7) with one readable line.

``SessionPasswordNeededError`` is a 401 too, but it is a step of signing in (the 2FA password is
asked next), not a dead session: ``fatal_auth_reason`` returns ``None`` for it.
"""

from __future__ import annotations

import re

from telethon import errors as tg_errors

from monitor.errors import MonitorError, SessionRevoked, TelegramError

# (exception class, reason). Order matters: specific classes before their bases.
_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (tg_errors.SessionRevokedError, "revoked"),
    (tg_errors.AuthKeyDuplicatedError, "duplicated"),
    (tg_errors.AuthKeyUnregisteredError, "unregistered"),
    (tg_errors.UserDeactivatedBanError, "banned"),
    (tg_errors.UserDeactivatedError, "deactivated"),
    (tg_errors.SessionExpiredError, "expired"),
    (tg_errors.AuthKeyNotFound, "auth key not found"),  # transport -404, not an RPCError
    (tg_errors.UnauthorizedError, "unauthorized"),  # any other 401
)

# For ``except FATAL_AUTH_ERRORS``; decide with ``fatal_auth_reason`` (it excludes the 2FA step).
FATAL_AUTH_ERRORS: tuple[type[BaseException], ...] = tuple(cls for cls, _ in _REASONS)

_EXPLAIN = {
    "revoked": "was revoked (terminated from another device, or all sessions were ended)",
    "duplicated": "was used from two places at once, and Telegram has cancelled it",
    "unregistered": "is not signed in any more (Telegram no longer knows this login)",
    "banned": "belongs to an account Telegram has banned",
    "deactivated": "belongs to an account that was deleted or deactivated",
    "expired": "has expired",
    "auth key not found": "has an authorization key the server does not know",
    "unauthorized": "is not authorised any more",
}


def fatal_auth_reason(exc: BaseException) -> str | None:
    """A short reason if ``exc`` means the session is dead for good, else ``None``."""
    if isinstance(exc, tg_errors.SessionPasswordNeededError):
        return None
    for cls, reason in _REASONS:
        if isinstance(exc, cls):
            return reason
    return None


class SessionEnded(SessionRevoked):
    """``SessionRevoked`` with the session's name and the short reason (``fatal_auth_reason``)."""

    def __init__(self, session: str, reason: str) -> None:
        self.session = session
        self.reason = reason
        what = _EXPLAIN.get(reason, reason)
        super().__init__(
            f"the Telegram session {session!r} {what} ({reason}): run `monitor login` again"
        )

    def __reduce__(self) -> tuple[type[SessionEnded], tuple[str, str]]:
        return (type(self), (self.session, self.reason))


def revoked_error(session: str, reason: str) -> SessionEnded:
    """The ``SessionRevoked`` telling staff what happened and what to do."""
    return SessionEnded(session, reason)


def to_monitor_error(
    exc: BaseException, *, address: str | None = None, session: str = "default"
) -> MonitorError:
    """The monitor's error for an exception raised by Telethon (or the network under it).

    ``address`` (``host:port``) is named when Telegram cannot be reached.
    """
    if isinstance(exc, MonitorError):
        return exc
    reason = fatal_auth_reason(exc)
    if reason is not None:
        return revoked_error(session, reason)
    if isinstance(exc, tg_errors.FloodError) and hasattr(exc, "seconds"):
        seconds = int(exc.seconds)
        return TelegramError(
            f"Telegram asks to wait {seconds} seconds before{_request_of(exc)} again (flood wait)"
        )
    if isinstance(exc, tg_errors.RPCError):
        return TelegramError(f"Telegram refused{_request_of(exc)}: {rpc_error_text(exc)}")
    if isinstance(exc, OSError | ConnectionError):  # TimeoutError is an OSError
        where = f" at {address}" if address else ""
        detail = str(exc) or type(exc).__name__
        return TelegramError(f"cannot reach Telegram{where}: {detail}")
    return TelegramError(f"Telegram could not be used: {type(exc).__name__}: {exc}")


def rpc_error_text(exc: BaseException) -> str:
    """``400 CHANNEL_INVALID (Invalid channel object ...)``: code, Telegram's name, description."""
    code = getattr(exc, "code", None)
    if "message" in vars(exc):  # an error Telethon has no class for keeps Telegram's text
        name = str(exc.message)  # type: ignore[attr-defined]
    else:  # ChannelInvalidError -> CHANNEL_INVALID
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__.removesuffix("Error")).upper()
    description = str(exc).split(" (caused by ")[0].strip()
    if not description or description.startswith("RPCError") or description == name:
        return f"{code} {name}"
    return f"{code} {name} ({description})"


def _request_of(exc: BaseException) -> str:
    request = getattr(exc, "request", None)
    if request is None:
        return " the request"
    name = type(request).__name__.removesuffix("Request")
    return f" {name}"
