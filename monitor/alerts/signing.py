"""Webhook signatures: HMAC-SHA256 over the timestamp and the exact body bytes.

Each webhook request carries::

    X-Monitor-Timestamp: 1724641200                  (unix seconds when it was sent)
    X-Monitor-Signature: sha256=<64 hex characters>  (only when alerts.webhook_secret is set)

where the hex is ``HMAC-SHA256(key=secret as UTF-8, message=b"<timestamp>." + body)`` and
``body`` is the raw request body, byte for byte, before any JSON parsing. A receiver verifies
it like this (``verify_signature`` does exactly this and may be copied)::

    expected = "sha256=" + hmac.new(secret.encode(), f"{ts}.".encode() + body, "sha256").hexdigest()
    ok = hmac.compare_digest(expected, request.headers["X-Monitor-Signature"])
    ok = ok and abs(time.time() - int(ts)) <= 300     # refuse replays of old requests

and then drops requests whose ``X-Monitor-Delivery`` it has already seen (``hit-<id>`` is the
same on every retry of one hit's alert), since a retry after a lost answer repeats a delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_PREFIX = "sha256="


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Monitor-Signature`` value of ``body`` sent at ``timestamp``."""
    message = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(
    secret: str,
    timestamp: int | str,
    body: bytes | str,
    header: str | None,
    *,
    max_age: float = 300,
    now: float | None = None,
) -> bool:
    """Whether ``header`` signs ``body`` at ``timestamp`` and the timestamp is recent.

    ``timestamp`` is the ``X-Monitor-Timestamp`` header; one more than ``max_age`` seconds away
    from ``now`` (default: the current time), in either direction, is refused as a replay.
    The comparison takes constant time.
    """
    if not secret or not header:
        return False
    try:
        sent = int(str(timestamp).strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > max_age:
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else body
    expected = sign(secret, sent, raw)
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("utf-8"))
