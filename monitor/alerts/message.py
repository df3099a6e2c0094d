"""What an alert says: plain text for people, JSON for machines. Never media.

Text (``alert_text``, ``system_text``) is plain: no Markdown or HTML, nothing escaped, sent with
no parse mode. It names where the image was posted and how to review the hit; of the image's
hashes it shows only a short prefix of the file's SHA-256.

The webhook document of a hit (``alert_payload``), keys stable::

    type             "hit"
    hit_id           int, the hit's id (``monitor hits show ID``)
    tier             "exact" | "near-exact" | "match"
    bank             the hash-list bank's name
    case_id          the list entry's case id, or null
    label            the list entry's label, or null
    hash_type        "pdq" | "phash" | "md5" | "sha256" | "vpdq" (a listed video's frames)
    distance         int, Hamming distance (0 for md5 / sha256; the median over the matched
                     frames for video and clip matches)
    variant          which transformation of the posted image matched ("original", "rot90", ...)
    match_kind       "file" | "image" | "frame" | "clip" | "video" (what matched what)
    matched_span     [start, end] seconds of the posted video that matched, or null
    coverage         share (0-1) of the listed video's distinct frames matched, or null
    matched_frames   [[posted seconds | null, listed seconds | null, distance], ...] (at most
                     50), or []
    channel          {"id": int | null (Bot-API form, -100...), "title": str | null,
                      "username": str | null (without "@")}
    message_id       int | null
    link             the message's t.me link, or null
    posted_at        when the message was posted, ISO 8601 in UTC ("2024-08-26T03:00:00+00:00"),
                     or null
    posted_at_local  the same instant in the configured time zone (reports.timezone), or null
    detected_at      when the hit was recorded, ISO 8601 in UTC
    media_kind       "photo" | "image" | "sticker" | "animation" | "video" | "other"
    sha256           the posted file's SHA-256 (lower-case hex)
    review_status    "new" | "confirmed" | "false_positive" | "needs_info"

A daemon-level alert (``system_payload``), keys stable::

    type    "system"
    event   what happened: one of ``SYSTEM_EVENTS`` ("session_revoked", "flood_wait",
            "daemon_stopped") or another short snake_case name
    title   a one-line description of the event
    detail  free text (secrets redacted, at most 1000 characters)
    at      when the alert was made, ISO 8601 in UTC
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitor.domain import Hit, MatchKind, SightingSource, Tier
from monitor.logs import redact_text

# Daemon-level events and how they read.
SESSION_REVOKED = "session_revoked"
FLOOD_WAIT = "flood_wait"
DAEMON_STOPPED = "daemon_stopped"
SYSTEM_EVENTS: dict[str, str] = {
    SESSION_REVOKED: "The Telegram session was revoked: the monitor is not watching any channel",
    FLOOD_WAIT: "Telegram asked the monitor to wait a long time (flood wait)",
    DAEMON_STOPPED: "The monitor daemon stopped on an error",
}

SHA256_PREFIX = 12  # hex characters of the file's SHA-256 shown in text alerts
MAX_DETAIL = 1000  # characters of a system alert's detail
_UTC_NAMES = ("UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu", "Universal")


def alert_text(hit: Hit, *, timezone: str) -> str:
    """A short plain-text alert about ``hit`` for staff."""
    src = hit.source
    strong = hit.tier in (Tier.EXACT, Tier.NEAR_EXACT)
    headline = (
        f"{hit.tier.value.upper()} hash-list hit #{hit.id}"
        if strong
        else f"{hit.tier.value} hash-list hit #{hit.id} (needs review)"
    )
    lines = [headline]
    lines.append(f"Bank: {hit.bank}, " + (f"case {hit.case_id}" if hit.case_id else "no case id"))
    match = f"Match: {hit.hash_type.value} distance {hit.distance}"
    if hit.variant.value != "original":
        match += f" (variant {hit.variant.value})"
    lines.append(match)
    video = _video_line(hit)
    if video:
        lines.append(video)
    lines.extend(_where_lines(src))
    posted = src.posted_at if src is not None else None
    lines.append(f"Posted: {_both_times(posted, timezone)}")
    kind = src.media_kind.value if src is not None else "unknown"
    lines.append(f"Media: {kind}, sha256 {hit.sha256[:SHA256_PREFIX]}...")
    lines.append(f"Hit id: {hit.id}")
    lines.append(f"Review: monitor hits show {hit.id}")
    return "\n".join(lines)


def alert_payload(hit: Hit, *, timezone: str) -> dict[str, Any]:
    """The webhook document of ``hit`` (keys in the module docstring)."""
    src = hit.source
    posted = _utc(src.posted_at) if src is not None and src.posted_at is not None else None
    return {
        "type": "hit",
        "hit_id": hit.id,
        "tier": hit.tier.value,
        "bank": hit.bank,
        "case_id": hit.case_id,
        "label": hit.label,
        "hash_type": hit.hash_type.value,
        "distance": hit.distance,
        "variant": hit.variant.value,
        "match_kind": hit.kind.value,
        "matched_span": list(hit.span) if hit.span is not None else None,
        "coverage": hit.coverage,
        "matched_frames": [[p.query_ts, p.entry_ts, p.distance] for p in hit.frames[:50]],
        "channel": {
            "id": src.chat_id if src is not None else None,
            "title": src.chat_title if src is not None else None,
            "username": src.chat_username if src is not None else None,
        },
        "message_id": src.message_id if src is not None else None,
        "link": src.link if src is not None else None,
        "posted_at": _iso(posted),
        "posted_at_local": _iso(posted.astimezone(ZoneInfo(timezone))) if posted else None,
        "detected_at": _iso(_utc(hit.created_at)),
        "media_kind": src.media_kind.value if src is not None else None,
        "sha256": hit.sha256,
        "review_status": hit.review_status.value,
    }


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(max(seconds, 0.0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _video_line(hit: Hit) -> str | None:
    """Where in the video the match is, for video, clip and frame matches."""
    if hit.kind is MatchKind.VIDEO or hit.kind is MatchKind.CLIP:
        text = "Whole listed video" if hit.kind is MatchKind.VIDEO else "Clip of a listed video"
        if hit.span is not None:
            text += f", posted video {_clock(hit.span[0])} to {_clock(hit.span[1])}"
        if hit.coverage is not None:
            text += f", {hit.coverage:.0%} of its frames"
        return text
    if hit.kind is MatchKind.FRAME and hit.frames:
        first = hit.frames[0]
        if first.entry_ts is not None:
            return f"Still of a listed video, at {_clock(first.entry_ts)} of it"
        if first.query_ts is not None:
            return f"Frame of the posted video at {_clock(first.query_ts)} matches a listed image"
    return None


def system_text(event: str, detail: str) -> str:
    """A plain-text daemon-level alert (session revoked, long flood wait, stopped on error)."""
    lines = [f"telegram-hash-monitor: {SYSTEM_EVENTS.get(event, event)}", f"Event: {event}"]
    clean = _detail(detail)
    if clean:
        lines.append(clean)
    return "\n".join(lines)


def system_payload(event: str, detail: str, *, at: datetime | None = None) -> dict[str, Any]:
    """The webhook document of a daemon-level alert (keys in the module docstring)."""
    return {
        "type": "system",
        "event": event,
        "title": SYSTEM_EVENTS.get(event, event),
        "detail": _detail(detail),
        "at": _iso(_utc(at or datetime.now(UTC))),
    }


def _where_lines(src: SightingSource | None) -> list[str]:
    if src is None:
        return ["Source: unknown"]
    lines = []
    if src.chat_title or src.chat_username or src.chat_id is not None:
        name = src.chat_title or ""
        if src.chat_username:
            handle = f"@{src.chat_username}"
        else:
            handle = f"id {src.chat_id}" if src.chat_id is not None else ""
        if name and handle:
            lines.append(f"Channel: {name} ({handle})")
        else:
            lines.append(f"Channel: {name or handle}")
    elif src.path:
        lines.append(f"File: {src.path}")
    else:
        lines.append(f"Source: {src.key}")
    if src.link:
        lines.append(f"Message: {src.link}")
    elif src.message_id is not None:
        lines.append(f"Message: #{src.message_id}")
    return lines


def _both_times(value: datetime | None, timezone: str) -> str:
    if value is None:
        return "unknown"
    utc = _utc(value)
    text = utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    if timezone in _UTC_NAMES:
        return text
    local = utc.astimezone(ZoneInfo(timezone))
    return f"{text} / {local.strftime('%Y-%m-%d %H:%M:%S %Z')} ({timezone})"


def _utc(value: datetime) -> datetime:
    """Aware UTC; a naive value (as SQLite may return) is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def _detail(detail: str) -> str:
    clean = redact_text(detail.strip())
    if len(clean) > MAX_DETAIL:
        clean = clean[: MAX_DETAIL - 3] + "..."
    return clean
