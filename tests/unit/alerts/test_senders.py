from __future__ import annotations

import pickle

import pytest

from monitor.alerts import AlertFailed, BotApiSender, ChatSender, WebhookSender, build_senders
from monitor.config import AlertSettings
from monitor.errors import ConfigError, MonitorError
from tests.unit.alerts.helpers import make_hit


class RPCLikeError(Exception):
    """Looks like a Telethon RPC error: a ``code`` and maybe ``seconds``."""

    def __init__(self, message: str, code: int, seconds: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        if seconds is not None:
            self.seconds = seconds


async def test_chat_sender_sends_plain_text() -> None:
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    chat = ChatSender(send, "Asia/Seoul")
    await chat.send_hit(make_hit())
    await chat.send_system("session_revoked", "gone")
    assert sent[0].startswith("NEAR-EXACT hash-list hit #42")
    assert "2024-08-26 12:00:00 KST" in sent[0]
    assert "Event: session_revoked" in sent[1]


@pytest.mark.parametrize(
    ("error", "retryable", "retry_after"),
    [
        (RuntimeError("network down"), True, None),
        (ConnectionError("reset"), True, None),
        (TimeoutError(), True, None),
        (RPCLikeError("A wait of 30 seconds is required", 420, seconds=30), True, 30.0),
        (RPCLikeError("slow mode", 400, seconds=10), True, 10.0),
        (RPCLikeError("CHAT_WRITE_FORBIDDEN", 403), False, None),
        (RPCLikeError("PEER_ID_INVALID", 400), False, None),
        (RPCLikeError("Internal", 500), True, None),
        (ValueError("Cannot find any entity corresponding to @nobody"), False, None),
        (ConfigError("alerts.chat", "bad"), False, None),
        (AlertFailed("decided by the daemon", False), False, None),
    ],
)
async def test_chat_sender_classifies_errors(
    error: Exception, retryable: bool, retry_after: float | None
) -> None:
    async def send(_text: str) -> None:
        raise error

    chat = ChatSender(send, "UTC")
    with pytest.raises(AlertFailed) as caught:
        await chat.send_hit(make_hit())
    assert caught.value.retryable is retryable
    assert caught.value.retry_after == retry_after
    if isinstance(error, AlertFailed):
        assert caught.value is error
    else:
        assert str(caught.value).startswith(f"chat send failed: {type(error).__name__}")


async def test_build_senders() -> None:
    async def send(_text: str) -> None:
        return None

    everything = AlertSettings(
        chat="me",
        bot_token="1:abc",
        bot_chat="-100123",
        webhook_url="https://hooks.example/x",
        webhook_secret="s",
    )
    senders = build_senders(everything, timezone="UTC", chat_send=send)
    assert list(senders) == ["chat", "bot", "webhook"]
    assert isinstance(senders["chat"], ChatSender)
    assert isinstance(senders["bot"], BotApiSender)
    assert isinstance(senders["webhook"], WebhookSender)
    for sender in senders.values():
        if hasattr(sender, "aclose"):
            await sender.aclose()

    no_account = build_senders(everything, timezone="UTC", chat_send=None)
    assert list(no_account) == ["bot", "webhook"]
    for sender in no_account.values():
        if hasattr(sender, "aclose"):
            await sender.aclose()

    assert build_senders(AlertSettings(), timezone="UTC", chat_send=send) == {}
    bot_without_chat = AlertSettings(bot_token="1:abc")
    assert build_senders(bot_without_chat, timezone="UTC", chat_send=None) == {}


def test_alert_failed_is_a_monitor_error_and_pickles() -> None:
    exc = AlertFailed("webhook answered 429", True, retry_after=7.0, status=429)
    assert isinstance(exc, MonitorError)
    back = pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes
    assert (str(back), back.retryable, back.retry_after, back.status) == (
        "webhook answered 429",
        True,
        7.0,
        429,
    )
