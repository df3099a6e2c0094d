from __future__ import annotations

import traceback

import pytest
from structlog.testing import capture_logs

from monitor.alerts import AlertDispatcher, AlertFailed, BotApiSender
from monitor.config import AlertSettings
from tests.unit.alerts.helpers import (
    FakeClock,
    FakeOutbox,
    LocalServer,
    Reply,
    make_delivery,
    make_hit,
)

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def bot(url: str, chat: str = "-1001999888777", *, timeout: float = 2.0) -> BotApiSender:
    return BotApiSender(TOKEN, chat, url, timeout, "Asia/Seoul")


async def no_sleep(_seconds: float) -> None:
    return None


def assert_no_token(exc: BaseException) -> None:
    rendered = "".join(traceback.format_exception(exc))
    for text in (str(exc), repr(exc), rendered):
        assert TOKEN not in text
        assert TOKEN.split(":")[1] not in text
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__  # httpx's error is not chained


async def test_send_message(server: LocalServer) -> None:
    sender = bot(server.url + "/")
    await sender.send_hit(make_hit())
    await sender.aclose()
    (req,) = server.requests
    assert req.path == f"/bot{TOKEN}/sendMessage"
    body = req.json()
    assert body["chat_id"] == -1001999888777
    assert body["disable_web_page_preview"] is True
    assert "parse_mode" not in body
    assert "https://t.me/examplechan/56" in body["text"]
    assert "2024-08-26 12:00:00 KST" in body["text"]
    assert req.headers["user-agent"].startswith("telegram-hash-monitor/")


async def test_channel_username_chat_is_sent_as_given(server: LocalServer) -> None:
    sender = bot(server.url, chat="@staff_alerts")
    await sender.send_system("flood_wait", "wait 7200 s")
    await sender.aclose()
    body = server.requests[0].json()
    assert body["chat_id"] == "@staff_alerts"
    assert "Event: flood_wait" in body["text"]


async def test_flood_limit_is_retryable_after(server: LocalServer) -> None:
    server.replies = [
        Reply(
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 13",
                "parameters": {"retry_after": 13},
            },
        )
    ]
    sender = bot(server.url)
    with pytest.raises(AlertFailed) as caught:
        await sender.send_hit(make_hit())
    await sender.aclose()
    assert caught.value.retryable
    assert caught.value.retry_after == 13.0
    assert caught.value.status == 429
    assert str(caught.value) == "Bot API error 429: Too Many Requests: retry after 13"


@pytest.mark.parametrize(
    ("status", "description"),
    [
        (403, "Forbidden: bot was kicked from the channel chat"),
        (403, "Forbidden: bot was blocked by the user"),
        (400, "Bad Request: chat not found"),
    ],
)
async def test_chat_problems_are_permanent(
    server: LocalServer, status: int, description: str
) -> None:
    server.replies = [
        Reply(status, {"ok": False, "error_code": status, "description": description})
    ]
    sender = bot(server.url)
    with pytest.raises(AlertFailed) as caught:
        await sender.send_hit(make_hit())
    await sender.aclose()
    assert not caught.value.retryable
    assert str(caught.value) == f"Bot API error {status}: {description}"
    assert_no_token(caught.value)


@pytest.mark.parametrize("status", [401, 404])
async def test_bad_token_is_permanent_and_not_shown(server: LocalServer, status: int) -> None:
    server.replies = [
        Reply(status, {"ok": False, "error_code": status, "description": "Unauthorized"})
    ]
    sender = bot(server.url)
    with pytest.raises(AlertFailed) as caught:
        await sender.send_hit(make_hit())
    await sender.aclose()
    assert not caught.value.retryable
    assert "check alerts.bot_token" in str(caught.value)
    assert_no_token(caught.value)


async def test_a_description_echoing_the_token_is_scrubbed(server: LocalServer) -> None:
    server.replies = [
        Reply(400, {"ok": False, "error_code": 400, "description": f"bad bot{TOKEN} here"})
    ]
    sender = bot(server.url)
    with pytest.raises(AlertFailed) as caught:
        await sender.send_hit(make_hit())
    await sender.aclose()
    assert "[redacted]" in str(caught.value)
    assert_no_token(caught.value)


async def test_migrated_group_says_its_new_id(server: LocalServer) -> None:
    server.replies = [
        Reply(
            400,
            {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: group chat was upgraded to a supergroup chat",
                "parameters": {"migrate_to_chat_id": -1001234},
            },
        )
    ]
    sender = bot(server.url)
    with pytest.raises(AlertFailed) as caught:
        await sender.send_hit(make_hit())
    await sender.aclose()
    assert not caught.value.retryable
    assert "-1001234" in str(caught.value)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(502, b"<html>Bad Gateway</html>"),
        Reply(500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}),
        Reply(200, b"not json"),
    ],
)
async def test_server_trouble_is_retryable(server: LocalServer, reply: Reply) -> None:
    server.replies = [reply]
    sender = bot(server.url)
    with pytest.raises(AlertFailed) as caught:
        await sender.send_hit(make_hit())
    await sender.aclose()
    assert caught.value.retryable
    assert_no_token(caught.value)


async def test_timeout_and_connection_errors_hide_the_token(
    server: LocalServer, closed_port_url: str
) -> None:
    server.replies = [Reply(200, delay=2.0)]
    slow = bot(server.url, timeout=0.2)
    with pytest.raises(AlertFailed) as caught:
        await slow.send_hit(make_hit())
    await slow.aclose()
    assert caught.value.retryable
    assert_no_token(caught.value)

    down = bot(closed_port_url)
    with pytest.raises(AlertFailed) as caught:
        await down.send_hit(make_hit())
    await down.aclose()
    assert caught.value.retryable
    assert_no_token(caught.value)

    broken = bot(f"ftp://{TOKEN}.invalid")
    with pytest.raises(AlertFailed) as caught:
        await broken.send_hit(make_hit())
    await broken.aclose()
    assert not caught.value.retryable
    assert_no_token(caught.value)


async def test_token_never_reaches_a_log_line(server: LocalServer, closed_port_url: str) -> None:
    server.replies = [
        Reply(200),
        Reply(403, {"ok": False, "error_code": 403, "description": f"kicked bot{TOKEN}"}),
        Reply(429, {"ok": False, "error_code": 429, "parameters": {"retry_after": 3}}),
        Reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"}),
    ]
    outbox = FakeOutbox(*(make_delivery(i, "bot") for i in range(1, 5)))
    settings = AlertSettings(bot_token=TOKEN, bot_chat="-100123", bot_api_url=server.url)
    dispatcher = AlertDispatcher(
        outbox,
        {"bot": bot(server.url), "down": bot(closed_port_url)},
        settings,
        clock=FakeClock(),
        sleep=no_sleep,
    )
    outbox.add(make_delivery(5, "down"))
    with capture_logs() as logs:
        await dispatcher.run_once()  # 1 sent, 2 kicked, 3 rate limited (the rest held back)
        dispatcher._targets.clear()  # forget the hold, as if retry_after had passed
        await dispatcher.run_once()  # 4 bad token
        await dispatcher.send_system("daemon_stopped", "boom")
    await dispatcher.aclose()
    events = [entry["event"] for entry in logs]
    assert "alert_sent" in events
    assert "alert_gave_up" in events
    assert "alert_failed" in events
    assert "system_alert_failed" in events
    assert logs
    for entry in logs:
        assert TOKEN not in repr(entry)
        assert TOKEN.split(":")[1] not in repr(entry)
    for _, error, _ in outbox.failures:
        assert TOKEN not in error
