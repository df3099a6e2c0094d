"""Request handlers: one function per TL method, registered with ``@handler``.

A handler takes ``(ctx, request)`` and returns a TL object, a list (a TL vector) or a bool, or
raises ``RpcError``. Handlers registered with ``auth=True`` (the default) first require the
connection's auth key to be logged in and not revoked.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telethon.tl import TLObject

from ..errors import RpcError, unauthorized

if TYPE_CHECKING:
    from ..models import AuthKeyRecord, UserRecord
    from ..world import World

Handler = Callable[["RequestContext", Any], Any]


@dataclass
class RequestContext:
    world: World
    auth: AuthKeyRecord
    msg_id: int

    @property
    def user(self) -> UserRecord | None:
        if self.auth.user_id is None:
            return None
        return self.world.users.get(self.auth.user_id)

    def require_user(self) -> UserRecord:
        if self.auth.revoked:
            raise RpcError(401, self.auth.revoked)
        user = self.user
        if user is None:
            raise unauthorized("AUTH_KEY_UNREGISTERED")
        return user


_HANDLERS: dict[type, tuple[Handler, bool]] = {}


def handler(*request_types: type, auth: bool = True) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for request_type in request_types:
            _HANDLERS[request_type] = (fn, auth)
        return fn

    return register


def method_name(request: TLObject | type) -> str:
    """The TL method name of a Telethon request class, e.g. ``upload.getFile``."""
    cls = request if isinstance(request, type) else type(request)
    name = cls.__name__.removesuffix("Request")
    name = name[0].lower() + name[1:]
    namespace = cls.__module__.rsplit(".", 1)[-1]
    return name if namespace == "functions" else f"{namespace}.{name}"


def lookup(request: TLObject) -> tuple[Handler, bool] | None:
    _load()
    return _HANDLERS.get(type(request))


_loaded = False


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in ("account", "messages", "channels", "updates", "upload"):
            importlib.import_module(f"{__name__}.{module}")
        _loaded = True
