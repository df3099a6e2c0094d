"""Allow-list references: what staff type, parsed into a ``ChannelRef``.

Accepted forms::

    @name  name  t.me/name  https://t.me/name  https://telegram.me/name  t.me/s/name
    https://t.me/name/123             (a post link: the channel is taken, the post ignored)
    https://t.me/+HASH  t.me/joinchat/HASH  tg://join?invite=HASH
    -1001234567890                    (Bot-API form)  1234567890 (bare channel id)
    https://t.me/c/1234567890/55      (a private post link: the channel id)

Pure: no Telegram, no I/O. Errors are ``InputError`` saying what was expected.
"""

from __future__ import annotations

import re

from monitor.domain import ChannelRef, RefKind
from monitor.errors import InputError

# Telegram usernames: 5-32 characters, letters, digits and underscores, starting with a letter.
# (Some old and collectible usernames are 4 characters; accept 4.)
_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_INVITE_HASH = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_HOSTS = ("t.me", "telegram.me", "telegram.dog")
# Paths on t.me that are not usernames.
_RESERVED = {"joinchat", "addstickers", "addemoji", "share", "proxy", "socks", "iv", "c", "s"}
BOT_API_PREFIX = -1_000_000_000_000


def parse_ref(text: str) -> ChannelRef:
    """Parse one allow-list reference; ``InputError`` if it is none of the accepted forms."""
    raw = text.strip()
    if not raw:
        raise InputError("empty channel reference")
    if re.fullmatch(r"-?\d+", raw):
        return ChannelRef(RefKind.ID, str(to_bot_api_id(int(raw))))
    if raw.startswith("tg://"):
        match = re.fullmatch(r"tg://join\?invite=([A-Za-z0-9_-]+)", raw)
        if match and _INVITE_HASH.match(match.group(1)):
            return ChannelRef(RefKind.INVITE, match.group(1))
        match = re.fullmatch(r"tg://resolve\?domain=([A-Za-z0-9_]+)(?:&.*)?", raw)
        if match and _USERNAME.match(match.group(1)):
            return ChannelRef(RefKind.USERNAME, match.group(1).lower())
        raise InputError(f"unsupported tg:// link {raw!r}")
    if raw.startswith("@"):
        name = raw[1:]
        if not _USERNAME.match(name):
            raise InputError(f"{raw!r} is not a valid Telegram username")
        return ChannelRef(RefKind.USERNAME, name.lower())
    link = re.sub(r"^https?://", "", raw, flags=re.I)
    host, _, path = link.partition("/")
    if host.lower().removeprefix("www.") in _HOSTS:
        return _parse_path(path.split("?", 1)[0].split("#", 1)[0].strip("/"), raw)
    if "/" not in raw and "." not in raw and _USERNAME.match(raw):
        return ChannelRef(RefKind.USERNAME, raw.lower())
    raise InputError(
        f"{raw!r} is not a channel reference: use @username, t.me/name, an invite link "
        "(t.me/+HASH or t.me/joinchat/HASH) or a numeric id"
    )


def _parse_path(path: str, raw: str) -> ChannelRef:
    parts = [p for p in path.split("/") if p]
    if not parts:
        raise InputError(f"{raw!r} names no channel")
    head = parts[0]
    if head.startswith("+") and _INVITE_HASH.match(head[1:]):
        return ChannelRef(RefKind.INVITE, head[1:])
    if head == "joinchat" and len(parts) > 1 and _INVITE_HASH.match(parts[1]):
        return ChannelRef(RefKind.INVITE, parts[1])
    if head == "c" and len(parts) > 1 and parts[1].isdigit():
        return ChannelRef(RefKind.ID, str(to_bot_api_id(int(parts[1]))))
    if head == "s" and len(parts) > 1 and _USERNAME.match(parts[1]):
        return ChannelRef(RefKind.USERNAME, parts[1].lower())
    if head.lower() not in _RESERVED and _USERNAME.match(head):
        return ChannelRef(RefKind.USERNAME, head.lower())
    raise InputError(f"{raw!r} is not a channel link")


def to_bot_api_id(value: int) -> int:
    """A channel id in Bot-API form (-100...): bare positive ids get the prefix."""
    if value > 0:
        return BOT_API_PREFIX - value
    if value == 0:
        raise InputError("0 is not a channel id")
    return value


def bare_channel_id(bot_api_id: int) -> int:
    """The id Telegram's API uses for a channel (``PeerChannel``): without the -100 prefix."""
    if bot_api_id <= BOT_API_PREFIX:
        return BOT_API_PREFIX - bot_api_id
    return abs(bot_api_id)


def message_link(chat_id: int, message_id: int, username: str | None) -> str:
    """A public post link for a channel with a username, else the members-only ``t.me/c`` form."""
    if username:
        return f"https://t.me/{username}/{message_id}"
    return f"https://t.me/c/{bare_channel_id(chat_id)}/{message_id}"
