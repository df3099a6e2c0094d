"""Alert senders: one per delivery target ("chat", "bot", "webhook").

A sender delivers one alert or raises ``AlertFailed`` saying whether a retry may help. It does
not retry, wait or record anything itself: the dispatcher does (monitor.alerts.dispatcher).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from monitor.alerts.botapi import BotApiSender
from monitor.alerts.errors import AlertFailed
from monitor.alerts.message import alert_text, system_text
from monitor.alerts.webhook import WebhookSender
from monitor.config import AlertSettings
from monitor.domain import Hit
from monitor.errors import ConfigError
from monitor.logs import redact_text

ChatSend = Callable[[str], Awaitable[None]]

MAX_ERROR_TEXT = 300
# Telegram RPC error codes (Telethon's ``RPCError.code``) that a retry does not fix: bad request
# (no such chat, not allowed to write), forbidden, not acceptable.
PERMANENT_RPC_CODES = frozenset({400, 403, 406})


class Sender(Protocol):
    async def send_hit(self, hit: Hit) -> None: ...

    async def send_system(self, event: str, detail: str) -> None: ...


@runtime_checkable
class Closable(Protocol):
    async def aclose(self) -> None: ...


class ChatSender:
    """Alerts as messages from the logged-in Telegram account, through ``send``.

    ``send(text)`` is supplied by the daemon. What it raises becomes ``AlertFailed``: an
    ``AlertFailed`` as it is; a flood wait (an exception with ``seconds``) retryable after those
    seconds; a Telegram 400/403/406 RPC error (an exception with that ``code``), a
    ``ValueError`` (Telethon: no such entity), ``TypeError`` or ``ConfigError`` not retryable;
    anything else retryable.
    """

    def __init__(self, send: ChatSend, timezone: str) -> None:
        self._send = send
        self._timezone = timezone

    async def send_hit(self, hit: Hit) -> None:
        await self._call(alert_text(hit, timezone=self._timezone))

    async def send_system(self, event: str, detail: str) -> None:
        await self._call(system_text(event, detail))

    async def _call(self, text: str) -> None:
        try:
            await self._send(text)
        except AlertFailed:
            raise
        except Exception as exc:
            raise chat_failure(exc) from None


def chat_failure(exc: Exception) -> AlertFailed:
    """Classify an exception raised while sending through the Telegram account."""
    detail = redact_text(str(exc))
    message = f"chat send failed: {type(exc).__name__}" + (f": {detail}" if detail else "")
    if len(message) > MAX_ERROR_TEXT:
        message = message[: MAX_ERROR_TEXT - 3] + "..."
    seconds = getattr(exc, "seconds", None)
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > 0:
        return AlertFailed(message, True, retry_after=float(seconds))
    code = getattr(exc, "code", None)
    if isinstance(code, int) and code in PERMANENT_RPC_CODES:
        return AlertFailed(message, False, status=code)
    if isinstance(exc, ValueError | TypeError | ConfigError):
        return AlertFailed(message, False)
    return AlertFailed(message, True, status=code if isinstance(code, int) else None)


def build_senders(
    settings: AlertSettings, *, timezone: str, chat_send: ChatSend | None
) -> dict[str, Sender]:
    """A sender for each configured target (``settings.targets``).

    "chat" needs ``chat_send`` (the daemon's logged-in account); without it there is no chat
    sender, and the dispatcher marks chat deliveries failed.
    """
    senders: dict[str, Sender] = {}
    for target in settings.targets:
        if target == "chat" and chat_send is not None:
            senders["chat"] = ChatSender(chat_send, timezone)
        elif target == "bot":
            senders["bot"] = BotApiSender(
                settings.bot_token,
                settings.bot_chat,
                settings.bot_api_url,
                settings.timeout,
                timezone,
            )
        elif target == "webhook":
            senders["webhook"] = WebhookSender(
                settings.webhook_url, settings.webhook_secret, settings.timeout, timezone
            )
    return senders
