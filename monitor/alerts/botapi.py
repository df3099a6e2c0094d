"""Alerts through a Telegram bot: Bot API ``sendMessage`` to ``alerts.bot_chat``.

Plain text (no parse mode), link previews off, so no media is ever fetched for the preview.
The Bot API answers ``{"ok": false, "error_code", "description", "parameters": {...}}``:

    429 Too Many Requests      retryable, after ``parameters.retry_after`` seconds
    401 / 404                  the token is wrong or revoked: not retryable
    400 / 403                  chat not found, bot blocked, kicked or not a member: not retryable
                               (a group upgraded to a supergroup says its new id: set bot_chat)
    5xx, timeouts, no answer   retryable

The token is part of the request URL, and httpx puts URLs in its exceptions: those are
rewritten, so neither the token nor the URL appears in any exception text or log line.
"""

from __future__ import annotations

from typing import Any

import httpx

from monitor.alerts._http import USER_AGENT, new_client, scrub, transport_failure, url_parts
from monitor.alerts.errors import AlertFailed
from monitor.alerts.message import alert_text, system_text
from monitor.domain import Hit
from monitor.logs import register_secret

MAX_TEXT = 4096  # Bot API limit for one message's text
BAD_TOKEN = frozenset({401, 404})
PERMANENT = frozenset({400, 403})


class BotApiSender:
    def __init__(
        self,
        token: str,
        chat: str,
        api_url: str,
        timeout: float,
        timezone: str,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        register_secret(token)
        self._token = token
        self._chat: int | str = _chat_id(chat)
        self._endpoint = f"{api_url.rstrip('/')}/bot{token}/sendMessage"
        self._timeout = timeout
        self._timezone = timezone
        self._owns_client = client is None
        self._client = client if client is not None else new_client(timeout)

    async def send_hit(self, hit: Hit) -> None:
        await self._send(alert_text(hit, timezone=self._timezone))

    async def send_system(self, event: str, detail: str) -> None:
        await self._send(system_text(event, detail))

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _send(self, text: str) -> None:
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - 3] + "..."
        body = {"chat_id": self._chat, "text": text, "disable_web_page_preview": True}
        try:
            response = await self._client.post(
                self._endpoint,
                json=body,
                headers={"User-Agent": USER_AGENT},
                timeout=self._timeout,
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise transport_failure("Bot API", exc, self._timeout, self._secrets) from None
        try:
            answer: Any = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            answer = {}
        if response.is_success and answer.get("ok") is True:
            return
        raise self._failure(response.status_code, answer)

    def _failure(self, status: int, answer: dict[str, Any]) -> AlertFailed:
        code = answer.get("error_code")
        code = code if isinstance(code, int) and not isinstance(code, bool) else status
        description = answer.get("description")
        text = scrub(str(description), self._secrets) if description else f"HTTP {status}"
        params = answer.get("parameters")
        params = params if isinstance(params, dict) else {}
        message = f"Bot API error {code}: {text}"
        if code == 429:
            wait = params.get("retry_after")
            seconds = float(wait) if isinstance(wait, int | float) and wait >= 0 else None
            return AlertFailed(message, True, retry_after=seconds, status=code)
        if code in BAD_TOKEN:
            return AlertFailed(
                f"Bot API rejected the bot token ({code}): check alerts.bot_token",
                False,
                status=code,
            )
        migrated = params.get("migrate_to_chat_id")
        if migrated is not None:
            message += f" (the group is now chat {migrated}: set alerts.bot_chat to it)"
        if code in PERMANENT or (400 <= code < 500 and code != 408):
            return AlertFailed(message, False, status=code)
        return AlertFailed(message, True, status=code)

    @property
    def _secrets(self) -> tuple[str, ...]:
        return (self._endpoint, self._token, *url_parts(self._endpoint))


def _chat_id(chat: str) -> int | str:
    """A numeric chat id as a number, anything else (``@channel``) as given."""
    chat = chat.strip()
    digits = chat[1:] if chat.startswith("-") else chat
    return int(chat) if digits.isdigit() else chat
