"""build_client: settings into a TelegramClient (not connected), config errors named by key."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import rsa
from telethon.crypto import AuthKey
from telethon.crypto import rsa as tg_rsa
from telethon.network import ConnectionTcpFull, ConnectionTcpMTProxyRandomizedIntermediate

import monitor
from monitor.config import ProxySettings, ServerSettings, TelegramSettings
from monitor.errors import ConfigError
from monitor.telegram.client import build_client, open_session, proxy_options, server_address
from monitor.telegram.session import StoreSession
from tests.unit.telegram.fake_session_store import FakeSessionStore

SETTINGS = TelegramSettings(api_id=1, api_hash="b" * 32, flood_sleep_threshold=42)


@pytest.fixture(scope="module")
def public_key() -> rsa.PublicKey:
    return rsa.newkeys(512)[0]


def session() -> StoreSession:
    return StoreSession(FakeSessionStore(), "default")


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        (replace(SETTINGS, api_id=0), "telegram.api_id"),
        (replace(SETTINGS, api_hash=""), "telegram.api_hash"),
    ],
)
def test_missing_api_credentials_name_the_key(settings: TelegramSettings, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_client(settings, session())
    assert info.value.key == key
    assert info.value.exit_code == 3


def test_client_options() -> None:
    client = build_client(SETTINGS, session())
    assert client.flood_sleep_threshold == 42
    assert client._catch_up is True
    assert client._no_updates is False
    assert client._sequential_updates is False
    assert client._auto_reconnect is True
    assert client._request_retries == 5
    init = client._init_request
    assert init.device_model == "telegram-hash-monitor"
    assert init.app_version == monitor.__version__
    assert init.system_version
    assert init.api_id == 1
    assert client._proxy is None
    assert client._connection is ConnectionTcpFull


def test_one_shot_options() -> None:
    client = build_client(SETTINGS, session(), catch_up=False, receive_updates=False)
    assert client._catch_up is False
    assert client._no_updates is True


def test_custom_server_points_a_new_session_at_it(
    tmp_path: Path, public_key: rsa.PublicKey
) -> None:
    pem = tmp_path / "server.pem"
    pem.write_bytes(public_key.save_pkcs1())
    settings = replace(
        SETTINGS, server=ServerSettings(host="127.0.0.1", port=4430, dc_id=3, public_key=pem)
    )
    s = session()
    build_client(settings, s)
    assert (s.dc_id, s.server_address, s.port) == (3, "127.0.0.1", 4430)
    assert tg_rsa._compute_fingerprint(public_key) in tg_rsa._server_keys
    assert server_address(s) == "127.0.0.1:4430"


def test_openssl_style_public_key_is_accepted(tmp_path: Path, public_key: rsa.PublicKey) -> None:
    pem = tmp_path / "server.pem"
    pem.write_bytes(_spki_pem(public_key))
    settings = replace(SETTINGS, server=ServerSettings(host="127.0.0.1", public_key=pem))
    build_client(settings, session())
    assert tg_rsa._compute_fingerprint(public_key) in tg_rsa._server_keys


def _spki_pem(key: rsa.PublicKey) -> bytes:
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    loaded = serialization.load_pem_public_key(key.save_pkcs1())
    pem: bytes = loaded.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    return pem


def test_a_stored_key_keeps_its_dc(tmp_path: Path) -> None:
    s = session()
    s.set_dc(4, "127.0.0.9", 443)  # e.g. migrated by the server after login
    s.auth_key = AuthKey(b"k" * 256)
    settings = replace(SETTINGS, server=ServerSettings(host="127.0.0.1", port=4430, dc_id=2))
    build_client(settings, s)
    assert (s.dc_id, s.server_address, s.port) == (4, "127.0.0.9", 443)
    assert s.auth_key is not None


@pytest.mark.parametrize(
    "content", [None, b"", b"not a key", b"-----BEGIN RSA PUBLIC KEY-----\nxx\n"]
)
def test_missing_or_invalid_public_key_file(tmp_path: Path, content: bytes | None) -> None:
    pem = tmp_path / "server.pem"
    if content is not None:
        pem.write_bytes(content)
    settings = replace(SETTINGS, server=ServerSettings(host="127.0.0.1", public_key=pem))
    with pytest.raises(ConfigError) as info:
        build_client(settings, session())
    assert info.value.key == "telegram.server.public_key"
    assert str(pem) in str(info.value)


@pytest.mark.parametrize("kind", ["socks5", "socks4", "http"])
def test_socks_and_http_proxies(kind: str) -> None:
    proxy = ProxySettings(type=kind, host="10.0.0.1", port=1080, username="u", password="p")
    connection, value = proxy_options(proxy)
    assert connection is ConnectionTcpFull
    assert value == {
        "proxy_type": kind,
        "addr": "10.0.0.1",
        "port": 1080,
        "username": "u",
        "password": "p",
        "rdns": True,
    }
    # What Telethon hands to python-socks: it must accept the dict.
    parsed = ConnectionTcpFull._parse_proxy(**value)
    assert parsed[1:3] == ("10.0.0.1", 1080)
    client = build_client(replace(SETTINGS, proxy=proxy), session())
    assert client._proxy == value


def test_mtproxy() -> None:
    proxy = ProxySettings(type="mtproxy", host="10.0.0.2", port=443, secret="dd" + "ab" * 16)
    connection, value = proxy_options(proxy)
    assert connection is ConnectionTcpMTProxyRandomizedIntermediate
    assert value == ("10.0.0.2", 443, "dd" + "ab" * 16)
    assert ConnectionTcpMTProxyRandomizedIntermediate.normalize_secret(value[2]) == b"\xab" * 16
    client = build_client(replace(SETTINGS, proxy=proxy), session())
    assert client._connection is ConnectionTcpMTProxyRandomizedIntermediate
    assert client._init_request.proxy is not None  # Telethon tells Telegram about the proxy


async def test_open_session_uses_the_configured_name() -> None:
    store = FakeSessionStore()
    s = await open_session(store, replace(SETTINGS, session="second"))
    assert s.name == "second"
    assert ("load_session", "second") in store.calls
