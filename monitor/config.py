"""Configuration: a TOML file into frozen, typed settings.

Where the file comes from: ``--config PATH``, else ``$MONITOR_CONFIG``, else none (every default).
Environment variables override *secrets only* (see ``SECRET_ENV``); everything else lives in the
file, so that what runs is what the file says. Unknown keys, values of the wrong type or out of
range, and the placeholder values of ``config.example.toml`` are refused with a ``ConfigError``
naming the key.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import tomllib
import types
import typing
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor.errors import ConfigError

CONFIG_ENV = "MONITOR_CONFIG"

# Secrets that may come from the environment instead of the file: env var -> (section, key).
SECRET_ENV: dict[str, tuple[str, str]] = {
    "MONITOR_DATABASE_URL": ("database", "url"),
    "MONITOR_TELEGRAM_API_ID": ("telegram", "api_id"),
    "MONITOR_TELEGRAM_API_HASH": ("telegram", "api_hash"),
    "MONITOR_TELEGRAM_PROXY_PASSWORD": ("telegram.proxy", "password"),
    "MONITOR_TELEGRAM_PROXY_SECRET": ("telegram.proxy", "secret"),
    "MONITOR_ALERTS_BOT_TOKEN": ("alerts", "bot_token"),
    "MONITOR_ALERTS_WEBHOOK_URL": ("alerts", "webhook_url"),
    "MONITOR_ALERTS_WEBHOOK_SECRET": ("alerts", "webhook_secret"),
}

# Settings whose values are secrets: registered with the log redactor when settings load.
SECRET_KEYS: tuple[tuple[str, str], ...] = (
    ("telegram", "api_hash"),
    ("telegram.proxy", "password"),
    ("telegram.proxy", "secret"),
    ("alerts", "bot_token"),
    ("alerts", "webhook_url"),
    ("alerts", "webhook_secret"),
)

# Values copied from config.example.toml that must be replaced before use.
PLACEHOLDERS: dict[tuple[str, str], object] = {
    ("database", "url"): "postgresql+asyncpg://monitor:CHANGE-ME@db.example/monitor",
    ("telegram", "api_id"): 12345,
    ("telegram", "api_hash"): "0123456789abcdef0123456789abcdef",
    ("alerts", "bot_token"): "123456:CHANGE-ME",
    ("alerts", "webhook_url"): "https://alerts.example/CHANGE-ME",
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
class VideoSettings:
    """Video and animation hashing (MP4, MOV, WebM, GIF, animated WebP): caps and frame sampling."""

    # Largest video file, in bytes, that is read and hashed at all.
    max_bytes: int = 100 * MiB
    # Longest video, in seconds, that is decoded ("too_long" beyond; the container's own claim is
    # checked before decoding, the frames' timestamps while decoding).
    max_duration: float = 3600.0
    # Largest frame, in pixels (width x height), that is decoded (4096 x 2160).
    max_pixels: int = 4096 * 2160
    # Most frames decoded from one file ("too_many_frames" beyond).
    max_frames: int = 30_000
    # Wall-clock seconds one file may take to decode and hash ("decode_timeout" beyond).
    time_budget: float = 30.0
    # Frames hashed per second of video (on top of the keyframes).
    sample_rate: float = 1.0
    # Most keyframes hashed besides the sampled frames (and in keyframe-only mode, in all).
    max_keyframes: int = 300
    # Videos up to this many seconds long are fully decoded and sampled at sample_rate; longer
    # ones are hashed from keyframes only (a fast pass that decodes nothing else). 0: always.
    full_decode_seconds: float = 300.0
    # Consecutive hashed frames within this PDQ distance of a run's first frame are collapsed into
    # it (a static shot gives one hash, with the span it covers). -1: never collapse.
    collapse_distance: int = 8


@dataclass(frozen=True, slots=True)
class HashingSettings:
    # Largest image file, in bytes, that is read and hashed at all (videos: [hashing.video]).
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
    # Videos and animations: see VideoSettings. (min_pdq_quality and trim_borders apply to frames.)
    video: VideoSettings = field(default_factory=VideoSettings)


@dataclass(frozen=True, slots=True)
class MatchingSettings:
    """Defaults given to a bank created without thresholds of its own."""

    pdq: int = 31
    pdq_near_exact: int = 10
    pdq_reoriented: int = 24
    phash: int = 8
    # Video matching: a posted video matches a listed video when at least this share of the
    # listed video's distinct frames have a posted frame within ``pdq``...
    video_share: float = 0.8
    # ...or a clip of it when at least this many consecutive seconds of the posted video do.
    clip_seconds: float = 3.0


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    level: str = "info"  # debug, info, warning, error
    format: str = "auto"  # auto (console on a terminal, JSON otherwise), console, json


@dataclass(frozen=True, slots=True)
class ReportSettings:
    # IANA time zone that reports show local times in, next to UTC (e.g. "Asia/Seoul").
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class TakedownSettings:
    # Seconds between re-checks of a reported message that is still up (the daemon re-checks;
    # `monitor takedown verify` checks on demand).
    recheck_interval: int = 3600
    # Stop re-checking a message this many days after it was reported (it stays in reports).
    recheck_days: int = 90
    # Most messages re-checked in one pass (Telegram is asked 100 at a time per channel).
    recheck_batch: int = 500


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """A Telegram server other than Telegram's own (a test server). Empty host: Telegram's."""

    host: str = ""
    port: int = 443
    dc_id: int = 2
    # PEM file with the server's RSA public key (test servers have their own key).
    public_key: Path | None = None


@dataclass(frozen=True, slots=True)
class ProxySettings:
    # "" (none), "socks5", "socks4", "http" or "mtproxy".
    type: str = ""
    host: str = ""
    port: int = 0
    username: str = ""
    password: str = ""  # secret: MONITOR_TELEGRAM_PROXY_PASSWORD
    secret: str = ""  # MTProxy secret (hex); secret: MONITOR_TELEGRAM_PROXY_SECRET


@dataclass(frozen=True, slots=True)
class MediaPolicy:
    """Which Telegram media is downloaded and hashed; checked before any byte is fetched."""

    # Largest photo, image file or static sticker downloaded, in bytes (Telegram reports the size
    # before download).
    max_bytes: int = 20 * MiB
    # Largest video downloaded, in bytes: videos, round video messages, GIFs (which Telegram sends
    # as MP4), video stickers, anything with a video/* MIME type. At most hashing.video.max_bytes.
    max_video_bytes: int = 50 * MiB
    # Media kinds fetched: photo, image (an image sent as a file), sticker (static, video and
    # animated), animation (GIF), video (video files, video documents and round video messages).
    kinds: tuple[str, ...] = ("photo", "image", "sticker", "animation", "video")
    # MIME types fetched for documents (photos are always JPEG). Animated stickers
    # (application/x-tgsticker, at most 64 KiB) are fetched for their exact hashes only: vector
    # animations are not rendered ("lottie_unsupported").
    mime_types: tuple[str, ...] = (
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "image/bmp",
        "image/tiff",
        "image/heic",
        "image/heif",
        "video/mp4",
        "video/webm",
        "video/quicktime",
        "video/x-matroska",
        "application/x-tgsticker",
    )
    # Telegram media ids remembered in memory, so a forwarded copy is not fetched again.
    cache_size: int = 50_000


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    # From https://my.telegram.org (API development tools). Also MONITOR_TELEGRAM_API_ID.
    api_id: int = 0
    api_hash: str = ""  # secret: MONITOR_TELEGRAM_API_HASH
    # Name of the session (account) in the store; several daemons need several sessions.
    session: str = "default"
    # The allow-list: @username, t.me/name, t.me/+HASH, t.me/joinchat/HASH or a numeric id.
    channels: tuple[str, ...] = ()
    # Seconds between reconciler passes (history fetched after each channel's cursor).
    reconcile_interval: float = 300.0
    # A channel watched for the first time: process its messages of the last N days (0: only
    # messages posted from now on). `monitor backfill` reaches further back on demand.
    initial_history_days: float = 7.0
    # Seconds between two channel joins (Telegram limits joins).
    join_interval: float = 30.0
    # Flood waits up to this many seconds are slept through inside the request.
    flood_sleep_threshold: int = 60
    # Longest flood wait accepted at all; a longer one stops the daemon (exit 7) with its resume
    # point kept, rather than leaving it silently idle for hours.
    max_flood_wait: int = 3600
    # Messages waiting between Telegram and hashing (back-pressure on the reconciler).
    queue_size: int = 256
    # Downloads and hash jobs in flight at once.
    concurrency: int = 8
    # Hashing worker processes; 0: one per CPU core.
    hash_workers: int = 0
    # Seconds to finish in-flight work after SIGINT/SIGTERM before exiting.
    drain_timeout: float = 30.0
    # Seconds between pages of history (100 messages each) in reconciler passes.
    history_page_wait: float = 0.2
    # Several daemons (each with its own session) may share one store: each channel is
    # processed by the one daemon holding its lease. A lease not renewed for lease_seconds is
    # taken over by another daemon; it is renewed every lease_renew_interval seconds (0: a
    # third of lease_seconds).
    lease_seconds: float = 60.0
    lease_renew_interval: float = 0.0
    device_model: str = "telegram-hash-monitor"
    server: ServerSettings = field(default_factory=ServerSettings)
    proxy: ProxySettings = field(default_factory=ProxySettings)
    media: MediaPolicy = field(default_factory=MediaPolicy)

    @property
    def configured(self) -> bool:
        return bool(self.api_id and self.api_hash)

    @property
    def lease_renew(self) -> float:
        """Seconds between renewals of the channel leases."""
        return self.lease_renew_interval or self.lease_seconds / 3


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """Where staff are told about new hits. Alerts never carry media."""

    # A staff chat the monitoring account writes to: @username, numeric id, or "me".
    chat: str = ""
    # A bot writes instead (Telegram Bot API), to bot_chat (numeric chat id or @channel).
    bot_token: str = ""  # secret: MONITOR_ALERTS_BOT_TOKEN
    bot_chat: str = ""
    bot_api_url: str = "https://api.telegram.org"
    # JSON POST of each alert; secret: MONITOR_ALERTS_WEBHOOK_URL (URLs often carry tokens).
    webhook_url: str = ""
    # HMAC-SHA256 key signing webhook bodies (header X-Monitor-Signature); secret.
    webhook_secret: str = ""
    # Weakest tier alerted: exact, near-exact or match.
    min_tier: str = "match"
    # Delivery attempts before an alert is marked failed; delays grow from retry_initial to
    # retry_max seconds.
    max_attempts: int = 12
    retry_initial: float = 5.0
    retry_max: float = 900.0
    timeout: float = 10.0

    @property
    def targets(self) -> tuple[str, ...]:
        """The configured delivery targets: "chat", "bot", "webhook"."""
        out = []
        if self.chat:
            out.append("chat")
        if self.bot_token and self.bot_chat:
            out.append("bot")
        if self.webhook_url:
            out.append("webhook")
        return tuple(out)


@dataclass(frozen=True, slots=True)
class EvidenceSettings:
    """Optional: keep each hit's media sealed to a public key (see monitor.evidence)."""

    # Off by default: the monitor keeps hashes and metadata, never media.
    enabled: bool = False
    # The unit's X25519 public key, base64, from `monitor evidence keygen` (run on the machine
    # that keeps the private key; the daemon host can seal evidence but never open it).
    public_key: str = ""
    # Where sealed items go. Empty: data_dir/evidence.
    directory: str = ""
    # Sealed items older than this many days are deleted (`monitor evidence purge`).
    retention_days: int = 90


@dataclass(frozen=True, slots=True)
class ObservabilitySettings:
    """The daemon's HTTP endpoints: /metrics (Prometheus), /healthz and /readyz."""

    # Serve them while `monitor run` runs (not with --once, backfill or other commands).
    enabled: bool = True
    # IP address to listen on. Loopback by default: the endpoints have no authentication;
    # any other address (e.g. 0.0.0.0 in a container) is logged as a warning at start.
    bind: str = "127.0.0.1"
    # TCP port (9464: Prometheus exporters' customary range). 0: any free port (tests).
    port: int = 9464


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    hashing: HashingSettings = field(default_factory=HashingSettings)
    matching: MatchingSettings = field(default_factory=MatchingSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    reports: ReportSettings = field(default_factory=ReportSettings)
    takedown: TakedownSettings = field(default_factory=TakedownSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    evidence: EvidenceSettings = field(default_factory=EvidenceSettings)
    observability: ObservabilitySettings = field(default_factory=ObservabilitySettings)
    source: Path | None = None  # the file these came from, if any

    @property
    def evidence_dir(self) -> Path:
        if self.evidence.directory:
            return Path(self.evidence.directory).expanduser()
        return self.data_dir / "evidence"

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{self.data_dir / 'monitor.sqlite3'}"


# --- validation rules beyond types: (section, key) -> check returning a problem or None ---------


def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be greater than 0"


def _share(v: Any) -> str | None:
    return None if 0 < v <= 1 else "must be more than 0 and at most 1 (a share, e.g. 0.8)"


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


def _non_negative(v: Any) -> str | None:
    return None if v >= 0 else "must be 0 or more"


def _http_url(v: Any) -> str | None:
    if v and not v.startswith(("http://", "https://")):
        return "must be an http:// or https:// URL"
    return None


def _kinds(v: Any) -> str | None:
    known = ("photo", "image", "sticker", "animation", "video")
    bad = [k for k in v if k not in known]
    return f"unknown kind(s) {', '.join(bad)} (known: {', '.join(known)})" if bad else None


def _ip_address(v: Any) -> str | None:
    try:
        ipaddress.ip_address(v)
    except ValueError:
        return "must be an IP address, e.g. 127.0.0.1 (loopback only), ::1 or 0.0.0.0 (all)"
    return None


def _hex(v: Any) -> str | None:
    try:
        bytes.fromhex(v.removeprefix("ee").removeprefix("dd") if v else "")
    except ValueError:
        return "must be hexadecimal"
    return None


CHECKS: dict[tuple[str, str], typing.Callable[[Any], str | None]] = {
    ("database", "url"): _db_url,
    ("database", "connect_timeout"): _positive,
    ("hashing", "max_bytes"): _positive,
    ("hashing", "max_pixels"): _positive,
    ("hashing", "min_pdq_quality"): _range(0, 100),
    ("hashing.video", "max_bytes"): _positive,
    ("hashing.video", "max_duration"): _positive,
    ("hashing.video", "max_pixels"): _positive,
    ("hashing.video", "max_frames"): _positive,
    ("hashing.video", "time_budget"): _positive,
    ("hashing.video", "sample_rate"): _positive,
    ("hashing.video", "max_keyframes"): _positive,
    ("hashing.video", "full_decode_seconds"): _non_negative,
    ("hashing.video", "collapse_distance"): _range(-1, 64),
    ("matching", "pdq"): _range(0, 256),
    ("matching", "pdq_near_exact"): _range(0, 256),
    ("matching", "pdq_reoriented"): _range(0, 256),
    ("matching", "phash"): _range(0, 64),
    ("matching", "video_share"): _share,
    ("matching", "clip_seconds"): _positive,
    ("logging", "level"): _one_of("debug", "info", "warning", "error"),
    ("logging", "format"): _one_of("auto", "console", "json"),
    ("reports", "timezone"): _timezone,
    ("evidence", "retention_days"): _positive,
    ("takedown", "recheck_interval"): _positive,
    ("takedown", "recheck_days"): _positive,
    ("takedown", "recheck_batch"): _positive,
    ("telegram", "api_id"): _non_negative,
    ("telegram", "reconcile_interval"): _positive,
    ("telegram", "initial_history_days"): _non_negative,
    ("telegram", "join_interval"): _non_negative,
    ("telegram", "flood_sleep_threshold"): _non_negative,
    ("telegram", "max_flood_wait"): _positive,
    ("telegram", "queue_size"): _positive,
    ("telegram", "concurrency"): _positive,
    ("telegram", "hash_workers"): _non_negative,
    ("telegram", "drain_timeout"): _positive,
    ("telegram", "history_page_wait"): _non_negative,
    ("telegram", "lease_seconds"): _range(1, 86_400),
    ("telegram", "lease_renew_interval"): _non_negative,
    ("telegram", "session"): lambda v: None if v.strip() else "must not be empty",
    ("telegram.server", "port"): _range(1, 65535),
    ("telegram.server", "dc_id"): _range(1, 1000),
    ("telegram.proxy", "type"): _one_of("", "socks5", "socks4", "http", "mtproxy"),
    ("telegram.proxy", "port"): _range(0, 65535),
    ("telegram.proxy", "secret"): _hex,
    ("telegram.media", "max_bytes"): _positive,
    ("telegram.media", "max_video_bytes"): _positive,
    ("telegram.media", "kinds"): _kinds,
    ("telegram.media", "cache_size"): _non_negative,
    ("alerts", "bot_api_url"): _http_url,
    ("alerts", "webhook_url"): _http_url,
    ("alerts", "min_tier"): _one_of("exact", "near-exact", "match"),
    ("alerts", "max_attempts"): _positive,
    ("alerts", "retry_initial"): _positive,
    ("alerts", "retry_max"): _positive,
    ("alerts", "timeout"): _positive,
    ("observability", "bind"): _ip_address,
    ("observability", "port"): _range(0, 65535),
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
    if source is not None:
        _check_private(source, raw)
    for var, (section, key) in SECRET_ENV.items():
        secret = _secret_from_env(env, var, f"{section}.{key}")
        if not secret:
            continue
        table = raw
        for part in section.split("."):
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                raise ConfigError(section, "must be a table")
        value: Any = secret
        if key == "api_id":
            if not value.strip().isdigit():
                raise ConfigError(f"{section}.{key}", f"${var} must be a whole number")
            value = int(value)
        table[key] = value
    settings: Settings = _build(Settings, raw, "")
    settings = replace(settings, source=source)
    _check_combinations(settings)
    return settings


def _check_combinations(settings: Settings) -> None:
    """Rules that involve several keys."""
    proxy = settings.telegram.proxy
    if proxy.type and (not proxy.host or not proxy.port):
        raise ConfigError("telegram.proxy.host", f"a {proxy.type} proxy needs host and port")
    if proxy.type == "mtproxy" and not proxy.secret:
        raise ConfigError("telegram.proxy.secret", "an MTProxy needs its secret")
    if settings.telegram.media.max_video_bytes > settings.hashing.video.max_bytes:
        raise ConfigError(
            "telegram.media.max_video_bytes",
            f"must be at most hashing.video.max_bytes ({settings.hashing.video.max_bytes}): "
            "a larger video would be downloaded and then refused",
        )
    telegram = settings.telegram
    if telegram.lease_renew_interval > telegram.lease_seconds / 2:
        raise ConfigError(
            "telegram.lease_renew_interval",
            f"must be at most half of telegram.lease_seconds ({telegram.lease_seconds:g}): "
            "a lease must survive a missed renewal",
        )
    server = settings.telegram.server
    if server.public_key is not None and not server.host:
        raise ConfigError("telegram.server.public_key", "is only used with telegram.server.host")
    alerts = settings.alerts
    if alerts.bot_token and not alerts.bot_chat:
        raise ConfigError("alerts.bot_chat", "is needed with alerts.bot_token (the chat to alert)")
    if alerts.bot_chat and not alerts.bot_token:
        raise ConfigError("alerts.bot_token", "is needed with alerts.bot_chat")
    if alerts.webhook_secret and not alerts.webhook_url:
        raise ConfigError("alerts.webhook_url", "is needed with alerts.webhook_secret")
    if alerts.retry_max < alerts.retry_initial:
        raise ConfigError("alerts.retry_max", "must be at least alerts.retry_initial")
    evidence = settings.evidence
    if evidence.enabled and not evidence.public_key:
        raise ConfigError(
            "evidence.public_key", "is needed with evidence.enabled (`monitor evidence keygen`)"
        )
    if evidence.public_key:
        from monitor.evidence import parse_public_key  # PyNaCl only when evidence is used

        parse_public_key(evidence.public_key)


def _secret_from_env(env: Mapping[str, str], var: str, key: str) -> str | None:
    """A secret from ``$VAR``, or read from the file ``$VAR_FILE`` names (Docker and systemd
    credentials: ``/run/secrets/...``, ``$CREDENTIALS_DIRECTORY/...``); never both."""
    direct = env.get(var)
    file_name = env.get(f"{var}_FILE")
    if direct and file_name:
        raise ConfigError(key, f"both ${var} and ${var}_FILE are set; set one")
    if not file_name:
        return direct or None
    path = Path(file_name).expanduser()
    try:
        with path.open("rb") as fh:
            data = fh.read(64 * 1024 + 1)
    except OSError as exc:
        raise ConfigError(key, f"${var}_FILE: cannot read {path}: {exc.strerror}") from None
    if len(data) > 64 * 1024:
        raise ConfigError(key, f"${var}_FILE: {path} is larger than 64 KiB")
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(key, f"${var}_FILE: {path} is not UTF-8 text") from None
    if not text:
        raise ConfigError(key, f"${var}_FILE: {path} is empty")
    return text


def _secrets_in(raw: Mapping[str, Any]) -> list[str]:
    """The secret keys a config file sets (a database URL counts when it has a password)."""
    found = []
    for section, key in (*SECRET_KEYS, ("database", "url")):
        table: Any = raw
        for part in section.split("."):
            table = table.get(part) if isinstance(table, Mapping) else None
        value = table.get(key) if isinstance(table, Mapping) else None
        if not value or not isinstance(value, str):
            continue
        if (section, key) == ("database", "url"):
            try:
                if urlsplit(value).password is None:
                    continue
            except ValueError:  # a bad URL is reported by its own check
                continue
        found.append(f"{section}.{key}")
    return found


def _check_private(path: Path, raw: Mapping[str, Any]) -> None:
    """A config file that holds secrets must be readable by its owner only."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if not mode & 0o077:
        return
    secrets = _secrets_in(raw)
    if secrets:
        raise ConfigError(
            secrets[0],
            f"config file {path} holds secrets ({', '.join(secrets)}) and other users can read "
            f"it (mode {stat.S_IMODE(mode):04o}): run `chmod 600 {path}`, or move the secrets to "
            "the environment or secret files (see SECRET_ENV and its _FILE forms)",
        )


def secret_values(settings: Settings) -> list[str]:
    """The secret values in ``settings`` (for the log redactor)."""
    values: list[str] = []
    for section, key in SECRET_KEYS:
        obj: Any = settings
        for part in section.split("."):
            obj = getattr(obj, part)
        value = getattr(obj, key)
        if value:
            values.append(str(value))
    return values


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
