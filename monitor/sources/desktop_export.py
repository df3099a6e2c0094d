"""Read a Telegram Desktop "Export chat history" folder (JSON format).

The folder holds ``result.json`` and the exported media in ``photos/``, ``files/``, ``video_files/``
and so on. Facts this reader rests on (see shared design TELEGRAM.md):

- A single-chat export has ``messages`` at the top; a full-account export has ``chats.list[]``
  (and ``left_chats.list[]``), each with its own ``messages``.
- ``date`` is the local time of the exporting machine; ``date_unixtime`` is the real instant.
- ``photo`` / ``file`` are paths relative to the export folder, or a placeholder sentence
  ("(File not included. ...)") when the media was not exported.
- The chat ``id`` is bare; channels and supergroups take a ``-100`` prefix in Bot-API form.
- There are no Telegram media ids in an export.

Paths that would leave the export folder (``../``, absolute paths, symlinks out) are refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.domain import MediaKind, SightingSource, SourceKind
from monitor.errors import InputError

EXPORT_INDEX = "result.json"
MAX_INDEX_BYTES = 2 * 1024**3  # a result.json beyond this is refused rather than loaded

_CHANNEL_TYPES = {"public_channel", "private_channel", "public_supergroup", "private_supergroup"}
_KIND_BY_MEDIA_TYPE = {
    "sticker": MediaKind.STICKER,
    "animation": MediaKind.ANIMATION,
    "video_file": MediaKind.VIDEO,
    "video_message": MediaKind.VIDEO,
}


@dataclass(frozen=True, slots=True)
class ExportMedia:
    path: Path
    source: SightingSource


@dataclass(frozen=True, slots=True)
class ExportProblem:
    """A media reference that cannot be scanned (not exported, outside the folder, missing)."""

    chat_id: int | None
    message_id: int | None
    reference: str
    reason: str


def is_desktop_export(folder: Path) -> bool:
    return (folder / EXPORT_INDEX).is_file()


def read_desktop_export(folder: Path) -> tuple[list[ExportMedia], list[ExportProblem]]:
    """Every media item the export references, with where and when it was posted."""
    folder = folder.resolve()
    index = folder / EXPORT_INDEX
    try:
        size = index.stat().st_size
        if size > MAX_INDEX_BYTES:
            raise InputError(f"{index}: {size} bytes is more than this reader accepts")
        with index.open("rb") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise InputError(f"{folder}: no {EXPORT_INDEX}; not a Telegram Desktop export") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{index}: not valid JSON ({exc})") from None
    except RecursionError:
        raise InputError(f"{index}: JSON nested too deeply") from None
    except OSError as exc:
        raise InputError(f"{index}: cannot be read ({exc.strerror})") from None
    if not isinstance(data, dict):
        raise InputError(f"{index}: expected a JSON object at the top")

    media: list[ExportMedia] = []
    problems: list[ExportProblem] = []
    for chat in _chats(data, index):
        _read_chat(folder, chat, media, problems)
    return media, problems


def _chats(data: dict[str, Any], index: Path) -> Iterator[dict[str, Any]]:
    if isinstance(data.get("messages"), list):
        yield data
        return
    found = False
    for section in ("chats", "left_chats"):
        block = data.get(section)
        chats = block.get("list") if isinstance(block, dict) else None
        if isinstance(chats, list):
            found = True
            yield from (c for c in chats if isinstance(c, dict))
    if not found:
        raise InputError(f"{index}: no 'messages' and no 'chats.list': not a chat export")


def bot_api_chat_id(bare_id: Any, chat_type: str | None) -> int | None:
    if isinstance(bare_id, bool) or not isinstance(bare_id, int):
        return None
    if chat_type in _CHANNEL_TYPES and bare_id > 0:
        return int(f"-100{bare_id}")
    if chat_type in ("private_group",) and bare_id > 0:
        return -bare_id
    return bare_id


def _read_chat(
    folder: Path, chat: dict[str, Any], media: list[ExportMedia], problems: list[ExportProblem]
) -> None:
    chat_type = chat.get("type") if isinstance(chat.get("type"), str) else None
    bare_id = chat.get("id")
    chat_id = bot_api_chat_id(bare_id, chat_type)
    title = chat.get("name") if isinstance(chat.get("name"), str) else None
    for msg in chat.get("messages") or []:
        if not isinstance(msg, dict) or msg.get("type", "message") != "message":
            continue
        message_id = msg.get("id") if isinstance(msg.get("id"), int) else None
        for field, kind in (("photo", MediaKind.PHOTO), ("file", None)):
            ref = msg.get(field)
            if not isinstance(ref, str) or not ref:
                continue
            media_kind = kind or _file_kind(msg)
            path = _inside(folder, ref)
            if path is None:
                reason = "not exported" if ref.startswith("(") else "path leaves the export folder"
                problems.append(ExportProblem(chat_id, message_id, ref, reason))
                continue
            if not path.is_file():
                problems.append(ExportProblem(chat_id, message_id, ref, "file missing"))
                continue
            media.append(
                ExportMedia(
                    path=path,
                    source=SightingSource(
                        kind=SourceKind.DESKTOP_EXPORT,
                        key=f"export:{chat_id}:{message_id}:{ref}",
                        path=str(path),
                        chat_id=chat_id,
                        chat_title=title,
                        message_id=message_id,
                        media_kind=media_kind,
                        posted_at=_posted_at(msg),
                        link=_link(chat_id, chat_type, message_id),
                        forward_from_name=_str(msg.get("forwarded_from")),
                    ),
                )
            )


def _inside(folder: Path, ref: str) -> Path | None:
    if ref.startswith("(") or "\x00" in ref:
        return None
    candidate = Path(ref)
    if candidate.is_absolute():
        return None
    resolved = (folder / candidate).resolve()
    return resolved if resolved.is_relative_to(folder) else None


def _file_kind(msg: dict[str, Any]) -> MediaKind:
    media_type = msg.get("media_type")
    if isinstance(media_type, str) and media_type in _KIND_BY_MEDIA_TYPE:
        return _KIND_BY_MEDIA_TYPE[media_type]
    mime = msg.get("mime_type")
    if isinstance(mime, str) and mime.startswith("image/"):
        return MediaKind.IMAGE
    if isinstance(mime, str) and mime.startswith("video/"):
        return MediaKind.VIDEO
    return MediaKind.OTHER


def _posted_at(msg: dict[str, Any]) -> datetime | None:
    raw = msg.get("date_unixtime")
    try:
        return datetime.fromtimestamp(int(raw), tz=UTC) if raw is not None else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _link(chat_id: int | None, chat_type: str | None, message_id: int | None) -> str | None:
    # An export carries no username, so only the members-only form can be built.
    if chat_id is None or message_id is None or chat_type not in _CHANNEL_TYPES:
        return None
    return f"https://t.me/c/{str(chat_id).removeprefix('-100')}/{message_id}"


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
