from __future__ import annotations

import io
import json

import pytest
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


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_format_is_json_lines_off_a_terminal_and_console_on_one() -> None:
    piped = io.StringIO()  # a pipe, a file, journald: not a terminal
    setup_logging("info", "auto", stream=piped)
    get_logger("t").info("daemon_started", channels_watched=2)
    line = json.loads(piped.getvalue())
    assert (line["event"], line["channels_watched"], line["level"]) == ("daemon_started", 2, "info")
    assert "timestamp" in line
    terminal = _Terminal()
    setup_logging("info", "auto", stream=terminal)
    get_logger("t").info("daemon_started", channels_watched=2)
    text = terminal.getvalue()
    assert "daemon_started" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    structlog.reset_defaults()
