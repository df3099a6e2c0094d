"""A loopback MTProto server for testing the real Telethon client offline.

See ``server.TelegramTestServer`` (entry point), ``world.World`` (scenario API) and
``docs``-style notes in ``README.md`` beside this file.
"""

from .errors import RpcError
from .models import ChannelRecord, SentMessage, UserRecord
from .rsa_key import ServerRsaKey, generate_key, register_with_telethon
from .server import TEST_API_HASH, TEST_API_ID, TelegramTestServer
from .world import DEFAULT_CODE, World

__all__ = [
    "DEFAULT_CODE",
    "TEST_API_HASH",
    "TEST_API_ID",
    "ChannelRecord",
    "RpcError",
    "SentMessage",
    "ServerRsaKey",
    "TelegramTestServer",
    "UserRecord",
    "World",
    "generate_key",
    "register_with_telethon",
]
