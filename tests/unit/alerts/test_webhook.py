from __future__ import annotations

import time
import traceback

import httpx
import pytest

from monitor.alerts import AlertFailed, WebhookSender, sign, verify_signature
from monitor.alerts._http import retry_after
from tests.unit.alerts.helpers import LocalServer, Reply, make_hit

SECRET = "webhook-signing-secret-123"
URL_TOKEN = "hook-token-8f7e6d5c4b3a"
NOW = 1_725_192_000


def sender(url: str, *, secret: str = SECRET, timeout: float = 2.0) -> WebhookSender:
    return WebhookSender(url, secret, timeout, "Asia/Seoul", clock=lambda: NOW)


def hook_url(server: LocalServer) -> str:
    return f"{server.url}/hooks/{URL_TOKEN}?key={URL_TOKEN}"


def assert_no_url(exc: AlertFailed, url: str) -> None:
    rendered = "".join(traceback.format_exception(exc))
    for text in (str(exc), repr(exc), rendered):
        assert url not in text
        assert URL_TOKEN not in text
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__  # httpx's error is not chained


async def test_hit_is_posted_signed(server: LocalServer) -> None:
    hook = sender(hook_url(server))
    try:
        await hook.send_hit(make_hit())
    finally:
        await hook.aclose()
    (req,) = server.requests
    assert req.path == f"/hooks/{URL_TOKEN}?key={URL_TOKEN}"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["user-agent"].startswith("telegram-hash-monitor/")
    assert req.headers["x-monitor-event"] == "hit"
    assert req.headers["x-monitor-delivery"] == "hit-42"
    assert req.headers["x-monitor-timestamp"] == str(NOW)
    signature = req.headers["x-monitor-signature"]
    assert signature.startswith("sha256=")
    assert verify_signature(
        SECRET, req.headers["x-monitor-timestamp"], req.body, signature, now=NOW
    )
    assert not verify_signature("other-secret", str(NOW), req.body, signature, now=NOW)
    body = req.json()
    assert body["type"] == "hit"
    assert body["hit_id"] == 42
    assert body["link"] == "https://t.me/examplechan/56"
    assert body["posted_at_local"] == "2024-08-26T12:00:00+09:00"


async def test_same_hit_has_the_same_delivery_id_on_retries(server: LocalServer) -> None:
    server.replies = [Reply(500)]
    hook = sender(hook_url(server))
    with pytest.raises(AlertFailed):
        await hook.send_hit(make_hit())
    await hook.send_hit(make_hit())
    await hook.aclose()
    assert [r.headers["x-monitor-delivery"] for r in server.requests] == ["hit-42", "hit-42"]


async def test_no_secret_no_signature(server: LocalServer) -> None:
    hook = sender(server.url, secret="")
    await hook.send_hit(make_hit())
    await hook.aclose()
    assert "x-monitor-signature" not in server.requests[0].headers


async def test_system_alert(server: LocalServer) -> None:
    hook = sender(server.url)
    await hook.send_system("session_revoked", "logged out elsewhere")
    await hook.aclose()
    (req,) = server.requests
    assert req.headers["x-monitor-event"] == "system"
    assert req.headers["x-monitor-delivery"].startswith("system-session_revoked-")
    assert req.json()["event"] == "session_revoked"
    assert verify_signature(
        SECRET,
        req.headers["x-monitor-timestamp"],
        req.body,
        req.headers["x-monitor-signature"],
        now=NOW,
    )


@pytest.mark.parametrize("status", [200, 201, 202, 204])
async def test_any_2xx_is_success(server: LocalServer, status: int) -> None:
    server.replies = [Reply(status, body=b"")]
    hook = sender(server.url)
    await hook.send_hit(make_hit())
    await hook.aclose()


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (500, True),
        (502, True),
        (503, True),
        (408, True),
        (429, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (410, False),
        (302, False),
    ],
)
async def test_status_classification(server: LocalServer, status: int, retryable: bool) -> None:
    server.replies = [Reply(status, body=b"nope", headers={"Location": "/elsewhere"})]
    url = hook_url(server)
    hook = sender(url)
    with pytest.raises(AlertFailed) as caught:
        await hook.send_hit(make_hit())
    await hook.aclose()
    exc = caught.value
    assert exc.retryable is retryable
    assert exc.status == status
    assert str(exc) == f"webhook answered {status}"
    assert exc.retry_after is None
    assert_no_url(exc, url)
    assert len(server.requests) == 1  # redirects are not followed


@pytest.mark.parametrize(("status", "header"), [(429, "7"), (503, "120")])
async def test_retry_after_is_passed_on(server: LocalServer, status: int, header: str) -> None:
    server.replies = [Reply(status, headers={"Retry-After": header})]
    hook = sender(server.url)
    with pytest.raises(AlertFailed) as caught:
        await hook.send_hit(make_hit())
    await hook.aclose()
    assert caught.value.retryable
    assert caught.value.retry_after == float(header)


async def test_timeout_is_retryable(server: LocalServer) -> None:
    server.replies = [Reply(200, delay=2.0)]
    url = hook_url(server)
    hook = sender(url, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(AlertFailed) as caught:
        await hook.send_hit(make_hit())
    await hook.aclose()
    assert time.monotonic() - started < 1.5
    assert caught.value.retryable
    assert str(caught.value) == "webhook timed out after 0.2s"
    assert_no_url(caught.value, url)


async def test_connection_refused_is_retryable(closed_port_url: str) -> None:
    url = f"{closed_port_url}/hooks/{URL_TOKEN}"
    hook = sender(url)
    with pytest.raises(AlertFailed) as caught:
        await hook.send_hit(make_hit())
    await hook.aclose()
    assert caught.value.retryable
    assert str(caught.value).startswith("webhook connection failed (ConnectError)")
    assert_no_url(caught.value, url)


async def test_invalid_url_is_not_retryable() -> None:
    url = f"ftp://example.invalid/{URL_TOKEN}"
    hook = sender(url)
    with pytest.raises(AlertFailed) as caught:
        await hook.send_hit(make_hit())
    await hook.aclose()
    assert not caught.value.retryable
    assert_no_url(caught.value, url)


async def test_a_given_client_is_used_and_not_closed(server: LocalServer) -> None:
    async with httpx.AsyncClient() as client:
        hook = WebhookSender(server.url, "", 2.0, "UTC", client=client)
        await hook.send_hit(make_hit())
        await hook.aclose()
        assert not client.is_closed
    assert server.requests[0].headers["user-agent"].startswith("telegram-hash-monitor/")


# --- signatures ------------------------------------------------------------------------------


def test_verify_signature() -> None:
    body = b'{"type":"hit","hit_id":1}'
    header = sign(SECRET, NOW, body)
    assert (
        header
        == "sha256="
        + __import__("hmac").new(SECRET.encode(), f"{NOW}.".encode() + body, "sha256").hexdigest()
    )
    assert verify_signature(SECRET, NOW, body, header, now=NOW)
    assert verify_signature(SECRET, str(NOW), body.decode(), header, now=NOW + 299)
    assert not verify_signature(SECRET, NOW, body + b" ", header, now=NOW)  # body changed
    assert not verify_signature(SECRET, NOW + 1, body, header, now=NOW)  # timestamp changed
    assert not verify_signature(SECRET, NOW, body, header, now=NOW + 301)  # too old: replay
    assert not verify_signature(SECRET, NOW, body, header, now=NOW - 301)  # from the future
    assert verify_signature(SECRET, NOW, body, header, now=NOW + 1000, max_age=3600)
    assert not verify_signature(SECRET, NOW, body, header.removeprefix("sha256="), now=NOW)
    assert not verify_signature(SECRET, NOW, body, "", now=NOW)
    assert not verify_signature(SECRET, NOW, body, None, now=NOW)
    assert not verify_signature(SECRET, "yesterday", body, header, now=NOW)
    assert not verify_signature("", NOW, body, header, now=NOW)
    assert not verify_signature(SECRET, NOW, body, "sha256=ünïcode", now=NOW)
    assert verify_signature(SECRET, int(time.time()), body, sign(SECRET, int(time.time()), body))


def test_retry_after_header_forms() -> None:
    assert retry_after("30") == 30.0
    assert retry_after(" 1.5 ") == 1.5
    assert retry_after("-4") == 0.0
    assert retry_after(None) is None
    assert retry_after("soon") is None
    assert retry_after("inf") is None
    assert retry_after("Sun, 01 Sep 2024 12:01:00 GMT", now=1_725_192_000) == 60.0
