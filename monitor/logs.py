"""Structured logging, set up once: console lines on a terminal, JSON lines otherwise.

Logs go to stderr so that stdout stays clean for ``--json`` output. Secrets never reach a log
line: values registered with ``register_secret`` and keys that look secret (``api_hash``,
``password``, ``token``, ``session`` ...) are redacted by a processor, as are passwords inside
database URLs.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"
_SECRET_KEYS = re.compile(r"(api_hash|password|passwd|secret|token|session_string|auth_key)", re.I)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]+):(?P<pw>[^@\s]+)@", re.I)
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Make sure ``value`` never appears in a log line (short values are ignored: too noisy)."""
    if value and len(value) >= 6:
        _secrets.add(value)


def redact_text(text: str) -> str:
    text = _URL_PASSWORD.sub(rf"\g<scheme>:{REDACTED}@", text)
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            k: REDACTED if _SECRET_KEYS.search(str(k)) else _redact_value(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(_redact_value(v) for v in value)
    if isinstance(value, BaseException):
        return redact_text(str(value))
    return value


def redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if _SECRET_KEYS.search(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact_value(event_dict[key])
    return event_dict


def _redact_rendered(_logger: Any, _method: str, rendered: Any) -> Any:
    # Last line of defence: tracebacks are rendered to text after the per-key pass.
    return redact_text(rendered) if isinstance(rendered, str) else rendered


class _Stderr:
    """Whatever ``sys.stderr`` is at the time of writing (it may be replaced after set-up, e.g.
    by a test runner capturing output, or closed; a stale reference would fail)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def setup_logging(level: str = "info", fmt: str = "auto", stream: Any = None) -> None:
    """Configure structlog and the stdlib root logger. Safe to call more than once."""
    stream = stream or _Stderr()
    numeric = logging.getLevelName(level.upper())
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_processor,
    ]
    renderer: Any
    if use_json:
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty())
    structlog.configure(
        processors=[*shared, renderer, _redact_rendered],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # Libraries (alembic, telethon, sqlalchemy) log through stdlib: keep them quiet and redacted.
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(max(numeric, logging.WARNING))


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
