"""The loopback playground (``python -m tests.telegram_server``): files, config, hash list, and
posts arriving in ``@demo_feed`` for a real Telethon client aimed at the written host and port."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telethon import TelegramClient, events, functions
from telethon.crypto import rsa as telethon_rsa
from telethon.sessions import MemorySession

from monitor.config import HashingSettings, load_settings
from monitor.domain import HashType
from monitor.hashing import compute_signals
from monitor.matching import read_hash_list
from tests.telegram_server import playground
from tests.telegram_server.playground import serve

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 15


def _distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[Path, str]]:
    """``serve()`` in a task (a post every 0.15 s): yields the folder and what it printed."""
    directory = tmp_path / "loopback"
    ready, stop, out = asyncio.Event(), asyncio.Event(), io.StringIO()
    task = asyncio.create_task(serve(directory, interval=0.15, ready=ready, stop=stop, out=out))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiter}, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()  # raises what stopped it
    assert ready.is_set(), "playground did not start"
    try:
        yield directory, out.getvalue()
    finally:
        stop.set()
        pg = await asyncio.wait_for(task, TIMEOUT)
        assert not pg.world.handler_errors, "test server handlers crashed"


async def test_files_config_hash_list_and_live_posts(
    running: tuple[Path, str],
) -> None:
    directory, text = running
    for name in ("server.pem", "monitor.toml", "reported.csv", "invite.txt"):
        assert (directory / name).is_file(), name

    settings = load_settings(directory / "monitor.toml", env={})
    tg = settings.telegram
    assert settings.data_dir == directory.resolve()
    assert settings.database_url == f"sqlite+aiosqlite:///{directory.resolve()}/monitor.sqlite3"
    assert (tg.api_id, tg.api_hash) == (1, "loopback-test-only-0000000000000")
    assert (tg.join_interval, tg.reconcile_interval) == (1.0, 30.0)
    assert (tg.server.host, tg.server.dc_id) == ("127.0.0.1", 2)
    assert tg.server.public_key == directory.resolve() / "server.pem"
    assert (settings.logging.level, settings.alerts.chat) == ("info", "me")

    entries = read_hash_list(directory / "reported.csv")
    assert [(e.hash_type, e.case_id) for e in entries] == [
        (HashType.PDQ, "demo-case-1"),
        (HashType.PDQ, "demo-case-2"),
        (HashType.PDQ, "demo-case-3"),
    ]
    invite = (directory / "invite.txt").read_text(encoding="utf-8").strip()
    assert invite.startswith("https://t.me/+")
    config = f"monitor --config {directory.resolve()}/monitor.toml"
    for command in (
        f"{config} login --phone +15550100",
        f"{config} lists import {directory.resolve()}/reported.csv --bank reported",
        f"{config} channels add @demo_feed",
        f'{config} channels add "$(cat {directory.resolve()}/invite.txt)"',
        f"{config} run\n",
        f"{config} run --once",
    ):
        assert command in text, command

    # A client aimed only by what was written: the key file, host, port and DC of the config.
    telethon_rsa.add_key(tg.server.public_key.read_text(encoding="ascii"), old=False)
    session = MemorySession()
    session.set_dc(tg.server.dc_id, tg.server.host, tg.server.port)
    client = TelegramClient(
        session, tg.api_id, tg.api_hash, connection_retries=1, retry_delay=0, timeout=5
    )
    arrived: asyncio.Queue[events.NewMessage.Event] = asyncio.Queue()
    client.add_event_handler(arrived.put, events.NewMessage(chats="demo_feed"))
    try:
        await asyncio.wait_for(
            client.start(phone="+15550100", code_callback=lambda: "12345"), TIMEOUT
        )
        me = await client.get_me()
        assert me.first_name == "Monitor"
        feed = await client.get_entity("demo_feed")
        assert feed.title == "Demo feed"
        before = await client.get_messages(feed, limit=100)  # a public channel: no need to join
        assert {1, 2, 3} <= {m.id for m in before if m.photo}  # posted before anything connected
        await client(functions.channels.JoinChannelRequest(feed))  # for its pushes
        # Three consecutive live posts: one of them (every third) is a reported photo.
        live = [await asyncio.wait_for(arrived.get(), 5) for _ in range(3)]
        photos = [await asyncio.wait_for(e.message.download_media(bytes), 5) for e in live]
    finally:
        await client.disconnect()
    ids = [event.message.id for event in live]
    assert ids == list(range(ids[0], ids[0] + 3))
    assert min(ids) > max(m.id for m in before)

    hashing = HashingSettings()
    listed = [e.value for e in entries]
    matches = []
    for data in photos:
        pdq = compute_signals(data, hashing).pdq
        assert pdq is not None
        matches.append(min(_distance(pdq, value) for value in listed))
    assert sum(d <= 31 for d in matches) == 1, matches  # the reported one, by PDQ
    assert all(d > 64 for d in matches if d > 31), matches  # unrelated ones are far off


async def test_live_posts_stop_after_posts(tmp_path: Path) -> None:
    ready, stop, out = asyncio.Event(), asyncio.Event(), io.StringIO()
    task = asyncio.create_task(
        serve(tmp_path / "pg", interval=0.05, posts=3, ready=ready, stop=stop, out=out)
    )
    await asyncio.wait_for(ready.wait(), TIMEOUT)
    for _ in range(200):
        if "still serving" in out.getvalue():
            break
        await asyncio.sleep(0.05)
    stop.set()
    pg = await asyncio.wait_for(task, TIMEOUT)
    assert [photo.reported is not None for _, photo in pg.live_posts] == [False, False, True]
    msg_id, photo = pg.live_posts[2]
    assert f"@demo_feed message {msg_id}: REPORTED (demo-case-1" in out.getvalue()
    assert photo.quality != playground.REPORTED_QUALITY  # re-encoded: another SHA-256
    assert len(pg.feed.messages) == 6  # 3 before anything connected, 3 live


async def test_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not made by the playground"):
        await serve(tmp_path, out=io.StringIO())
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]  # nothing written or removed


async def test_command_line_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.telegram_server",
        "--dir",
        str(tmp_path / "cli"),
        "--interval",
        "0.05",
        "--posts",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    try:
        lines: list[bytes] = []
        while b"still serving" not in b"".join(lines):
            line = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
            assert line, b"".join(lines).decode()
            lines.append(line)
        proc.send_signal(signal.SIGINT)
        rest, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert b"Stopped after 1 live post(s)." in rest
    assert (tmp_path / "cli" / "monitor.toml").is_file()
