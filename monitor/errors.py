"""The exception tree of the monitor, and the exit code each branch maps to.

    MonitorError                      exit 1   anything we raise on purpose
    ├── ConfigError                   exit 3   bad or missing configuration (names the key)
    ├── InputError                    exit 4   bad input from the user or the network
    │   ├── MediaError                         one media item cannot be hashed (has a reason code)
    │   └── HashListError                      a hash-list line is invalid (names file:line)
    ├── StoreError                    exit 5   the database cannot be used
    │   ├── DatabaseUnavailable                cannot connect
    │   └── SchemaMismatch                     schema missing, behind, or newer than this code
    ├── NotFound                      exit 6   a named bank, hit or channel does not exist
    └── TelegramError                 exit 7   Telegram could not be used
        └── SessionRevoked            exit 8   the session is revoked, duplicated or unregistered

Exit code 2 is reserved for command-line usage errors (click's own), 130 for an interrupt.
Every error's ``str()`` is one human-readable line; the CLI prints it without a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class MonitorError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class ConfigError(MonitorError):
    exit_code = 3

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"config key {key!r}: {problem}" if key else problem)

    def __reduce__(self) -> tuple[type[ConfigError], tuple[str, str]]:
        return (type(self), (self.key, self.problem))


class InputError(MonitorError):
    exit_code = 4


class MediaErrorReason(StrEnum):
    """Why a media item could not be hashed. Stored with sightings; keep values stable."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"  # byte cap exceeded
    TOO_MANY_PIXELS = "too_many_pixels"  # decompression bomb / pixel cap
    UNSUPPORTED_FORMAT = "unsupported_format"  # not an image type we decode
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    TIMEOUT = "timeout"
    UNSUPPORTED_KIND = "unsupported_kind"  # a kind of file no hasher handles
    KIND_NOT_ALLOWED = "kind_not_allowed"  # excluded by telegram.media.kinds
    MIME_NOT_ALLOWED = "mime_not_allowed"  # excluded by telegram.media.mime_types
    UNAVAILABLE = "unavailable"  # the media could not be fetched (gone, no longer accessible)
    PROCESSING_ERROR = "processing_error"  # failed repeatedly for an unexpected reason (a bug)
    # video and animations (monitor.hashing.video)
    CORRUPT_VIDEO = "corrupt_video"  # the container or stream cannot be read, no frame decoded
    NO_VIDEO_STREAM = "no_video_stream"  # a container without a picture track (audio only ...)
    TOO_LONG = "too_long"  # duration cap (hashing.video.max_duration) exceeded
    TOO_MANY_FRAMES = "too_many_frames"  # decoded-frame cap (hashing.video.max_frames) exceeded
    DECODE_TIMEOUT = "decode_timeout"  # the per-file wall-clock budget ran out
    LOTTIE_UNSUPPORTED = "lottie_unsupported"  # an animated sticker (.tgs): vector, not rendered
    LOW_QUALITY = "low_quality"  # no frame reached the PDQ quality minimum (black, flat)


class MediaError(InputError):
    def __init__(self, reason: MediaErrorReason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)

    def __reduce__(self) -> tuple[type[MediaError], tuple[object, ...]]:
        # Errors cross process boundaries (the hashing pool); rebuild from the fields, since the
        # default exception pickling would call MediaError(message).
        return (type(self), (self.reason, self.detail))


class HashListError(InputError):
    """An invalid hash-list entry. ``line`` is 1-based; 0 means the file as a whole."""

    def __init__(
        self, source: str, line: int, problem: str, more: Sequence[tuple[int, str]] = ()
    ) -> None:
        self.source = source
        self.line = line
        self.problem = problem
        self.more = tuple(more)  # further (line, problem) pairs found in the same file
        where = f"{source}:{line}" if line else source
        message = f"{where}: {problem}"
        if self.more:
            lines = ", ".join(str(n) for n, _ in self.more[:10])
            extra = "" if len(self.more) <= 10 else ", ..."
            message += f" (and {len(self.more)} more invalid lines: {lines}{extra})"
        super().__init__(message)

    def __reduce__(
        self,
    ) -> tuple[type[HashListError], tuple[str, int, str, tuple[tuple[int, str], ...]]]:
        return (type(self), (self.source, self.line, self.problem, self.more))


class StoreError(MonitorError):
    exit_code = 5


class DatabaseUnavailable(StoreError):
    pass


class SchemaMismatch(StoreError):
    pass


class NotFound(MonitorError):
    exit_code = 6


class TelegramError(MonitorError):
    exit_code = 7


class SessionRevoked(TelegramError):
    exit_code = 8
