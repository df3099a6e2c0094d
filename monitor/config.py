"""Configuration: a TOML file into frozen, typed settings.

Where the file comes from: ``--config PATH``, else ``$MONITOR_CONFIG``, else none (every default).
Environment variables override *secrets only* (see ``SECRET_ENV``); everything else lives in the
file, so that what runs is what the file says. Unknown keys, values of the wrong type or out of
range, and the placeholder values of ``config.example.toml`` are refused with a ``ConfigError``
naming the key.
"""

from __future__ import annotations

import os
import tomllib
import types
import typing
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError

CONFIG_ENV = "MONITOR_CONFIG"

# Secrets that may come from the environment instead of the file: env var -> (section, key).
SECRET_ENV: dict[str, tuple[str, str]] = {
    "MONITOR_DATABASE_URL": ("database", "url"),
}

# Values copied from config.example.toml that must be replaced before use.
PLACEHOLDERS: dict[tuple[str, str], object] = {
    ("database", "url"): "postgresql+asyncpg://monitor:CHANGE-ME@db.example/monitor",
}

MiB = 1024 * 1024


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "telegram-hash-monitor"


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    # SQLAlchemy async URL. Empty: an SQLite file ``monitor.sqlite3`` in ``data_dir``.
    url: str = ""
    # Upgrade the schema to the newest revision when the daemon or a command starts.
    auto_upgrade: bool = True
    # Seconds to wait for a connection before failing with "database unavailable".
    connect_timeout: float = 10.0
    echo: bool = False


@dataclass(frozen=True, slots=True)
class HashingSettings:
    # Largest media file, in bytes, that is read and hashed at all.
    max_bytes: int = 20 * MiB
    # Largest image, in pixels (width x height), that is decoded: decompression-bomb guard.
    max_pixels: int = 50_000_000
    # PDQ quality (0-100) below which an image gets no perceptual match; exact hashes still match.
    min_pdq_quality: int = 50
    # Query with the 8 rotations and mirror images (PDQ), not only the original orientation.
    dihedral: bool = True
    # Also hash a copy with uniform borders (letterbox, screenshot bars) trimmed away.
    trim_borders: bool = True
    # Pillow format names accepted for decoding; anything else is "unsupported_format".
    formats: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO", "HEIF")


@dataclass(frozen=True, slots=True)
class MatchingSettings:
    """Defaults given to a bank created without thresholds of its own."""

    pdq: int = 31
    pdq_near_exact: int = 10
    pdq_reoriented: int = 24
    phash: int = 8


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    level: str = "info"  # debug, info, warning, error
    format: str = "auto"  # auto (console on a terminal, JSON otherwise), console, json


@dataclass(frozen=True, slots=True)
class ReportSettings:
    # IANA time zone that reports show local times in, next to UTC (e.g. "Asia/Seoul").
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    hashing: HashingSettings = field(default_factory=HashingSettings)
    matching: MatchingSettings = field(default_factory=MatchingSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    reports: ReportSettings = field(default_factory=ReportSettings)
    source: Path | None = None  # the file these came from, if any

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{self.data_dir / 'monitor.sqlite3'}"


# --- validation rules beyond types: (section, key) -> check returning a problem or None ---------


def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be greater than 0"


def _range(lo: int, hi: int) -> typing.Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        return None if lo <= v <= hi else f"must be between {lo} and {hi}"

    return check


def _one_of(*choices: str) -> typing.Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        return None if v in choices else f"must be one of {', '.join(choices)}"

    return check


def _timezone(v: Any) -> str | None:
    try:
        zoneinfo.ZoneInfo(v)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {v!r} (use an IANA name such as 'Europe/Berlin')"
    return None


def _db_url(v: Any) -> str | None:
    if v and not v.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        return "must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
    return None


CHECKS: dict[tuple[str, str], typing.Callable[[Any], str | None]] = {
    ("database", "url"): _db_url,
    ("database", "connect_timeout"): _positive,
    ("hashing", "max_bytes"): _positive,
    ("hashing", "max_pixels"): _positive,
    ("hashing", "min_pdq_quality"): _range(0, 100),
    ("matching", "pdq"): _range(0, 256),
    ("matching", "pdq_near_exact"): _range(0, 256),
    ("matching", "pdq_reoriented"): _range(0, 256),
    ("matching", "phash"): _range(0, 64),
    ("logging", "level"): _one_of("debug", "info", "warning", "error"),
    ("logging", "format"): _one_of("auto", "console", "json"),
    ("reports", "timezone"): _timezone,
}


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``path`` (or ``$MONITOR_CONFIG``), then secrets from the environment."""
    env = os.environ if env is None else env
    if path is None and env.get(CONFIG_ENV):
        path = env[CONFIG_ENV]
    raw: dict[str, Any] = {}
    source: Path | None = None
    if path is not None:
        source = Path(path).expanduser()
        try:
            raw = tomllib.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("", f"config file {source} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError("", f"config file {source} cannot be read: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("", f"config file {source} is not valid TOML: {exc}") from None
    for var, (section, key) in SECRET_ENV.items():
        if env.get(var):
            raw.setdefault(section, {})
            if not isinstance(raw[section], dict):
                raise ConfigError(section, "must be a table")
            raw[section][key] = env[var]
    settings: Settings = _build(Settings, raw, "")
    return replace(settings, source=source)


def _build(cls: Any, raw: Mapping[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls) if f.name != "source"}
    for key in raw:
        if key not in known:
            where = f"{prefix}{key}"
            raise ConfigError(where, f"unknown key (known here: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    for name in known:
        if name not in raw:
            continue
        key = f"{prefix}{name}"
        values[name] = _convert(hints[name], raw[name], key)
        section = prefix.rstrip(".")
        check = CHECKS.get((section, name))
        if check is not None:
            problem = check(values[name])
            if problem:
                raise ConfigError(key, problem)
        if PLACEHOLDERS.get((section, name)) == raw[name]:
            raise ConfigError(key, "still has the example's placeholder value; set a real one")
    return cls(**values)


def _convert(hint: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and hasattr(hint, "__dataclass_fields__"):
        if not isinstance(value, dict):
            raise ConfigError(key, "must be a table")
        return _build(hint, value, f"{key}.")
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(key, "must be a non-empty path string")
        return Path(value).expanduser()
    if origin is tuple:
        (item,) = {a for a in typing.get_args(hint) if a is not Ellipsis}
        if not isinstance(value, list):
            raise ConfigError(key, "must be a list")
        return tuple(_convert(item, v, key) for v in value)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _convert(args[0], value, key)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, "must be true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, "must be a whole number")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, "must be a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(key, "must be a string")
        return value
    raise ConfigError(key, f"unsupported setting type {hint!r}")  # pragma: no cover
