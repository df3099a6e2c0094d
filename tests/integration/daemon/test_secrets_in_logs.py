"""No secret reaches a log line, the console or a file: the real `monitor run` in a child process
at log level DEBUG with JSON logs, every secret the config knows set and used on the wire.

* ``telegram.api_hash``, and the session's auth key (made at login, kept in the store);
* ``telegram.proxy.password``: the daemon reaches the loopback Telegram server through a local
  SOCKS5 proxy that demands it (``telegram.proxy.secret`` is MTProxy's, which needs an MTProxy
  server: set where a config allows it, see ``test_cli_commands...``);
* ``alerts.webhook_url`` with credentials (user info, a path and a query token) and
  ``alerts.webhook_secret``: a local receiver refuses the first POST (a logged failure), then
  takes the hit's alert;
* ``alerts.bot_token``: the Bot API URL points at a closed port (connection errors are logged,
  and kept with the delivery in the store);
* a PostgreSQL URL with a password (``database.url``), given to CLI commands: reachable (the
  test server trusts local connections whatever the password) and unreachable (an error).

Each secret is looked for as it is, URL-encoded both ways, and - for URLs - part by part, in the
captured stdout and stderr and in every file under the test's folder but the private config.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from sqlalchemy.engine import make_url

from tests.integration.daemon.harness import Env, eventually

API_HASH = "a9c4e1f07b3d52869e0f1a2b3c4d5e6f"
PROXY_USER = "proxy-user"
PROXY_PASSWORD = "pr0xy/pa55 w0rd!"
BOT_TOKEN = "7123456789:AAH-b0t-T0ken_xyz"
WEBHOOK_USER = "hookuser"
WEBHOOK_PASSWORD = "h00k-pa55w0rd"
WEBHOOK_PATH_TOKEN = "p4th-t0ken-123"
WEBHOOK_QUERY_TOKEN = "qu3ry-t0ken-456"
WEBHOOK_SECRET = "hmac-5ecret-789"
DB_PASSWORD = "db-pa55w0rd-012"
MTPROXY_SECRET = "dd0123456789abcdef0123456789abcdef"


def _forms(secret: str) -> set[str]:
    """A secret as it is and URL-encoded (path and form style)."""
    return {secret, quote(secret, safe=""), quote_plus(secret)}


def _needles(values: dict[str, str]) -> dict[str, str]:
    """Every form of every secret -> the secret's name."""
    out: dict[str, str] = {}
    for name, value in values.items():
        for form in _forms(value):
            out[form] = name
    return out


def _leaks(text: bytes, needles: dict[str, str]) -> list[str]:
    return sorted({name for needle, name in needles.items() if needle.encode() in text})


def _file_leaks(root: Path, needles: dict[str, str], *, private: set[Path]) -> dict[str, list[str]]:
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path not in private:
            leaks = _leaks(path.read_bytes(), needles)
            if leaks:
                found[str(path.relative_to(root))] = leaks
    return found


# --- local servers ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def socks5_proxy(username: str, password: str) -> AsyncIterator[dict[str, Any]]:
    """A SOCKS5 proxy (RFC 1928) with username/password authentication (RFC 1929)."""
    state: dict[str, Any] = {"authenticated": 0, "refused": 0}

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            _, count = await reader.readexactly(2)
            methods = await reader.readexactly(count)
            if 2 not in methods:
                writer.write(b"\x05\xff")
                return
            writer.write(b"\x05\x02")
            _, user_len = await reader.readexactly(2)
            user = await reader.readexactly(user_len)
            (pw_len,) = await reader.readexactly(1)
            given = await reader.readexactly(pw_len)
            if (user, given) != (username.encode(), password.encode()):
                state["refused"] += 1
                writer.write(b"\x01\x01")
                return
            state["authenticated"] += 1
            writer.write(b"\x01\x00")
            _, _, _, kind = await reader.readexactly(4)
            if kind == 1:
                host = socket.inet_ntoa(await reader.readexactly(4))
            elif kind == 3:
                (length,) = await reader.readexactly(1)
                host = (await reader.readexactly(length)).decode()
            else:
                host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
            port = int.from_bytes(await reader.readexactly(2), "big")
            up_reader, up_writer = await asyncio.open_connection(host, port)
            writer.write(b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")
            await writer.drain()
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state["port"] = server.sockets[0].getsockname()[1]
    async with server:
        yield state
        server.close()


@contextlib.asynccontextmanager
async def webhook_receiver() -> AsyncIterator[dict[str, Any]]:
    """JSON POSTs recorded with their headers; the first one is refused with 503."""
    state: dict[str, Any] = {"received": [], "refused": 0}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        if not state["refused"]:
            state["refused"] += 1
            writer.write(b"HTTP/1.1 503 Busy\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        else:
            state["received"].append({"target": lines[0], "headers": headers, "body": body})
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state["port"] = server.sockets[0].getsockname()[1]
    async with server:
        yield state
        server.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _cli(env: Env, *args: str) -> tuple[int, bytes]:
    """A `monitor` command in a child process: its exit code and stdout + stderr."""
    proc = await env.spawn("--log-level", "debug", *args)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out + err


async def _auth_key(env: Env) -> bytes:
    async with env.store() as store:
        data = await store.load_session(env.settings.telegram.session)
    assert data is not None
    assert data.auth_key
    return bytes(data.auth_key)


def _key_needles(key: bytes) -> dict[str, str]:
    return {
        key.hex(): "auth_key",
        key.hex().upper(): "auth_key",
        base64.b64encode(key).decode(): "auth_key",
        base64.urlsafe_b64encode(key).decode(): "auth_key",
        key[:64].hex(): "auth_key",  # a part of it
    }


async def test_a_daemon_run_logs_and_writes_no_secret(env: Env) -> None:
    auth_key = await _auth_key(env)
    await env.list_photos(1)
    channel = env.world.create_channel("feed", "Feed", members=[env.user])
    env.world.post_photo(channel, env.listed[1])
    await env.watch("@feed")
    async with socks5_proxy(PROXY_USER, PROXY_PASSWORD) as proxy, webhook_receiver() as hook:
        webhook_url = (
            f"http://{WEBHOOK_USER}:{WEBHOOK_PASSWORD}@127.0.0.1:{hook['port']}"
            f"/hook/{WEBHOOK_PATH_TOKEN}?key={WEBHOOK_QUERY_TOKEN}"
        )
        env.configure(
            logging={"level": "debug", "format": "json"},
            telegram={"api_hash": API_HASH, "hash_workers": 1},
            **{
                "telegram.proxy": {
                    "type": "socks5",
                    "host": "127.0.0.1",
                    "port": proxy["port"],
                    "username": PROXY_USER,
                    "password": PROXY_PASSWORD,
                }
            },
            alerts={
                "webhook_url": webhook_url,
                "webhook_secret": WEBHOOK_SECRET,
                "bot_token": BOT_TOKEN,
                "bot_chat": "-1001234567890",
                "bot_api_url": f"http://127.0.0.1:{_closed_port()}",
                "retry_initial": 0.2,
                "retry_max": 0.5,
                "max_attempts": 3,
                "timeout": 2.0,
            },
        )
        proc = await env.spawn("run")
        try:
            await eventually(lambda: hook["received"], seconds=60)

            async def bot_given_up() -> bool:
                async with env.store() as store:
                    return bool((await store.alert_counts()).get("failed"))

            await eventually(bot_given_up, seconds=30)
            os.killpg(proc.pid, signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proxy["authenticated"] >= 1  # the proxy password was used (on the wire only)
        assert not proxy["refused"]
    assert proc.returncode == 0, err.decode()[-3000:]
    lines = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    events = {line["event"] for line in lines}
    # The paths that could leak were taken: a hit, the webhook refused then taking the alert,
    # the bot unreachable until given up.
    assert {"hit", "daemon_started", "daemon_stopped"} <= events
    assert any(line["level"] == "info" for line in lines)  # (the monitor has few debug lines)
    failures = [line for line in lines if line["level"] in ("warning", "error")]
    assert any("webhook" in json.dumps(line) for line in failures)
    assert any("bot" in json.dumps(line) for line in failures)
    (request,) = hook["received"]
    credentials = base64.b64encode(f"{WEBHOOK_USER}:{WEBHOOK_PASSWORD}".encode()).decode()
    assert request["headers"]["authorization"] == f"Basic {credentials}"
    assert WEBHOOK_PATH_TOKEN in request["target"]

    secrets = {
        "telegram.api_hash": API_HASH,
        "telegram.proxy.password": PROXY_PASSWORD,
        "alerts.bot_token": BOT_TOKEN,
        "alerts.bot_token (secret part)": BOT_TOKEN.split(":", 1)[1],
        "alerts.webhook_url": webhook_url,
        "alerts.webhook_url (password)": WEBHOOK_PASSWORD,
        "alerts.webhook_url (path token)": WEBHOOK_PATH_TOKEN,
        "alerts.webhook_url (query token)": WEBHOOK_QUERY_TOKEN,
        "alerts.webhook_url (basic auth)": credentials,
        "alerts.webhook_secret": WEBHOOK_SECRET,
    }
    needles = _needles(secrets) | _key_needles(auth_key)
    in_config = set(secrets) - {"alerts.webhook_url (basic auth)"}
    assert set(_leaks(env.config_path.read_bytes(), needles)) == in_config  # the search works
    assert _leaks(out + err, needles) == []
    # Files: the store holds the session's auth key (it must: that is the session), nothing else.
    file_needles = _needles(secrets)
    assert _file_leaks(env.tmp, file_needles, private={env.config_path}) == {}
    assert (
        _file_leaks(env.tmp, _key_needles(auth_key), private={env.config_path, env.database_path})
        == {}
    )


async def test_cli_commands_print_no_secret(env: Env, postgres_server_url: str | None) -> None:
    auth_key = await _auth_key(env)
    await env.list_photos(1)
    channel = env.world.create_channel("feed", "Feed", members=[env.user])
    env.world.post_photo(channel, env.listed[1])
    await env.watch("@feed")
    webhook_url = f"http://{WEBHOOK_USER}:{WEBHOOK_PASSWORD}@127.0.0.1:{_closed_port()}/h"
    secrets = {
        "telegram.api_hash": API_HASH,
        "telegram.proxy.secret": MTPROXY_SECRET,
        "alerts.bot_token": BOT_TOKEN,
        "alerts.webhook_url": webhook_url,
        "alerts.webhook_url (password)": WEBHOOK_PASSWORD,
        "alerts.webhook_secret": WEBHOOK_SECRET,
        "database.url (password)": DB_PASSWORD,
    }
    needles = _needles(secrets) | _key_needles(auth_key)
    configured: dict[str, dict[str, Any]] = {
        "logging": {"level": "debug", "format": "json"},
        "telegram": {"api_hash": API_HASH},
        "alerts": {
            "webhook_url": webhook_url,
            "webhook_secret": WEBHOOK_SECRET,
            "bot_token": BOT_TOKEN,
            "bot_chat": "-1001234567890",
            "bot_api_url": f"http://127.0.0.1:{_closed_port()}",
            "max_attempts": 1,
            "timeout": 2.0,
        },
    }
    env.configure(**configured)
    outputs: dict[str, bytes] = {}
    for args in (
        ("run", "--once"),
        ("whoami",),
        ("channels", "list"),
        ("hits", "list"),
        ("hits", "show", "1"),
        ("stats",),
        ("db", "current"),
        ("--help",),
    ):
        code, output = await _cli(env, *args)
        assert code == 0, output.decode()[-2000:]
        outputs[" ".join(args)] = output
    assert b"case-1" in outputs["hits show 1"]
    # An MTProxy secret: the config is accepted, the daemon cannot reach the (absent) proxy.
    mtproxy = {"type": "mtproxy", "host": "127.0.0.1", "port": _closed_port()}
    env.configure(**configured, **{"telegram.proxy": {**mtproxy, "secret": MTPROXY_SECRET}})
    code, output = await _cli(env, "run", "--once")
    assert code != 0
    outputs["run --once (mtproxy)"] = output
    # A PostgreSQL URL with a password: unreachable (an error), and reachable when there is one.
    closed = f"postgresql+asyncpg://monitor:{DB_PASSWORD}@127.0.0.1:{_closed_port()}/monitor"
    env.configure(**configured, database={"url": closed})
    for args in (("hits", "list"), ("db", "current")):
        code, output = await _cli(env, *args)
        assert code != 0
        assert b"127.0.0.1" in output  # the error says where
        outputs[" ".join(args) + " (unreachable)"] = output
    if postgres_server_url is not None:
        with_password = make_url(postgres_server_url).set(password=DB_PASSWORD)
        env.configure(
            **configured, database={"url": with_password.render_as_string(hide_password=False)}
        )
        code, output = await _cli(env, "db", "current")
        assert code == 0, output.decode()[-2000:]
        outputs["db current (postgresql)"] = output
    # The search works: the (private) config holds every secret but the MTProxy one by now.
    assert set(_leaks(env.config_path.read_bytes(), needles)) == set(secrets) - {
        "telegram.proxy.secret"
    }
    leaks = {cmd: _leaks(output, needles) for cmd, output in outputs.items()}
    assert {cmd: found for cmd, found in leaks.items() if found} == {}
