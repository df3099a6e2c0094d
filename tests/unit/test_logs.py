from __future__ import annotations

import io
import json

import structlog

from monitor.logs import get_logger, redact_text, register_secret, setup_logging


def test_secrets_never_reach_a_log_line() -> None:
    stream = io.StringIO()
    setup_logging("debug", "json", stream=stream)
    register_secret("0123456789abcdef0123456789abcdef")
    log = get_logger("t")
    log.info("connecting", api_hash="0123456789abcdef0123456789abcdef", user="analyst")
    log.info("db", url="postgresql+asyncpg://monitor:hunter2secret@db:5432/monitor")
    log.info("free text 0123456789abcdef0123456789abcdef inside")
    try:
        raise RuntimeError("token=0123456789abcdef0123456789abcdef")
    except RuntimeError:
        log.exception("failed")
    text = stream.getvalue()
    assert "0123456789abcdef0123456789abcdef" not in text
    assert "hunter2secret" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["api_hash"] == "[redacted]"
    assert lines[0]["user"] == "analyst"
    assert "monitor:[redacted]@db" in lines[1]["url"]
    structlog.reset_defaults()


def test_redact_text_keeps_urls_without_password() -> None:
    assert redact_text("sqlite+aiosqlite:///tmp/x.db") == "sqlite+aiosqlite:///tmp/x.db"
    assert redact_text("postgresql://u:p4ss@h/db") == "postgresql://u:[redacted]@h/db"
