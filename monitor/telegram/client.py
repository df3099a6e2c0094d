"""Building the Telethon client from the settings, on a session kept in the store.

``open_session`` loads (or starts) the session named ``telegram.session``; ``build_client`` makes
the ``TelegramClient``: API id and hash, a test server and its RSA key when configured, a proxy,
and the retry policy below. ``connect`` connects and turns failures into the monitor's errors.

Retry policy (Telethon's knobs):

- ``request_retries=5``: a request that fails with a server-side error (500, timeouts,
  ``RPC_CALL_FAIL``) is retried up to 5 times; our own code sees only what is left after that.
- ``connection_retries=5``, ``retry_delay=2``: a connection (first connect and every automatic
  reconnect) is attempted 5 times, 2 s apart, before Telethon gives up and the error reaches us
  (a daemon then stops with exit 7 instead of hanging silently; its supervisor restarts it).
- ``auto_reconnect=True``: a dropped connection is re-established by Telethon itself.
- ``timeout=10``: seconds to connect and to wait for a single response.
- flood waits up to ``telegram.flood_sleep_threshold`` seconds are slept through by Telethon; a
  longer one raises ``FloodWaitError`` (see ``errors.to_monitor_error``).
- ``catch_up=True`` (the daemon): the stored update state is loaded at connect and the missed
  updates are fetched (getDifference / getChannelDifference). Without it Telethon ignores the
  stored pts and starts from "now". One-shot commands pass ``catch_up=False`` and
  ``receive_updates=False``.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import rsa
from telethon import TelegramClient
from telethon.crypto import rsa as tg_rsa
from telethon.network import ConnectionTcpFull, ConnectionTcpMTProxyRandomizedIntermediate

import monitor
from monitor.config import ProxySettings, ServerSettings, TelegramSettings
from monitor.errors import ConfigError
from monitor.logs import get_logger
from monitor.telegram.errors import to_monitor_error
from monitor.telegram.session import SessionStore, StoreSession

log = get_logger(__name__)

REQUEST_RETRIES = 5
CONNECTION_RETRIES = 5
RETRY_DELAY = 2
TIMEOUT = 10


async def open_session(
    store: SessionStore, settings: TelegramSettings, *, persist_updates: bool = True
) -> StoreSession:
    """The session named ``settings.session``: as stored, or new (written on its first flush)."""
    return await StoreSession.load(store, settings.session, persist_updates=persist_updates)


def build_client(
    settings: TelegramSettings,
    session: StoreSession,
    *,
    catch_up: bool = True,
    receive_updates: bool = True,
    connection_retries: int = CONNECTION_RETRIES,
    retry_delay: int = RETRY_DELAY,
    timeout: int = TIMEOUT,
) -> TelegramClient:
    """A ``TelegramClient`` (not connected) on ``session``, configured from ``settings``."""
    if not settings.api_id:
        raise ConfigError(
            "telegram.api_id",
            "is not set: create one at https://my.telegram.org (or set MONITOR_TELEGRAM_API_ID)",
        )
    if not settings.api_hash:
        raise ConfigError(
            "telegram.api_hash",
            "is not set: it comes with the API id (or set MONITOR_TELEGRAM_API_HASH)",
        )
    use_ipv6 = False
    if settings.server.host:
        register_public_key(settings.server)
        _point_at_server(session, settings.server)
        use_ipv6 = ":" in (session.server_address or "")
    connection, proxy = proxy_options(settings.proxy)
    crypto = crypto_backend()
    if crypto != "cryptg":
        log.warning(
            "telegram_crypto_slow",
            backend=crypto,
            hint="install cryptg (a dependency of the monitor): every byte from Telegram is "
            "decrypted in the daemon's event loop",
        )
    return TelegramClient(
        session,
        settings.api_id,
        settings.api_hash,
        connection=connection,
        proxy=proxy,
        use_ipv6=use_ipv6,
        timeout=timeout,
        request_retries=REQUEST_RETRIES,
        connection_retries=connection_retries,
        retry_delay=retry_delay,
        auto_reconnect=True,
        sequential_updates=False,
        flood_sleep_threshold=settings.flood_sleep_threshold,
        device_model=settings.device_model,
        system_version=f"{platform.system()} {platform.release()}".strip() or "unknown",
        app_version=monitor.__version__,
        lang_code="en",
        system_lang_code="en",
        receive_updates=receive_updates,
        catch_up=catch_up,
    )


def crypto_backend() -> str:
    """What Telethon encrypts MTProto with: ``cryptg`` (a dependency: C, the fast one),
    ``libssl`` (OpenSSL through ctypes) or ``python`` (pyaes: a download of a photo then costs
    milliseconds of CPU in the event loop)."""
    from telethon.crypto import aes, libssl

    if aes.cryptg is not None:
        return "cryptg"
    if libssl.encrypt_ige and libssl.decrypt_ige:
        return "libssl"
    return "python"


def register_public_key(server: ServerSettings) -> None:
    """Teach Telethon the RSA key of the configured server (PKCS#1 or SubjectPublicKeyInfo PEM)."""
    path = server.public_key
    if path is None:
        return  # a server whose key Telethon already knows (e.g. Telegram's test DCs)
    tg_rsa.add_key(_read_public_key(path), old=False)


def _read_public_key(path: Path) -> bytes:
    key = "telegram.server.public_key"
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(key, f"file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(key, f"file {path} cannot be read: {exc.strerror or exc}") from None
    try:
        if b"BEGIN RSA PUBLIC KEY" in pem:
            parsed = rsa.PublicKey.load_pkcs1(pem)
        else:
            parsed = rsa.PublicKey.load_pkcs1_openssl_pem(pem)
    except Exception:  # rsa raises ValueError, pyasn1 errors, IndexError ... on bad input
        raise ConfigError(
            key, f"file {path} is not an RSA public key in PEM format (BEGIN RSA PUBLIC KEY)"
        ) from None
    pkcs1: bytes = parsed.save_pkcs1()
    return pkcs1


def _point_at_server(session: StoreSession, server: ServerSettings) -> None:
    target = (server.dc_id, server.host, server.port)
    current = (session.dc_id, session.server_address, session.port)
    if session.auth_key is None:
        if current != target:
            session.set_dc(*target)
        return
    if current != target:
        # A key made through this server, then moved by Telegram to another DC, is normal; a
        # key for another server entirely needs `monitor logout` and `monitor login`.
        log.warning(
            "telegram_session_server_differs",
            session_name=session.name,
            stored=f"DC {current[0]} {current[1]}:{current[2]}",
            configured=f"DC {target[0]} {target[1]}:{target[2]}",
            note="the stored login is used; the configured server only for new logins",
        )


def proxy_options(proxy: ProxySettings) -> tuple[type[Any], Any]:
    """The ``(connection, proxy)`` arguments of ``TelegramClient`` for the configured proxy."""
    if not proxy.type:
        return ConnectionTcpFull, None
    if proxy.type == "mtproxy":
        # Telethon strips an "ee"/"dd" prefix itself; the randomized-intermediate codec works
        # with plain and "dd" secrets.
        return ConnectionTcpMTProxyRandomizedIntermediate, (proxy.host, proxy.port, proxy.secret)
    # socks5, socks4, http: Telethon hands this to python-socks (Proxy.create); rdns resolves
    # Telegram's addresses on the proxy.
    return ConnectionTcpFull, {
        "proxy_type": proxy.type,
        "addr": proxy.host,
        "port": proxy.port,
        "username": proxy.username or None,
        "password": proxy.password or None,
        "rdns": True,
    }


def server_address(client_or_session: Any) -> str:
    """``host:port`` of the server a client (or session) talks to, for messages."""
    session = getattr(client_or_session, "session", client_or_session)
    if session is None:
        return "Telegram"
    return f"{session.server_address or 'Telegram'}:{session.port or 443}"


async def connect(client: TelegramClient) -> None:
    """Connect (no-op if connected). Failures become ``TelegramError``/``SessionRevoked``."""
    if client.is_connected():
        return
    session = client.session
    name = getattr(session, "name", "default")
    try:
        await client.connect()
    except Exception as exc:
        raise to_monitor_error(exc, address=server_address(session), session=name) from None


async def disconnect(client: TelegramClient, session: StoreSession) -> None:
    """Disconnect (Telethon hands over its last update states and entities), then flush."""
    try:
        await client.disconnect()  # also after a dropped connection: saves the update state
    finally:
        await session.flush()
