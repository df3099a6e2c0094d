"""What the HTTP senders share: the client, the User-Agent, errors without URLs in them."""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Iterable
from datetime import UTC

import httpx

from monitor import __version__
from monitor.alerts.errors import AlertFailed

USER_AGENT = f"telegram-hash-monitor/{__version__}"
MAX_ERROR_TEXT = 200


def new_client(timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout), follow_redirects=False, headers={"User-Agent": USER_AGENT}
    )


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (URL, token) replaced, cut to a readable length."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    if len(text) > MAX_ERROR_TEXT:
        text = text[: MAX_ERROR_TEXT - 3] + "..."
    return text


def url_parts(url: str) -> tuple[str, ...]:
    """The parts of ``url`` that may hold a token (path, query, user info), to scrub."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return ()
    parts = (parsed.path, parsed.query.decode(), parsed.userinfo.decode(), parsed.host)
    return tuple(p for p in parts if len(p) > 1)


def transport_failure(
    what: str, exc: httpx.HTTPError | httpx.InvalidURL, timeout: float, secrets: Iterable[str]
) -> AlertFailed:
    """An AlertFailed for a request that got no answer; names ``what``, never the URL.

    httpx's exceptions carry the request (and so the URL, and so any token in it): callers
    raise the result ``from None`` so that the original is not chained into tracebacks.
    """
    if isinstance(exc, httpx.TimeoutException):
        return AlertFailed(f"{what} timed out after {timeout:g}s", True)
    if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
        return AlertFailed(f"{what} URL is invalid ({type(exc).__name__})", False)
    if isinstance(exc, httpx.TransportError):
        detail = scrub(str(exc), secrets)
        suffix = f": {detail}" if detail else ""
        return AlertFailed(f"{what} connection failed ({type(exc).__name__}){suffix}", True)
    return AlertFailed(f"{what} request failed ({type(exc).__name__})", True)


def retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from an HTTP ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
